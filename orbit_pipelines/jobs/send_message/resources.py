"""The door to the message receivers: named endpoints and the one POST that delivers to them."""

import json
import time
from dataclasses import dataclass

import requests
import urllib3
from dagster import ConfigurableResource
from pydantic import Field

# Only the start of an answer is kept (for the error message): an endpoint cannot flood us.
ANSWER_BYTES_KEPT = 4096


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None
    text: str
    elapsed_ms: int


class EndpointUnreachable(Exception):
    """No HTTP answer at all (refused, reset, timed out). The message names the exception class only:
    its text carries the URL, and a webhook URL is a secret."""


class MessageEndpoints(ConfigurableResource):
    """Named HTTP endpoints messages may go to: ORBIT_MESSAGE_ENDPOINTS='{"ops": "https://..."}'.

    URLs (Slack webhook URLs are secrets) come through EnvVar, so they never show in run config.
    """

    endpoints_json: str = Field(description="JSON object: endpoint name -> URL.")
    timeout_seconds: float = Field(default=10.0, description="Connect and read timeout per delivery.")
    retries: int = Field(
        default=5,
        ge=0,
        le=10,
        description="Delivery retries after 429/5xx/timeouts (the platform's schedule: 1, 3, 7, 15, 31 s, ...).",
    )

    def url_for(self, name: str) -> str | None:
        return json.loads(self.endpoints_json or "{}").get(name)

    def names(self) -> list[str]:
        return sorted(json.loads(self.endpoints_json or "{}"))

    def post(self, url: str, body: dict, idempotency_key: str) -> Answer:
        """One POST of `body`. The same key on every attempt lets a receiver drop a duplicate after a
        lost answer."""
        started = time.monotonic()
        try:
            with requests.post(
                url, json=body, timeout=self.timeout_seconds, headers={"Idempotency-Key": idempotency_key}, stream=True
            ) as response:
                text = response.raw.read(ANSWER_BYTES_KEPT, decode_content=True).decode("utf-8", "replace")
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise EndpointUnreachable(type(exc).__name__) from None
        return Answer(
            response.status_code, response.headers.get("Retry-After"), text, round((time.monotonic() - started) * 1000)
        )

import json

from dagster import ConfigurableResource
from pydantic import Field


class MessageEndpoints(ConfigurableResource):
    """Named HTTP endpoints messages may go to: ORBIT_MESSAGE_ENDPOINTS='{"ops": "https://..."}'.

    URLs (Slack webhook URLs are secrets) come through EnvVar, so they never show in run config.
    """

    endpoints_json: str = Field(description="JSON object: endpoint name -> URL.")
    timeout_seconds: float = Field(default=10.0, description="Connect and read timeout per delivery.")
    retries: int = Field(default=5, ge=0, le=10, description="Delivery retries after 429/5xx/timeouts "
                                                            "(backoff 1, 3, 7, 15, 31 s, ...).")

    def url_for(self, name: str) -> str | None:
        return json.loads(self.endpoints_json or "{}").get(name)

    def names(self) -> list[str]:
        return sorted(json.loads(self.endpoints_json or "{}"))

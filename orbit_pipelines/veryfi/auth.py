"""Veryfi's credentials on the wire: the API-key headers, the optional request signature, and keeping
every credential out of the messages an error carries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Iterable, Mapping, Optional, Union

import requests

Fields = Union[Mapping[str, Any], Iterable[tuple[str, Any]]]


def _user_agent() -> str:
    """``orbit-pipelines/<version> (+requests/<version>)``: who calls, for Veryfi's logs and support."""
    try:
        own = version("orbit_pipelines")
    except PackageNotFoundError:  # a source tree run without installing the project
        own = "unknown"
    return f"orbit-pipelines/{own} (+requests/{requests.__version__})"


USER_AGENT = _user_agent()


def sign_request(secret: str, timestamp_ms: int, fields: Fields = ()) -> str:
    """Veryfi request signature: base64(HMAC-SHA256(secret, "timestamp:<ts>,<k>:<v>,...")).

    Values are rendered with ``str()`` as the official Python SDK does. ``fields`` may be a
    mapping (a JSON body) or ordered pairs (multipart form fields, where a key may repeat).
    """
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    payload = f"timestamp:{timestamp_ms}" + "".join(f",{key}:{value}" for key, value in pairs)
    digest = hmac.new(secret.encode("utf-8"), payload.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def auth_headers(
    client_id: str, username: str, api_key: str, client_secret: Optional[str], signed_fields: Fields
) -> dict[str, str]:
    """The headers of every request; signed (timestamp and signature) when there is a client secret."""
    headers = {
        "CLIENT-ID": client_id,
        "AUTHORIZATION": f"apikey {username}:{api_key}",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if client_secret:
        timestamp = int(time.time() * 1000)
        headers["X-Veryfi-Request-Timestamp"] = str(timestamp)
        headers["X-Veryfi-Request-Signature"] = sign_request(client_secret, timestamp, signed_fields)
    return headers


def scrub_secrets(text: str, secrets: Iterable[Optional[str]]) -> str:
    """`text` with every non-empty secret replaced by ``***``."""
    # Longest first, so a username that prefixes the key cannot leave part of the key behind.
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


__all__ = ["USER_AGENT", "Fields", "auth_headers", "scrub_secrets", "sign_request"]

"""Where task events go: ORBIT_WEBHOOK_URL (one or more URLs) and ORBIT_WEBHOOK_SECRET."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from dagster import ConfigurableResource
from pydantic import Field


def parse_urls(raw: str, name: str = "ORBIT_WEBHOOK_URL") -> tuple[str, ...]:
    """Comma- or whitespace-separated http(s) URLs; a bad one is refused naming the variable."""
    urls = tuple(u for u in re.split(r"[\s,]+", raw.strip()) if u)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{name}: {url!r} is not an http(s) URL with a host")
    if len(set(urls)) != len(urls):
        raise ValueError(f"{name}: a URL is listed twice")
    return urls


class WebhookResource(ConfigurableResource):
    """Receivers of task events. Both values are read through EnvVar: URLs often carry tokens."""

    urls: str = Field(default="", description="Comma-separated receiver URLs (ORBIT_WEBHOOK_URL); empty: off.")
    secret: str = Field(default="", description="HMAC-SHA256 key for the Orbit-Signature header.")

    def receivers(self) -> tuple[str, ...]:
        return parse_urls(self.urls)

"""Following the stream as any client does, over HTTP with the bearer token: `orbit events` and the
benchmark use it. Reconnects after a dropped connection with Last-Event-ID, so nothing is missed."""

from __future__ import annotations

import time
from typing import Callable, Iterator

import requests

from orbit_pipelines.observability.stream.sse import Message, parse

CONNECT_TIMEOUT = 3.05


class StreamRefused(Exception):
    """The server answered, and not with a stream (401, 403, 404...): trying again would not help."""


def stream_url(base: str, task_id: int | None = None) -> str:
    """`http://127.0.0.1:9465` -> its stream of every task, or of one."""
    base = base.rstrip("/").removesuffix("/events")
    return f"{base}/tasks/{task_id}/events" if task_id is not None else f"{base}/events"


def open_stream(url: str, token: str, last_event_id: str | None = None, read_timeout: float = 60.0):
    """The streaming response (StreamRefused when the server says no). `read_timeout` must be longer
    than the server's heartbeat interval."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = requests.get(url, headers=headers, stream=True, timeout=(CONNECT_TIMEOUT, read_timeout))
    if response.status_code != 200:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        response.close()
        raise StreamRefused(f"HTTP {response.status_code}: {reason}")
    return response


def messages(response) -> Iterator[Message]:
    return parse(line for line in response.iter_lines(decode_unicode=True))


def follow(
    url: str,
    token: str,
    last_event_id: str | None = None,
    *,
    on_reconnect: Callable[[Exception], None] = lambda exc: None,
    reconnect_seconds: float = 2.0,
) -> Iterator[Message]:
    """Every message from `url` (after `last_event_id`), across dropped connections, until the caller
    stops iterating."""
    while True:
        try:
            response = open_stream(url, token, last_event_id)
            try:
                for message in messages(response):
                    last_event_id = message.id or last_event_id
                    yield message
            finally:
                response.close()
        except requests.RequestException as exc:
            on_reconnect(exc)
        time.sleep(reconnect_seconds)

"""The Server-Sent Events wire format (https://html.spec.whatwg.org/multipage/server-sent-events.html):
frames written by the server and parsed by clients (`orbit events`, tests, the benchmark). Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

# Sent first: how long a browser's EventSource waits before reconnecting after the stream drops.
RETRY_MILLISECONDS = 2000


def frame(event_type: str, data: str, event_id: str | None = None) -> bytes:
    """One event. `data` may span lines (each becomes its own `data:` line); without `event_id` the
    client's last event id stays as it was."""
    lines = [f"event: {event_type}"]
    lines += [f"data: {line}" for line in data.split("\n")]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def comment(text: str) -> bytes:
    """A comment line: clients ignore it; it keeps an idle connection (and proxies) from timing out."""
    return f": {text}\n\n".encode("utf-8")


def retry(milliseconds: int = RETRY_MILLISECONDS) -> bytes:
    return f"retry: {milliseconds}\n\n".encode("utf-8")


@dataclass(frozen=True)
class Message:
    """An event as a client receives it: `id` is the last event id in force when it was dispatched."""

    event: str
    data: str
    id: str | None


def parse(lines: Iterable[str]) -> Iterator[Message]:
    """Messages from a stream's decoded lines (without their line endings), as EventSource dispatches
    them: comments and retry fields are skipped, an event without data is not dispatched."""
    last_id: str | None = None
    event, data = "", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield Message(event or "message", "\n".join(data), last_id)
            event, data = "", list[str]()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value

"""The HTTP side: `GET /events` (every task's events), `GET /events?task=ID` or `/tasks/ID/events`
(one task's), behind a bearer token, as Server-Sent Events.

The standard library's ThreadingHTTPServer, not an ASGI server: each client is a thread that waits
on the listener's wake-ups and reads the ledger with the project's synchronous engine (psycopg2), the
shape of the Prometheus metrics server next to it; an event loop would need an async driver or a
thread per client anyway, for a handful of loopback clients."""

from __future__ import annotations

import hmac
import json
import logging
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from orbit_pipelines.observability.stream import sse
from orbit_pipelines.observability.stream.events import Phases, frames
from orbit_pipelines.observability.stream.listener import Listener, Wakeups
from orbit_pipelines.observability.stream.reads import EventReader

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
MAX_CLIENTS = 64
_TASK_PATH = re.compile(r"^/tasks/(\d+)/events$")


class BadRequest(Exception):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status


def _integer(raw: str, what: str) -> int:
    if not raw.isdigit():
        raise BadRequest(HTTPStatus.BAD_REQUEST, f"{what} must be a whole number, got {raw!r}")
    return int(raw)


def parse_target(path: str, last_event_id: str | None) -> tuple[int | None, int | None]:
    """(task id or None for every task, the id to resume after or None) of a request."""
    parts = urlsplit(path)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if parts.path in ("/events", "/events/"):
        task = query.get("task")
        task_id = _integer(task, "task") if task is not None else None
    elif match := _TASK_PATH.match(parts.path):
        task_id = int(match.group(1))
    else:
        raise BadRequest(HTTPStatus.NOT_FOUND, "no such stream: GET /events, /events?task=ID or /tasks/ID/events")
    # Last-Event-ID is what a reconnecting EventSource sends; `after` is for clients that cannot set it.
    resume = last_event_id if last_event_id not in (None, "") else query.get("after")
    return task_id, (_integer(resume, "Last-Event-ID") if resume is not None else None)


class EventStreamServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        engine: Engine,
        host: str,
        port: int,
        token: str,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
        max_clients: int = MAX_CLIENTS,
        phases: Phases | None = None,
    ):
        if not token:
            raise ValueError("the event stream needs a token")
        self.engine, self.token, self.heartbeat_seconds = engine, token, heartbeat_seconds
        # Each kind's {step: phase} (JobKind.phases), for the checkpoint, phase and progress events.
        self.phases: Phases = phases or {}
        self.wakeups = Wakeups()
        self.listener = Listener(engine, self.wakeups)
        # Each client is a thread: a bound keeps a runaway client from exhausting them.
        self.max_clients = max_clients
        self.clients = threading.BoundedSemaphore(max_clients)
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}/events"

    def start(self) -> "EventStreamServer":
        self.listener.start()
        threading.Thread(target=self.serve_forever, name="orbit-events-server", daemon=True).start()
        return self

    def stop(self) -> None:
        """Ends every stream (clients see the connection close and reconnect elsewhere or later)."""
        self.wakeups.close()
        self.shutdown()
        self.listener.stop()
        self.server_close()


def serve(engine: Engine, host: str, port: int, token: str, **options) -> EventStreamServer:
    """The stream server, accepting and listening in threads of its own (OSError when the port is taken)."""
    return EventStreamServer(engine, host, port, token, **options).start()


class _Handler(BaseHTTPRequestHandler):
    server: EventStreamServer
    server_version = "orbit-events/1"
    # HTTP/1.1 for chunked transfer: a client library reading a response of unknown length in blocks
    # (requests, urllib3) gets each chunk, i.e. each write, as it arrives instead of a full block.
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Small frames go out at once rather than waiting for Nagle's algorithm to batch them.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("events: %s %s", self.address_string(), format % args)

    def _refuse(self, status: HTTPStatus, message: str, headers: dict[str, str] | None = None) -> None:
        body = json.dumps({"error": message}).encode("utf-8")
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Connection": "close", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            self._refuse(
                HTTPStatus.UNAUTHORIZED,
                "a bearer token is required: Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="orbit-events"'},
            )
            return False
        if not hmac.compare_digest(given.strip().encode("utf-8"), self.server.token.encode("utf-8")):
            self._refuse(HTTPStatus.FORBIDDEN, "wrong token")
            return False
        return True

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._authorized():
            return
        try:
            task_id, after = parse_target(self.path, self.headers.get("Last-Event-ID"))
            reader = EventReader(self.server.engine, task_id)
            if task_id is not None and not reader.task_exists():
                raise BadRequest(HTTPStatus.NOT_FOUND, f"task {task_id} does not exist")
            cursor = reader.start(after)
        except BadRequest as exc:
            self._refuse(exc.status, str(exc))
            return
        except SQLAlchemyError as exc:
            log.warning("events: cannot read the ledger: %s", exc)
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, "the ledger cannot be read now; try again")
            return
        if not self.server.clients.acquire(blocking=False):
            self._refuse(HTTPStatus.SERVICE_UNAVAILABLE, f"{self.server.max_clients} clients already follow the stream")
            return
        try:
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Accel-Buffering", "no")  # a proxy in front must not hold events back
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            self._send(sse.retry())
            self._follow(reader, cursor)
            self.wfile.write(b"0\r\n\r\n")  # the stream's end: the server is stopping
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the client went away
        finally:
            self.server.clients.release()

    def _send(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _follow(self, reader: EventReader, cursor) -> None:
        wakeups = self.server.wakeups
        while not wakeups.closed:
            # Read before reading the ledger: a row committed while reading wakes the wait below at once.
            generation = wakeups.generation
            try:
                while True:
                    rows, cursor = reader.read(cursor)
                    if rows:
                        self._send(b"".join(frames(row, self.server.phases) for row in rows))
                    if len(rows) < reader.batch:
                        break
            except SQLAlchemyError as exc:
                # The ledger is down: the client keeps its place and the next wake-up (the listener
                # reconnecting) or heartbeat tries again.
                log.warning("events: cannot read the ledger: %s", exc)
            if wakeups.wait(generation, self.server.heartbeat_seconds) == generation and not wakeups.closed:
                self._send(sse.comment("heartbeat"))

"""A TCP proxy between our code and a real server (the S3 server, Postgres) that can be told to
misbehave: refuse connections (the server is down), answer HTTP 500, slow every byte down, or cut
the connections when the client sends a given statement (Postgres dropping out mid-write).

The server behind it is the real one; only the network between is faulty.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

Upstream = tuple[str, int] | str  # (host, port) or a Unix socket path

_HTTP_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s"
)
_S3_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)


@dataclass
class _Cut:
    pattern: bytes
    times: int
    down_for: float


class FaultProxy:
    """Listens on 127.0.0.1:<port> and forwards to `upstream` unless told otherwise."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self.mode = "pass"  # pass | down | http_500 | slow
        self.delay = 0.0  # seconds per forwarded chunk in "slow" mode
        self.connections_seen = 0
        self.refused = 0
        self.cuts_done = 0
        self.first_cut_at: float | None = None  # time.monotonic() of the first cut
        self._cut: _Cut | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()
        self._live: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="fault-proxy")
        self._thread.start()

    # -- what tests call --------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def go_down(self, seconds: float | None = None) -> None:
        """Refuse every connection (and cut the open ones), for `seconds` or until `come_back()`."""
        with self._lock:
            self.mode = "down"
            self._down_until = time.monotonic() + seconds if seconds else float("inf")
        self.cut_connections()

    def come_back(self) -> None:
        with self._lock:
            self.mode, self._down_until = "pass", 0.0

    def answer_500(self, seconds: float | None = None) -> None:
        """Answer every HTTP request with S3's 500 InternalError, for `seconds` or until `come_back()`."""
        self.mode = "http_500"
        if seconds:
            self._revert_after(seconds)

    def slow(self, delay: float) -> None:
        self.mode, self.delay = "slow", delay

    def _revert_after(self, seconds: float) -> None:
        timer = threading.Timer(seconds, self.come_back)
        timer.daemon = True
        timer.start()

    def cut_on(self, pattern: bytes, times: int = 1, down_for: float = 2.0) -> None:
        """When a client sends `pattern`, cut every connection and refuse new ones for `down_for` s."""
        with self._lock:
            self._cut = _Cut(pattern, times, down_for)

    def cut_connections(self) -> None:
        with self._lock:
            live, self._live = list(self._live), set()
        for sock in live:
            _close(sock)

    def stop(self) -> None:
        self._stopping.set()
        _close(self._listener)
        self.cut_connections()

    # -- plumbing ---------------------------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(256)
        listener.settimeout(0.2)
        return listener

    def _is_down(self) -> bool:
        with self._lock:
            if self.mode == "down" and time.monotonic() >= self._down_until:
                self.mode = "pass"
            return self.mode == "down"

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # a timeout (to notice stop()) or the listener closed
                continue
            self.connections_seen += 1
            if self._is_down():
                # A closed port, as near as a listening one can get: reset at once, nothing read.
                self.refused += 1
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                _close(client)
                continue
            if self.mode == "http_500":
                threading.Thread(target=self._answer_500, args=(client,), daemon=True).start()
                continue
            threading.Thread(target=self._bridge, args=(client,), daemon=True).start()

    def _connect_upstream(self) -> socket.socket:
        if isinstance(self.upstream, str):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        sock.connect(self.upstream)
        sock.settimeout(None)
        return sock

    def _bridge(self, client: socket.socket) -> None:
        try:
            server = self._connect_upstream()
        except OSError:
            _close(client)
            return
        with self._lock:
            self._live.update((client, server))
        threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
        self._pump(server, client, False)

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        tail = b""
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if from_client and self._should_cut(tail + chunk):
                    return
                tail = chunk[-256:]
                if self.mode == "slow" and self.delay:
                    time.sleep(self.delay)
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with self._lock:
                    self._live.discard(sock)
                _close(sock)

    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            cut = self._cut
            if cut is None or cut.pattern not in data:
                return False
            cut.times -= 1
            if cut.times <= 0:
                self._cut = None
            self.cuts_done += 1
            self.first_cut_at = self.first_cut_at or time.monotonic()
            self.mode, self._down_until = "down", time.monotonic() + cut.down_for
        self.cut_connections()
        return True

    def _answer_500(self, client: socket.socket) -> None:
        """Read one HTTP request (headers and body) and answer it with S3's InternalError."""
        try:
            client.settimeout(10)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            while len(body) < length:
                chunk = client.recv(65536)
                if not chunk:
                    break
                body += chunk
            client.sendall(_HTTP_500 % (len(_S3_ERROR), _S3_ERROR))
        except OSError:
            pass
        finally:
            _close(client)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass

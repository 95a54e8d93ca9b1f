"""EMULATOR of an OpenAI-compatible speech-to-text server, for local runs and tests. It hears nothing.

`POST /v1/audio/transcriptions` (multipart: `file`, `model`, `response_format`, `language`) answers
`verbose_json` the way OpenAI and whisper servers do: text, language, duration, segments and words with
start/end times. What it "hears" is deterministic: the text a test registered for the file's SHA-256
(`say(sha256, text)`), else a fixed phrase, so the same file always gets the same transcript.

Faults for the next calls (`fail_next`), as the Veryfi emulator's are switched:
    status N     answer HTTP N (429 with `Retry-After: retry_after`), nothing billed
    timeout      stay silent for `seconds`, then answer (billed, though the client has gone)
    drop         close the connection without answering, nothing billed
    malformed    a 200 whose JSON is cut off (billed)
`latency` adds seconds to every call. `paid_calls_for(sha256)` counts the answers it billed for a file;
`requests` lists what was received. A wrong or missing key gets 401 when the emulator has one.

Run standalone:  python -m orbit_pipelines.local.transcription_emulator --port 8767
then ORBIT_VOICE_ENGINE=api ORBIT_VOICE_API_BASE_URL=http://127.0.0.1:8767/v1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

FIXED_PHRASE = "this is the transcription emulator speaking"
SECONDS_PER_WORD = 0.3
KINDS = ("status", "timeout", "drop", "malformed")


@dataclass(frozen=True)
class Fault:
    kind: str = "status"
    status: int = 500
    retry_after: Optional[float] = None
    seconds: float = 30.0


@dataclass(frozen=True)
class Received:
    fields: dict[str, list[str]]
    filename: str
    sha256: str
    size: int
    authorization: Optional[str]


def _multipart(body: bytes, content_type: str) -> tuple[dict[str, list[str]], list[tuple[str, str, bytes]]]:
    """(form fields, files as (field, file name, bytes)), split by werkzeug's sans-I/O decoder."""
    from werkzeug.http import parse_options_header
    from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder

    boundary = parse_options_header(content_type)[1].get("boundary")
    if not boundary:
        raise ValueError("no multipart boundary in Content-Type")
    decoder = MultipartDecoder(boundary.encode("latin-1"))
    decoder.receive_data(body)
    decoder.receive_data(None)
    fields: dict[str, list[str]] = {}
    files: list[tuple[str, str, bytes]] = []
    part: Field | File | None = None
    chunks: list[bytes] = []
    while not isinstance(event := decoder.next_event(), Epilogue):
        if isinstance(event, (Field, File)):
            part, chunks = event, []
        elif isinstance(event, Data) and part is not None:
            chunks.append(event.data)
            if event.more_data:
                continue
            content = b"".join(chunks)
            if isinstance(part, File):
                files.append((part.name, part.filename or "", content))
            else:
                fields.setdefault(part.name, []).append(content.decode("utf-8", "replace"))
    return fields, files


def verbose_json(text: str, language: str) -> dict[str, Any]:
    words = [
        {"word": w, "start": round(i * SECONDS_PER_WORD, 2), "end": round((i + 1) * SECONDS_PER_WORD, 2)}
        for i, w in enumerate(text.split())
    ]
    duration = round(len(words) * SECONDS_PER_WORD, 2)
    return {
        "task": "transcribe",
        "language": language or "en",
        "duration": duration,
        "text": text,
        "segments": [{"id": 0, "start": 0.0, "end": duration, "text": text, "avg_logprob": -0.1}],
        "words": words,
    }


class TranscriptionEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = ""):
        self.host, self.port, self.api_key = host, port, api_key
        self.latency = 0.0
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._said: dict[str, str] = {}
        self._received: list[Received] = []
        self._paid: Counter[str] = Counter()
        self._server: Optional[ThreadingHTTPServer] = None

    # ------------------------------------------------------------------------------ control

    def say(self, sha256: str, text: str) -> None:
        """What the emulator "hears" in the file with this SHA-256."""
        with self._lock:
            self._said[sha256] = text

    def fail_next(self, n: int = 1, status: int | str = 500, *, retry_after=None, seconds: float = 30.0) -> None:
        """The next `n` calls fail: an HTTP status, or "timeout", "drop", "malformed"."""
        fault = Fault(kind=status, seconds=seconds) if isinstance(status, str) else Fault("status", status, retry_after)
        if fault.kind not in KINDS:
            raise ValueError(f"unknown fault {status!r}; use a status or one of {KINDS[1:]}")
        with self._lock:
            self._faults.extend([fault] * n)

    def reset(self) -> None:
        with self._lock:
            self._faults.clear()
            self._said.clear()
            self._received.clear()
            self._paid.clear()
        self.latency = 0.0

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def paid_calls_for(self, sha256: str) -> int:
        with self._lock:
            return self._paid[sha256]

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> TranscriptionEmulator:
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.emulator = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="transcription-emulator", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> TranscriptionEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ behaviour

    def _next_fault(self) -> Optional[Fault]:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def answer(self, fields, files, authorization: Optional[str]) -> tuple[int, dict[str, str], Any, Optional[Fault]]:
        """(status, headers, body, the fault that shaped it) for one request."""
        if self.api_key and authorization != f"Bearer {self.api_key}":
            return 401, {}, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}, None
        audio = [f for f in files if f[0] == "file"]
        if not audio or not audio[0][2]:
            return 400, {}, {"error": {"message": "file: a non-empty audio file is required"}}, None
        if not fields.get("model"):
            return 400, {}, {"error": {"message": "model: required"}}, None
        sha = hashlib.sha256(audio[0][2]).hexdigest()
        with self._lock:
            self._received.append(Received(fields, audio[0][1], sha, len(audio[0][2]), authorization))
        if self.latency:
            time.sleep(self.latency)
        fault = self._next_fault()
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            return fault.status, headers, {"error": {"message": f"emulated HTTP {fault.status}"}}, fault
        with self._lock:
            self._paid[sha] += 1
            text = self._said.get(sha, FIXED_PHRASE)
        body = verbose_json(text, (fields.get("language") or ["en"])[0])
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "malformed":
            return 200, {}, json.dumps(body).encode()[:40], fault
        return 200, {}, body, fault


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        emulator: TranscriptionEmulator = self.server.emulator  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/audio/transcriptions":
            return self._send(404, {}, {"error": {"message": f"no route {self.path}"}})
        try:
            fields, files = _multipart(raw, self.headers.get("Content-Type", ""))
        except ValueError as exc:
            return self._send(400, {}, {"error": {"message": f"malformed multipart body: {exc}"}})
        status, headers, body, fault = emulator.answer(fields, files, self.headers.get("Authorization"))
        if fault is not None and fault.kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        self._send(status, headers, body)

    def _send(self, status: int, headers: dict[str, str], body: Any) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a read timeout)

    def log_message(self, *args) -> None:
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local OpenAI-compatible transcription EMULATOR.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args(argv)
    with TranscriptionEmulator(args.host, args.port, args.api_key) as emulator:
        print(f"ORBIT_VOICE_ENGINE=api ORBIT_VOICE_API_BASE_URL={emulator.base_url}  (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

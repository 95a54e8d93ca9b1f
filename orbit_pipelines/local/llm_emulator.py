"""EMULATOR of an OpenAI-compatible chat-completions server, for local runs and tests. It is no model.

`POST /v1/chat/completions` answers the way the LLM decomposer expects a good model to: it reads the
task JSON from the first user message and returns a plan of its own planner (`llm_emulator_plans`), not
the deterministic decomposer's: another granularity (one storage subtask, one logic subtask per sentence
of the description, one routes subtask, a test per acceptance criterion and one suite), requirements
and descriptions written from the task's clauses, dependencies by layer, and decisions in its own words
for a category it has no work in. So what passes is the plan rules' doing, not an echo. With `usage`
tokens (about four characters a token). Tests switch what the next calls get:

    good          the plan (the default)
    malformed     JSON cut off in the middle
    cut_off       the same, reported as stopped at the token limit (finish_reason "length")
    partial       valid JSON, but subtasks lack `priority` and `requirements` and TESTING is missing
    slow          the plan after `slow_seconds` (longer than a client's read timeout)
    held          the plan once the test calls `release()` (a step caught mid-way for as long as a test
                  needs, whatever the machine's load; at most `HOLD_LIMIT_SECONDS`)
    rate_limited  429 with `Retry-After: retry_after`
    server_error  500
    unauthorized  401 (also what a wrong or missing API key gets when the emulator has one)
    oversized     a 200 whose body is larger than any sensible cap
    garbled       a 200 whose body is cut off (not JSON)

Worksheet conversations (worksheet_generation's `llm` strategy) are answered by
`llm_emulator_worksheets`, with two more behaviours: `latex_broken` and `latex_forbidden`.

`answer_next(text)` makes the next call answer `text` verbatim. `requests` lists what was received.

Run standalone:  python -m orbit_pipelines.local.llm_emulator --port 8766
then ORBIT_LLM_BASE_URL=http://127.0.0.1:8766/v1 ORBIT_LLM_MODEL=emulator.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional

from orbit_pipelines.local.llm_emulator_worksheets import BEHAVIOURS as WORKSHEET_BEHAVIOURS
from orbit_pipelines.local.llm_emulator_worksheets import worksheet_answer

BEHAVIOURS = (
    "good",
    "malformed",
    "cut_off",
    "partial",
    "slow",
    "held",
    "rate_limited",
    "server_error",
    "unauthorized",
    "oversized",
    "garbled",
    *WORKSHEET_BEHAVIOURS,
)
HOLD_LIMIT_SECONDS = 300.0
_TASK_JSON = re.compile(r"```json\n(.*?)\n```", re.DOTALL)


@dataclass(frozen=True)
class Received:
    body: dict[str, Any]
    authorization: Optional[str]

    @property
    def messages(self) -> list[dict[str, str]]:
        return self.body.get("messages", [])


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def plan_for(messages: list[dict[str, str]]) -> dict[str, Any]:
    """The plan for the task in the conversation's first user message, as the emulator's own planner
    (llm_emulator_plans) cuts it: not the deterministic plan, and checked by the same plan rules."""
    from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
    from orbit_pipelines.local.llm_emulator_plans import emulated_plan

    first = next((m["content"] for m in messages if m.get("role") == "user"), "")
    found = _TASK_JSON.search(first)
    if not found:
        return {"subtasks": []}
    return emulated_plan(DecompositionPayload.model_validate(json.loads(found.group(1))))


class LLMEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, api_key: str = "", model: str = "emulator"):
        self.host, self.port, self.api_key, self.model = host, port, api_key, model
        self.slow_seconds = 5.0
        self.retry_after = 1
        self._lock = threading.Lock()
        self._queue: deque[tuple[str, Optional[str]]] = deque()
        self._received: list[Received] = []
        self._ids = itertools.count(1)
        self._server: Optional[ThreadingHTTPServer] = None
        self._stopping = threading.Event()
        self._released = threading.Event()

    # ------------------------------------------------------------------------------ control

    def next(self, *behaviours: str) -> None:
        """The next calls get these behaviours, in order; then `good` again."""
        unknown = [b for b in behaviours if b not in BEHAVIOURS]
        if unknown:
            raise ValueError(f"unknown behaviour {unknown}; use {BEHAVIOURS}")
        with self._lock:
            self._queue.extend((b, None) for b in behaviours)

    def answer_next(self, content: str) -> None:
        with self._lock:
            self._queue.append(("verbatim", content))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._received.clear()
        self.slow_seconds, self.retry_after = 5.0, 1
        self._released.clear()

    def release(self) -> None:
        """Calls `held` now, and any later `held` call, answer."""
        self._released.set()

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # ---------------------------------------------------------------------------- lifecycle

    def start(self) -> "LLMEmulator":
        self._stopping.clear()
        self._released.clear()
        self._server = ThreadingHTTPServer((self.host, self.port), _Handler)
        self._server.daemon_threads = True
        self._server.emulator = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"llm-emulator:{self.port}",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # wakes handlers sleeping in `slow`
            self._released.set()  # and those `held`
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "LLMEmulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- answers

    def _answer(self, body: dict[str, Any], authorization: Optional[str]) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self._received.append(Received(body, authorization))
            behaviour, verbatim = self._queue.popleft() if self._queue else ("good", None)
        if self.api_key and authorization != f"Bearer {self.api_key}":
            behaviour = "unauthorized"
        if behaviour == "unauthorized":
            return (
                401,
                {},
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if behaviour == "rate_limited":
            return (
                429,
                {"Retry-After": str(self.retry_after)},
                {
                    "error": {
                        "message": "Rate limit reached for requests",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                },
            )
        if behaviour == "server_error":
            return (
                500,
                {},
                {
                    "error": {
                        "message": "The server had an error while processing your request.",
                        "type": "server_error",
                    }
                },
            )
        if behaviour == "garbled":
            return 200, {}, b'{"id": "chatcmpl-cut", "choices": [{"mess'
        messages = body.get("messages") or []
        if behaviour == "slow":
            self._stopping.wait(self.slow_seconds)
        if behaviour == "held":
            self._released.wait(HOLD_LIMIT_SECONDS)
        if behaviour == "verbatim":
            content = verbatim or ""
        elif behaviour == "oversized":
            content = "x" * 3_000_000
        elif (worksheet := worksheet_answer(messages, behaviour)) is not None:
            content = worksheet  # worksheet_generation's prompts: see llm_emulator_worksheets
            if behaviour in ("malformed", "cut_off"):
                content = content[: len(content) // 2]
        else:
            plan = plan_for(messages)
            if behaviour == "partial":
                plan["subtasks"] = [
                    {k: v for k, v in s.items() if k not in ("priority", "requirements")}
                    for s in plan["subtasks"]
                    if s["category"] != "TESTING"
                ]
            content = json.dumps(plan)
            if behaviour in ("malformed", "cut_off"):
                content = content[: len(content) // 2]
        prompt_tokens = sum(_tokens(str(m.get("content", ""))) for m in messages)
        completion_tokens = _tokens(content)
        return (
            200,
            {},
            {
                "id": f"chatcmpl-emulator-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "length" if behaviour == "cut_off" else "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        emulator: LLMEmulator = self.server.emulator  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/") != "/v1/chat/completions":
            return self._send(404, {}, {"error": {"message": f"no route {self.path}"}})
        try:
            body = json.loads(raw)
        except ValueError:
            return self._send(400, {}, {"error": {"message": "body is not JSON"}})
        self._send(*emulator._answer(body, self.headers.get("Authorization")))

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
            pass  # the client gave up (a read timeout): nothing to answer

    def log_message(self, *args) -> None:
        pass


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local OpenAI-compatible EMULATOR (no model).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args(argv)
    with LLMEmulator(args.host, args.port, args.api_key) as emulator:
        print(f"ORBIT_LLM_BASE_URL={emulator.base_url} ORBIT_LLM_MODEL=emulator  (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

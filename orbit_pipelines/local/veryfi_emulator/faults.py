"""Injected failures of process calls: what tests steer through ``emulator.faults``."""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

FAULT_KINDS = ("status", "timeout", "drop", "malformed")


@dataclass(frozen=True)
class Fault:
    """One injected failure of a process call.

    kind "status": answer ``status`` with ``body`` (default: a realistic body for the status)
    and ``Retry-After: retry_after`` when given; nothing is processed or billed.
    "timeout": stay silent for ``seconds`` (longer than the client's read timeout), then process
    and bill the document as Veryfi would, though the client has gone.
    "drop": close the connection without answering (not billed).
    "malformed": process and bill, then answer 201 with a truncated JSON body.
    """

    kind: str = "status"
    status: int = 503
    retry_after: Union[float, str, None] = None
    body: Any = None
    seconds: float = 130.0


class FaultPlan:
    """Runtime-switchable faults for process calls (POST documents/); safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._queue: deque[Fault] = deque()
        self._rate = 0.0
        self._rate_faults: list[Fault] = []
        self._random = random.Random()
        self._hold: Optional[threading.Event] = None  # while set up, process calls wait for it
        self._holding = 0

    @property
    def latency(self) -> float:
        """Seconds added to every process call (Veryfi typically takes 3 to 5)."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def fail_next(
        self, n: int = 1, status: Union[int, str] = 503, *, retry_after=None, body=None, seconds: Optional[float] = None
    ) -> None:
        """Make the next ``n`` process calls fail. ``status`` is an HTTP status or a kind name
        ("timeout", "drop", "malformed")."""
        fault = _make_fault(status, retry_after, body, seconds)
        with self._lock:
            self._queue.extend([fault] * n)

    def timeout_next(self, n: int = 1, seconds: float = 130.0) -> None:
        self.fail_next(n, "timeout", seconds=seconds)

    def drop_next(self, n: int = 1) -> None:
        self.fail_next(n, "drop")

    def malformed_next(self, n: int = 1) -> None:
        self.fail_next(n, "malformed")

    def set_fault_rate(
        self,
        rate: float,
        status: Union[int, str, Sequence[Union[int, str]]] = 503,
        *,
        seed: Optional[int] = None,
        retry_after=None,
        body=None,
        seconds: Optional[float] = None,
    ) -> None:
        """Fail a random fraction ``rate`` of process calls (after any queued faults); 0 turns it off.

        ``status`` may be a list of statuses and kind names: each failing call draws one of them,
        which is what intermittent trouble looks like (a 503 here, a reset there, a 429 now and then).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        statuses = [status] if isinstance(status, (int, str)) else list(status)
        if not statuses:
            raise ValueError("status: give at least one status or fault kind")
        faults = [
            _make_fault(s, retry_after if s == 429 or len(statuses) == 1 else None, body, seconds) for s in statuses
        ]
        with self._lock:
            self._rate, self._rate_faults = float(rate), faults
            if seed is not None:
                self._random.seed(seed)

    def hold(self) -> None:
        """Process calls from now on wait, in flight, before any work, until ``release()``: a test sees how
        many are in flight (``held``) and lets them answer when it chooses."""
        with self._lock:
            if self._hold is None:
                self._hold = threading.Event()

    def release(self) -> None:
        """The held calls go on (each then answers as it would have); later calls are not held."""
        with self._lock:
            hold, self._hold = self._hold, None
        if hold is not None:
            hold.set()

    @property
    def held(self) -> int:
        """Process calls waiting for ``release()`` now."""
        with self._lock:
            return self._holding

    def wait_while_held(self, stopping: threading.Event) -> None:
        with self._lock:
            hold = self._hold
            if hold is None:
                return
            self._holding += 1
        try:
            while not hold.wait(0.05) and not stopping.is_set():
                pass
        finally:
            with self._lock:
                self._holding -= 1

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate, self._rate_faults, self._latency = 0.0, [], 0.0
        self.release()

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def draw(self) -> tuple[Optional[Fault], float]:
        """The fault for the call now starting (or None), and the latency to add."""
        with self._lock:
            if self._queue:
                return self._queue.popleft(), self._latency
            if self._rate and self._random.random() < self._rate:
                return self._random.choice(self._rate_faults), self._latency
            return None, self._latency


def _make_fault(status, retry_after, body, seconds) -> Fault:
    if isinstance(status, str):
        if status not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {status!r}; use one of {FAULT_KINDS}")
        kind, status = status, 503
    else:
        kind = "status"
        # 2xx is allowed for canned answers, e.g. a 201 whose body is not a document.
        if not 200 <= int(status) <= 599:
            raise ValueError("status must be between 200 and 599")
    return Fault(kind, int(status), retry_after, body, 130.0 if seconds is None else float(seconds))


_DEFAULT_FAULT_BODIES: dict[int, Any] = {
    409: {"status": "fail", "error": "Access limit reached. Please contact support."},
    429: {"status": "fail", "error": "Too many requests. Please retry after the delay in Retry-After."},
    499: {"status": "fail", "error": "Client closed request"},
    500: {"status": "fail", "error": "Internal server error"},
    502: "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
    503: {"status": "fail", "message": "Service temporarily unavailable, please try again later."},
    504: "<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>",
}

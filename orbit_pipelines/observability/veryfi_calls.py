"""Veryfi call figures (status class, latency) from run workers to the metrics server.

Run workers are separate processes, so counters in memory would die with them: each op attempt
collects its calls here and writes them in one batch to `orbit.veryfi_calls`, which the metrics
collector reads. Rows older than RETENTION_DAYS are deleted by the same write.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, TypeVar

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.veryfi import VeryfiError

RETENTION_DAYS = 7
T = TypeVar("T")


def status_class(status: int | None, failed: bool) -> str:
    """`2xx`..`5xx` by HTTP status; `transport` without an answer; `invalid` for a 2xx we could not use."""
    if status is None:
        return "transport"
    if failed and 200 <= status < 300:
        return "invalid"
    return f"{status // 100}xx"


@dataclass(frozen=True)
class VeryfiCall:
    operation: str
    status_class: str
    http_status: int | None
    latency_seconds: float


class VeryfiCallLog:
    """Thread-safe: the extract op calls Veryfi from a pool of threads."""

    def __init__(self) -> None:
        self._calls: list[VeryfiCall] = []
        self._lock = threading.Lock()

    def call(self, operation: str, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run one client call (process, lookup, fetch) and note its outcome and latency."""
        started = time.monotonic()
        try:
            result = fn(*args, **kwargs)
        except VeryfiError as exc:
            self._add(VeryfiCall(operation, status_class(exc.status, True), exc.status, time.monotonic() - started))
            raise
        status = getattr(result, "status", 200)
        self._add(VeryfiCall(operation, status_class(status, False), status, time.monotonic() - started))
        return result

    def _add(self, call: VeryfiCall) -> None:
        with self._lock:
            self._calls.append(call)

    @property
    def calls(self) -> list[VeryfiCall]:
        with self._lock:
            return list(self._calls)

    def summary(self) -> dict[str, object]:
        """Op metadata: calls per status class and latency figures, in seconds."""
        calls = self.calls
        if not calls:
            return {"veryfi_calls": 0}
        latencies = sorted(c.latency_seconds for c in calls)
        return {
            "veryfi_calls": len(calls),
            "veryfi_calls_by_status_class": dict(sorted(Counter(c.status_class for c in calls).items())),
            "veryfi_latency_median_s": round(statistics.median(latencies), 3),
            "veryfi_latency_max_s": round(latencies[-1], 3),
        }

    def save(self, engine: Engine, run_id: str) -> int:
        """One INSERT for every call of this attempt, and the retention DELETE, in one transaction."""
        calls = self.calls
        if not calls:
            return 0
        rows = [
            {
                "operation": c.operation,
                "status_class": c.status_class,
                "http_status": c.http_status,
                "latency_seconds": c.latency_seconds,
            }
            for c in calls
        ]
        insert = text(
            """
            INSERT INTO orbit.veryfi_calls (run_id, operation, status_class, http_status, latency_seconds)
            SELECT :run_id, operation, status_class, http_status, latency_seconds
            FROM jsonb_to_recordset(:rows)
                 AS r(operation text, status_class text, http_status integer, latency_seconds double precision)
            """
        ).bindparams(bindparam("rows", type_=JSONB))
        with engine.begin() as conn:
            conn.execute(insert, {"run_id": run_id, "rows": rows})
            conn.execute(
                text("DELETE FROM orbit.veryfi_calls WHERE at < now() - make_interval(days => :days)"),
                {"days": RETENTION_DAYS},
            )
        return len(rows)

"""A batch's progress as it goes, where an operator looks: a line in the run's log ("stored 250 of 1,000
documents") and the run's `orbit/progress` tag ("250/1000"), which the Runs page shows beside the run
and `orbit runs`/GraphQL read like any tag. Both are written at most every INTERVAL_SECONDS (and at the
end), so a batch of 10,000 costs a handful of writes, not one per item; each item's own COMPLETED or
FAILED row in the ledger is written as it finishes, by the step."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from orbit_pipelines.runtime.tags import PROGRESS_TAG

if TYPE_CHECKING:
    from dagster import OpExecutionContext

INTERVAL_SECONDS = 2.0


def progress_value(done: int, total: int) -> str:
    """The tag's value: `250/1000`."""
    return f"{done}/{total}"


def progress_line(done: int, failed: int, total: int, noun: str) -> str:
    """`finished 250 of 1,000 documents (25%): 248 stored, 2 failed`."""
    percent = 100 * done // total if total else 100
    line = f"finished {done:,} of {total:,} {noun} ({percent}%)"
    return line + (f": {done - failed:,} stored, {failed:,} failed" if failed else "")


class BatchProgress:
    """Counts a batch's finished items (`advance`) and reports them every INTERVAL_SECONDS and at
    `finish`. Thread-safe: the document step's storer thread advances it while the step sends."""

    def __init__(self, context: OpExecutionContext, total: int, noun: str, interval: float | None = None):
        self.context, self.total, self.noun = context, total, noun
        self.interval = INTERVAL_SECONDS if interval is None else interval
        self.done = self.failed = 0
        self._reported = -1
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, finished: int, failed: int = 0) -> None:
        with self._lock:
            self.done = min(self.total, self.done + finished)
            self.failed += failed
            due = time.monotonic() - self._last >= self.interval
        if due:
            self._report()

    def finish(self, done: int, failed: int) -> None:
        """The batch's final count, however its items ended (stored, or failed before or at the store)."""
        with self._lock:
            self.done, self.failed = min(self.total, done), failed
        self._report()

    def _report(self) -> None:
        with self._lock:
            if self.done == self._reported or self.total <= 1:
                return
            done, failed, self._reported, self._last = self.done, self.failed, self.done, time.monotonic()
        self.context.instance.add_run_tags(self.context.run_id, {PROGRESS_TAG: progress_value(done, self.total)})
        self.context.log.info(progress_line(done, failed, self.total, self.noun))

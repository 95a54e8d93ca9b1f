"""A pause inside a batch step, at its items' boundaries: the batch's analogue of the gate between steps
(runtime/pause_gate.py), for a step that does a whole batch's work at once (document_processing's
upload_and_extract sends every document of its batch to Veryfi: 1,000 documents in about 20 s, 10,000 in
3 min, too long for a pause to wait for the step's end).

The same request is read (`orbit task pause`, orbit.pause_requests): by a thread of the step's own, once when
the step starts its items and then every WATCH_SECONDS (one primary-key read), never per item. The step's
workers read `PauseWatch.paused`, an attribute, before an item's paid work starts; once it is set no item
starts: those under way finish (a Veryfi call in flight is answered and its answer stored, as ever) and the
others are left as they are. `pause_left` then moves the tasks of the items left to PAUSED, saying who asked
and after how many in their history, and records the pause as cut short inside the step (record_paused with
cut_short). The step returns its output, and the gate closes the run at the step's end (as after any step
that ended with a pause): the run ends SUCCESS in Dagster with its later steps not executed, so neither run
retries nor `orbit recover` restart it.

How resume continues (task_control.resume): it re-executes the cut-short step and the steps after it, reusing
the stored output of the step before, as a re-execution from a failed step does. The step run again finds the
items its first run finished COMPLETED and skips them (nothing paid twice: their Veryfi answers are stored),
and does the PAUSED ones. Resuming from the cut-short step's own output instead would hand the later steps a
batch half done and make each of them tell the halves apart; running the step again keeps one path through the
job, the one every re-execution already takes.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Optional, Sequence

if TYPE_CHECKING:
    from dagster import OpExecutionContext

    from orbit_pipelines.ledger import Ledger

# How often a batch step reads whether its run is asked to pause: a pause is seen within this long.
WATCH_SECONDS = 0.5


class PauseWatch:
    """Whether the run is asked to pause, read by a thread every `interval` seconds from `asked` (who asked,
    or None) while the watch is open (`with watch:`). Once a request is seen, `paused` stays True, the
    reading stops and `on_seen(who)` is called once, on the watch's thread."""

    def __init__(
        self,
        asked: Callable[[], Optional[str]],
        interval: float = WATCH_SECONDS,
        on_seen: Optional[Callable[[str], None]] = None,
    ):
        self._asked, self.interval, self._on_seen = asked, interval, on_seen
        self.paused = False  # what the workers read: an attribute, no lock, no query
        self.requested_by: Optional[str] = None
        self.reads = 0
        self.seen = threading.Event()
        self._closed = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> PauseWatch:
        self._closed.clear()
        self._thread = threading.Thread(target=self._watch, name="orbit-pause-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        while not self.paused:
            who = self._asked()
            self.reads += 1
            if who is not None:
                self.requested_by = who
                self.paused = True
                self.seen.set()
                if self._on_seen is not None:
                    self._on_seen(who)
                return
            if self._closed.wait(self.interval):
                return


def pause_asked(ledger: Ledger, run_id: str) -> Optional[str]:
    """Who asked `run_id` to pause and has not been answered yet, or None. A ledger that cannot be read
    pauses nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from orbit_pipelines.ledger.pauses import pause_request

    try:
        request = pause_request(ledger, run_id)
    except SQLAlchemyError:
        return None
    return request.requested_by if request is not None and request.paused_after is None else None


def run_pause_watch(context: OpExecutionContext, ledger: Ledger, step: str, what: str) -> PauseWatch:
    """The watch of this step's run, saying in the run's log when it sees a pause."""

    def seen(who: str) -> None:
        context.log.info(f"pause asked by {who} seen in {step}: no new {what} starts; those under way finish")

    return PauseWatch(lambda: pause_asked(ledger, context.run_id), on_seen=seen)


def pause_left(
    context: OpExecutionContext,
    ledger: Ledger,
    step: str,
    task_ids: Sequence[int],
    done: int,
    total: int,
    requested_by: str,
    what: str = "items",
) -> list[int]:
    """The tasks of the items a pause left undone become PAUSED (`paused in STEP by NAME after N of M
    ...` in their history), then the run's pause is recorded as cut short in `step`; the ids moved."""
    from orbit_pipelines.ledger import TaskStatus
    from orbit_pipelines.ledger.pauses import record_paused

    run_id = context.run_id
    # A resumed run's tasks may still be QUEUED (its sensor had not marked them RUNNING yet).
    ledger.transition_many(task_ids, TaskStatus.RUNNING, run_id=run_id, note="re-execution")
    note = f"paused in {step} by {requested_by} after {done} of {total} {what}"
    moved = [t.id for t in ledger.transition_many(task_ids, TaskStatus.PAUSED, run_id=run_id, note=note)]
    record_paused(ledger, run_id, step, cut_short=True)
    context.log.info(
        f"{step} paused by {requested_by} after {done} of {total} {what}: tasks "
        f"{', '.join(map(str, moved)) or 'none'} PAUSED (`orbit task resume TASK_ID` runs {step} again for them)"
    )
    return moved

"""Waiting for tasks to finish: `orbit task submit --wait`, `orbit doc submit --wait`, `orbit demo`."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Callable, Sequence

from orbit_pipelines.ledger import Ledger, Task, TaskNotFound, TaskStatus
from orbit_pipelines.ledger.states import TERMINAL

POLL_SECONDS = 0.1
# A poll reads every awaited id (`id = ANY(...)`), so its cost grows with their number: waiting on 10,000
# documents every 0.1 s cost the command 18 CPU seconds and Postgres more, on the 2 cores the run needed
# (bench.doc_submit --n 10000). Past 2,000 tasks the interval grows with them, to 0.5 s at 10,000: a
# delay of the exit that is well under 1% of the time so many take.
MAX_POLL_SECONDS = 1.0
TASKS_PER_POLL_SECOND = 20_000


def poll_seconds(task_count: int) -> float:
    """How long a waiter on `task_count` tasks sleeps between polls."""
    return min(MAX_POLL_SECONDS, max(POLL_SECONDS, task_count / TASKS_PER_POLL_SECOND))


# A poll after the first reads only the tasks changed since the one before (or since the oldest
# transaction then open: Ledger.states_of), less this margin for clocks read a moment apart; re-reading a
# task whose state is unchanged is harmless.
CHANGED_MARGIN = timedelta(seconds=1)
# And every so often all of them: a phase is stamped with its step event's time (ledger/phases.py), which
# a sensor may record well after it happened.
FULL_POLL_SECONDS = 10.0


class WaitError(RuntimeError):
    """Waiting ended before the tasks finished."""


class WaitTimedOut(WaitError):
    pass


class DaemonExited(WaitError):
    pass


def wait_for_tasks(
    ledger: Ledger,
    task_ids: Sequence[int],
    timeout: float,
    *,
    on_change: Callable[[Task], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> list[Task]:
    """The tasks once every one of them is in a terminal state (COMPLETED, FAILED, CANCELED), in the
    order given (repeats dropped). One deadline of `timeout` seconds for all of them.

    `on_change(task)` is called for each task when first seen and whenever its status, run or phase changes.
    Raises WaitTimedOut at the deadline, naming a task still unfinished, and DaemonExited as soon as
    `alive()` says the process that runs them (a daemon this command started) is gone.
    """
    ids = list(dict.fromkeys(task_ids))
    position = {task_id: i for i, task_id in enumerate(ids)}
    deadline, interval = time.monotonic() + timeout, poll_seconds(len(ids))
    seen: dict[int, tuple[TaskStatus, str | None, str | None]] = {}
    since, full_poll_at = None, time.monotonic() + FULL_POLL_SECONDS
    while True:
        if time.monotonic() >= full_poll_at:
            since, full_poll_at = None, time.monotonic() + FULL_POLL_SECONDS
        first = not seen
        read, now = ledger.states_of(ids, since)
        if first and (missing := [i for i in ids if i not in read]):
            raise TaskNotFound(missing[0])
        since = now - CHANGED_MARGIN
        states = {**seen, **read}
        changed = [i for i in read if seen.get(i) != read[i]]
        if on_change and changed:
            # Whole rows only for what changed since the last poll.
            for task in sorted(ledger.get_many(changed), key=lambda t: position[t.id]):
                on_change(task)
        seen = states
        unfinished = [i for i in ids if states[i][0] not in TERMINAL]
        if not unfinished:
            current = {t.id: t for t in ledger.get_many(ids)}
            return [current[i] for i in ids]
        if time.monotonic() > deadline:
            left = sorted(ledger.get_many(unfinished), key=lambda t: position[t.id])
            raise WaitTimedOut(_still_unfinished(ledger, len(ids), left, timeout))
        if not alive():
            raise DaemonExited("the Dagster daemon exited; see its log under ORBIT_HOME/logs")
        time.sleep(interval)


def _still_unfinished(ledger: Ledger, total: int, unfinished: list[Task], timeout: float) -> str:
    """Why waiting ended, and what to do: a paused intake is named, with its reason and since when."""
    from orbit_pipelines.run_control import describe_pause, pause_of

    first = unfinished[0]
    if total == 1:
        said = f"task {first.id} still {first.status.value} after {timeout:.0f}s"
    else:
        more = f" (and {len(unfinished) - 1} more unfinished)" if len(unfinished) > 1 else ""
        said = (
            f"{total - len(unfinished)} of {total} tasks finished after {timeout:.0f}s; "
            f"task {first.id} is still {first.status.value}{more}"
        )
    pause = pause_of(ledger, first.kind) if first.status == TaskStatus.PENDING else None
    if pause is not None:
        return f"{said}: {describe_pause(pause)}; `orbit resume` lets it go on"
    if total == 1:
        return f"{said}; it goes on without waiting: `orbit task show {first.id}` follows it"
    return f"{said}; they go on without waiting: `orbit task show {first.id}` follows one, `orbit status` all"


def wait_for_task(
    ledger: Ledger,
    task_id: int,
    timeout: float,
    *,
    on_change: Callable[[Task], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
) -> Task:
    """One task, once it is in a terminal state (see wait_for_tasks)."""
    return wait_for_tasks(ledger, [task_id], timeout, on_change=on_change, alive=alive)[0]


def all_completed(tasks: Sequence[Task]) -> bool:
    return all(t.status.value == "COMPLETED" for t in tasks)


class FinishedCounter:
    """An `on_change` for wait_for_tasks that calls `advance(1)` as each task reaches its end (a progress
    bar's `update`), once per task."""

    def __init__(self, advance: Callable[[int], None]):
        self.advance = advance
        self.finished: set[int] = set()

    def __call__(self, task: Task) -> None:
        if task.status in TERMINAL and task.id not in self.finished:
            self.finished.add(task.id)
            self.advance(1)


class PhaseProgress:
    """An `on_change` for one task that moves a progress bar through its kind's phases (JobKind.phases,
    in step order): the bar is at k of K once the task's run has entered its k-th phase, full once the
    task has ended, and its label says where the task is ("RUNNING (DECOMPOSING)")."""

    def __init__(self, bar, phases: Sequence[str]):
        self.bar, self.phases = bar, list(dict.fromkeys(phases))
        self.at = 0

    @property
    def length(self) -> int:
        return len(self.phases) or 1

    def __call__(self, task: Task) -> None:
        reached = self.length if task.status in TERMINAL else self.at
        if task.status not in TERMINAL and task.phase in self.phases:
            reached = max(self.at, self.phases.index(task.phase) + 1)
        where = (
            f"{task.status.value} ({task.phase})" if task.phase and task.status not in TERMINAL else task.status.value
        )
        self.bar.label = f"task {task.id} {where}"
        if reached > self.at:
            self.bar.update(reached - self.at)
            self.at = reached
        else:
            self.bar.render_progress()


def totals_line(tasks: Sequence[Task]) -> str:
    """`12 completed, 1 failed of 13` (`, 2 canceled` when some were)."""
    count = {s: sum(1 for t in tasks if t.status == s) for s in (TaskStatus.COMPLETED, TaskStatus.FAILED)}
    canceled = sum(1 for t in tasks if t.status == TaskStatus.CANCELED)
    also = f", {canceled} canceled" if canceled else ""
    return f"{count[TaskStatus.COMPLETED]} completed, {count[TaskStatus.FAILED]} failed{also} of {len(tasks)}"

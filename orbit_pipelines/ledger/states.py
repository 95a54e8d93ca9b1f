"""The task state machine: the one place that says which status changes are allowed."""

from __future__ import annotations

from collections import deque
from enum import Enum


class TaskStatus(str, Enum):
    PENDING = "PENDING"
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    # Parked for a person: the work cannot go on until someone acts (a worksheet whose LaTeX does not
    # compile). Not failed and not a dead letter; no sweep touches it; a person's fix re-queues it.
    WAITING_MANUAL = "WAITING_MANUAL"
    # Stopped by an operator at a step boundary (`orbit task pause`): the step that was running finished,
    # the next never started. Parked like WAITING_MANUAL; `orbit task resume` re-queues it.
    PAUSED = "PAUSED"


S = TaskStatus

ALLOWED: dict[TaskStatus, frozenset[TaskStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.CANCELED}),
    # A queued run can be canceled, or fail before its first op runs (launch error, crash); a claim
    # whose run could not be launched at all goes back to PENDING for the dispatch sensor.
    S.QUEUED: frozenset({S.RUNNING, S.FAILED, S.CANCELED, S.PENDING}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CANCELED, S.WAITING_MANUAL, S.PAUSED}),
    # Only a person reopens a completed task (`orbit task reset`, `orbit task rollback`): reconciling
    # with a run never does (path_between leaves REOPENING out).
    S.COMPLETED: frozenset({S.QUEUED}),
    # Retry or re-execution puts a finished-but-unsuccessful task back in the queue.
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELED: frozenset({S.QUEUED}),
    # A person's fix runs it again (QUEUED for the re-execution), or a person gives up on it.
    S.WAITING_MANUAL: frozenset({S.QUEUED, S.CANCELED}),
    # Resumed (QUEUED for the re-execution from the next step), or given up on.
    S.PAUSED: frozenset({S.QUEUED, S.CANCELED}),
}
# Transitions only an explicit operator's command makes, never a reconciliation with what a run did.
REOPENING = frozenset({(S.COMPLETED, S.QUEUED)})

TERMINAL = frozenset({S.COMPLETED, S.FAILED, S.CANCELED})
ACTIVE = frozenset({S.QUEUED, S.RUNNING})
# Neither active nor ended: what a run's outcome or a sweep must leave as it is.
PARKED = frozenset({S.WAITING_MANUAL, S.PAUSED})


class InvalidTransition(ValueError):
    def __init__(self, current: TaskStatus, target: TaskStatus, task_id: int | None = None):
        self.current, self.target, self.task_id = TaskStatus(current), TaskStatus(target), task_id
        who = f"task {task_id}" if task_id is not None else "a task"
        allowed = ", ".join(sorted(s.value for s in ALLOWED[self.current])) or "nothing (final state)"
        super().__init__(
            f"cannot move {who} from {self.current.value} to {self.target.value}; "
            f"from {self.current.value} it may go to: {allowed}"
        )


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return TaskStatus(target) in ALLOWED[TaskStatus(current)]


def check_transition(current: TaskStatus, target: TaskStatus, task_id: int | None = None) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(current, target, task_id)


def sources_of(target: TaskStatus) -> frozenset[TaskStatus]:
    """States from which `target` may be entered in one step."""
    return frozenset(s for s, targets in ALLOWED.items() if TaskStatus(target) in targets)


def path_between(current: TaskStatus, target: TaskStatus) -> list[TaskStatus] | None:
    """Shortest legal sequence of states after `current` that ends in `target`.

    Used to reconcile a task with what actually happened to its run (e.g. a re-execution of a
    FAILED task succeeded: FAILED -> QUEUED -> RUNNING -> COMPLETED), so every step stays legal and
    is recorded. [] when already there, None when unreachable. A completed task is never reopened on
    the way (REOPENING): a late report about some run must not redo finished work.
    """
    current, target = TaskStatus(current), TaskStatus(target)
    if current == target:
        return []
    # state -> the state it was reached from; the start is its own, so the walk back ends at it.
    seen = {current: current}
    queue = deque([current])
    while queue:
        state = queue.popleft()
        for nxt in sorted(ALLOWED[state], key=lambda s: s.value):
            if nxt in seen or (state, nxt) in REOPENING:
                continue
            seen[nxt] = state
            if nxt == target:
                path = [nxt]
                while seen[path[-1]] != current:
                    path.append(seen[path[-1]])
                return list(reversed(path))
            queue.append(nxt)
    return None

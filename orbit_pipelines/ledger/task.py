"""A task as the ledger stores it (one row of `orbit.tasks`), decoded from query results."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orbit_pipelines.ledger.states import TaskStatus


class TaskNotFound(LookupError):
    def __init__(self, task_id: int):
        super().__init__(f"task {task_id} does not exist")
        self.task_id = task_id


@dataclass(frozen=True)
class Task:
    id: int
    kind: str
    payload: dict[str, Any]
    status: TaskStatus
    priority: int
    lane: str
    idempotency_key: str
    attempts: int
    run_id: str | None
    error_class: str | None
    error_message: str | None
    error_step: str | None
    created_at: datetime
    updated_at: datetime
    queued_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    dispatch_key: str | None = None
    discarded_at: datetime | None = None
    discard_reason: str | None = None
    # The kind's name for the step its run is executing (ledger/phases.py); kept once the task has ended.
    phase: str | None = None
    phase_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> "Task":
        return cls._from_values(zip(row._fields, row, strict=False))

    @classmethod
    def from_rows(cls, result: Any) -> list["Task"]:
        # The column names once per result: a Row's own key list is rebuilt for every row (0.16 ms
        # each), which was most of a 1,000-task dispatch tick (bench.ledger_scale profile).
        keys = list(result.keys())
        return [cls._from_values(zip(keys, row, strict=False)) for row in result]

    @classmethod
    def _from_values(cls, pairs) -> "Task":
        values = {k: v for k, v in pairs if k in cls.__dataclass_fields__}
        values["status"] = TaskStatus(values["status"])
        return cls(**values)


__all__ = ["Task", "TaskNotFound"]

"""The webhook event body (pydantic: it crosses a boundary), how ledger changes and step successes
become events, and the signature receivers check. Pure: no Dagster, no database."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict

from orbit_pipelines.runtime.remediation import remediation_for

EventType = Literal[
    "task.queued",
    "task.started",
    "task.phase_started",
    "task.step_completed",
    "task.completed",
    "task.failed",
    "task.canceled",
    "task.paused",
    "dlq.added",
]

# The ledger status a change moved a task to, and the event it is for other systems.
STATUS_EVENTS: dict[str, EventType] = {
    "QUEUED": "task.queued",
    "RUNNING": "task.started",
    "COMPLETED": "task.completed",
    "FAILED": "task.failed",
    "CANCELED": "task.canceled",
    "PAUSED": "task.paused",
}

SIGNATURE_HEADER = "Orbit-Signature"
TIMESTAMP_HEADER = "Orbit-Timestamp"
EVENT_ID_HEADER = "Orbit-Event-Id"
EVENT_TYPE_HEADER = "Orbit-Event-Type"


class TaskRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    kind: str
    status: str
    lane: str
    priority: int
    idempotency_key: str


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    error_class: str | None
    message: str | None
    step: str | None
    remediation: str


class WebhookEvent(BaseModel):
    """What a receiver gets. `id` is stable across retries: drop an id you have already processed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    type: EventType
    occurred_at: datetime
    task: TaskRef
    run_id: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    step: str | None = None
    # task.phase_started: the phase the task entered (its kind's name for the step that started).
    phase: str | None = None
    note: str | None = None
    error: ErrorInfo | None = None

    def body(self) -> str:
        return self.model_dump_json()


def task_ref(row: Mapping[str, Any], status: str) -> TaskRef:
    return TaskRef(
        id=row["task_id"],
        kind=row["kind"],
        status=status,
        lane=row["lane"],
        priority=row["priority"],
        idempotency_key=row["idempotency_key"],
    )


def events_for_change(row: Mapping[str, Any]) -> list[WebhookEvent]:
    """Events for one `orbit.task_events` row joined with its task. Submissions (to PENDING) and
    notes (status unchanged) are not events, except a phase entered; a task entering FAILED is also a
    new dead letter."""
    to_status, from_status = row["to_status"], row["from_status"]
    if row.get("phase") and to_status == from_status:
        return [
            WebhookEvent(
                id=f"task-event-{row['id']}",
                type="task.phase_started",
                occurred_at=row["at"],
                task=task_ref(row, to_status),
                run_id=row["run_id"],
                phase=row["phase"],
                note=row["note"],
            )
        ]
    if to_status not in STATUS_EVENTS or to_status == from_status:
        return []
    common = {
        "occurred_at": row["at"],
        "task": task_ref(row, to_status),
        "run_id": row["run_id"],
        "from_status": from_status,
        "to_status": to_status,
        "note": row["note"],
    }
    if to_status != "FAILED":
        return [WebhookEvent(id=f"task-event-{row['id']}", type=STATUS_EVENTS[to_status], **common)]
    error = ErrorInfo(
        error_class=row["error_class"],
        message=row["error_message"],
        step=row["error_step"],
        remediation=remediation_for(row["error_class"]),
    )
    return [
        WebhookEvent(id=f"task-event-{row['id']}", type="task.failed", error=error, **common),
        WebhookEvent(id=f"dlq-{row['id']}", type="dlq.added", error=error, **common),
    ]


def step_completed(task: Mapping[str, Any], run_id: str, step: str, at: datetime, storage_id: int) -> WebhookEvent:
    """A Dagster step of a run working on `task` succeeded."""
    return WebhookEvent(
        id=f"step-{storage_id}-task-{task['task_id']}",
        type="task.step_completed",
        occurred_at=at,
        task=task_ref(task, task["status"]),
        run_id=run_id,
        step=step,
    )


def step_concerns_task(task: Mapping[str, Any], run_id: str, at: datetime) -> bool:
    """False for a task that had already failed or been canceled in this run (a bad document in a batch
    whose other documents go on): later steps of the run did no work for it."""
    ended = task["status"] in ("FAILED", "CANCELED") and task["run_id"] == run_id and task["finished_at"]
    return not (ended and task["finished_at"] <= at)


def signature(secret: str, timestamp: int, body: str) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>": a captured request cannot be replayed with a fresh timestamp."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.{body}".encode("utf-8"), hashlib.sha256).hexdigest()
    return f"sha256={digest}"

"""Ledger rows as stream events: the webhook bodies (webhooks/events.py) for the rows webhooks send,
and a body of the same shape for every other row (a submission, a note, a status webhooks have no
type for yet), so rows that later code adds to task_events are streamed without a line here. Pure."""

from __future__ import annotations

from typing import Any, Mapping

from orbit_pipelines.observability.stream.sse import frame
from orbit_pipelines.observability.webhooks.events import WebhookEvent, events_for_change, task_ref


class LedgerEvent(WebhookEvent):
    """A webhook body whose type is named from the row: `task.submitted` (a new task), `task.<status>`
    for a status change (`task.waiting_manual`), `task.note` for a note that changes no status."""

    type: str  # type: ignore[assignment]  # any row's name, not only the webhook types


def generic_type(row: Mapping[str, Any]) -> str:
    if row["from_status"] is None:
        return "task.submitted"
    if row["to_status"] != row["from_status"]:
        return f"task.{row['to_status'].lower()}"
    return "task.note"


def stream_events(row: Mapping[str, Any]) -> list[WebhookEvent]:
    """The events of one task_events row joined with its task (Outbox.changes), in order."""
    events = events_for_change(row)
    if events:
        return events
    return [
        LedgerEvent(
            id=f"task-event-{row['id']}",
            type=generic_type(row),
            occurred_at=row["at"],
            task=task_ref(row, row["to_status"]),
            run_id=row["run_id"],
            from_status=row["from_status"],
            to_status=row["to_status"],
            phase=row.get("phase"),
            note=row["note"],
        )
    ]


def frames(row: Mapping[str, Any]) -> bytes:
    """The row's events as SSE frames. The row id is the `id:` of its last event only: a client cut off
    between a task.failed and its dlq.added resumes before the row and is sent both again."""
    events = stream_events(row)
    return b"".join(
        frame(e.type, e.body(), str(row["id"]) if n == len(events) - 1 else None) for n, e in enumerate(events)
    )

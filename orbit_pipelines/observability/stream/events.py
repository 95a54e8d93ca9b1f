"""Ledger rows as stream events: the webhook bodies (webhooks/events.py) for the rows webhooks send;
for the rows that record a fact of a run (`event` set: migration 0010), the events the fact is
(a checkpoint is task.checkpoint_created, and when its step ends a phase task.phase_completed and
task.progress; a failed step task.phase_failed; a plan one task.subtask_generated per subtask); and a
body of the same shape for every other row (a submission, a note, a status webhooks have no type for
yet), so rows that later code adds to task_events are streamed without a line here. Pure: the phases
of each kind (JobKind.phases, {kind: {step: phase}}) are handed in."""

from __future__ import annotations

from typing import Any, Mapping

from pydantic import BaseModel, ConfigDict

from orbit_pipelines.observability.stream.sse import frame
from orbit_pipelines.observability.webhooks.events import WebhookEvent, events_for_change, task_ref

Phases = Mapping[str, Mapping[str, str]]


class Progress(BaseModel):
    """How far a task is: `done` of its kind's `total` phases have completed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    done: int
    total: int


class SubtaskRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    category: str
    title: str


class LedgerEvent(WebhookEvent):
    """A webhook body whose type is named from the row: `task.submitted` (a new task), `task.<status>`
    for a status change (`task.waiting_manual`), `task.note` for a note that changes no status, or the
    event of a fact (`task.checkpoint_created`, ...)."""

    type: str  # type: ignore[assignment]  # any row's name, not only the webhook types
    progress: Progress | None = None
    subtask: SubtaskRef | None = None


def generic_type(row: Mapping[str, Any]) -> str:
    if row["from_status"] is None:
        return "task.submitted"
    if row["to_status"] != row["from_status"]:
        return f"task.{row['to_status'].lower()}"
    return "task.note"


def _event(row: Mapping[str, Any], type_: str, key: str = "task-event", **fields: Any) -> LedgerEvent:
    """An event of the row; `key` makes its body id unique among the row's events (`progress-812`)."""
    return LedgerEvent(
        **{
            "id": f"{key}-{row['id']}",
            "type": type_,
            "occurred_at": row["at"],
            "task": task_ref(row, row["to_status"]),
            "run_id": row["run_id"],
            "from_status": row["from_status"],
            "to_status": row["to_status"],
            "phase": row.get("phase"),
            "note": row["note"],
            **fields,
        }
    )


def fact_events(row: Mapping[str, Any], phases: Phases) -> list[WebhookEvent]:
    """The events of a row recording a fact of a run; [] for any other row."""
    event, step, detail = row.get("event"), row.get("step"), row.get("detail") or {}
    steps = phases.get(row["kind"], {})
    phase = steps.get(step or "")
    if event == "checkpoint":
        found: list[WebhookEvent] = [_event(row, "task.checkpoint_created", step=step, phase=phase)]
        order = list(dict.fromkeys(steps.values()))
        # A phase is completed by the last of its steps (a kind may give one phase to several steps).
        if phase and [s for s, p in steps.items() if p == phase][-1] == step:
            progress = Progress(done=order.index(phase) + 1, total=len(order))
            found += [
                _event(row, "task.phase_completed", "phase-completed", step=step, phase=phase),
                _event(row, "task.progress", "progress", step=step, phase=phase, progress=progress),
            ]
        return found
    if event == "step_failed":
        return [_event(row, "task.phase_failed", step=step, phase=phase)]
    if event == "subtasks_generated":
        return [
            _event(row, "task.subtask_generated", f"subtask-{n}", subtask=SubtaskRef.model_validate(s))
            for n, s in enumerate(detail.get("subtasks", []), 1)
        ]
    return []


def stream_events(row: Mapping[str, Any], phases: Phases | None = None) -> list[WebhookEvent]:
    """The events of one task_events row joined with its task (Outbox.changes), in order."""
    return events_for_change(row) or fact_events(row, phases or {}) or [_event(row, generic_type(row))]


def frames(row: Mapping[str, Any], phases: Phases | None = None) -> bytes:
    """The row's events as SSE frames. The row id is the `id:` of its last event only: a client cut off
    between a task.failed and its dlq.added resumes before the row and is sent both again."""
    events = stream_events(row, phases)
    return b"".join(
        frame(e.type, e.body(), str(row["id"]) if n == len(events) - 1 else None) for n, e in enumerate(events)
    )

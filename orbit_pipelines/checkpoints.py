"""A task's checkpoints (`orbit task checkpoints`): every step that completed in any of its runs (first run,
retries, re-executions, rollbacks, resets), when, and a one-line summary of what it produced, read from
Dagster's event log through the instance's public API.

A checkpoint is superseded when a later run of the task completed the same step again, or when a rollback
or a reset marked it so (orbit.superseded_checkpoints): its stored output stays in Dagster's storage and
its event in the run's log, for audit; the current checkpoint of each step is the one a rollback to it
reuses. Summarising and marking are pure (summarize, mark_superseded); the rest reads the instance and
the ledger.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from sqlalchemy import text

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from orbit_pipelines.ledger import Ledger

# A summary is one line of a table: the first few short figures of the step's output metadata.
SUMMARY_CHARS = 100


@dataclass(frozen=True)
class Checkpoint:
    step: str
    run_id: str
    at: datetime
    summary: str
    superseded: bool = False
    # Why it no longer counts: "redone in run R", or the rollback's or reset's note.
    superseded_why: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "run_id": self.run_id,
            "at": self.at.isoformat(),
            "summary": self.summary,
            "superseded": self.superseded,
            "superseded_why": self.superseded_why or None,
        }


def summarize(metadata: Mapping[str, Any], fallback: str = "") -> str:
    """`subtasks: 4, dependencies: 3, estimated_hours: 22.5`: the step's plain figures and short texts in
    the order the op gave them; markdown, JSON and long texts are for the run page, not a line."""
    parts = []
    for key, value in metadata.items():
        shown = getattr(value, "value", value)
        if isinstance(shown, bool) or isinstance(shown, (int, float)) or (isinstance(shown, str) and len(shown) <= 40):
            if isinstance(shown, str) and "\n" in shown:
                continue
            parts.append(f"{key}: {shown}")
    line = ", ".join(parts) or fallback
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1] + "…"


def mark_superseded(checkpoints: Sequence[Checkpoint], marked: Mapping[tuple[str, str], str]) -> list[Checkpoint]:
    """`checkpoints` in time order, each older completion of a step that a later run completed again
    superseded, and those `marked` ((run id, step) -> why: a rollback's or a reset's note) too."""
    ordered = sorted(checkpoints, key=lambda c: c.at)
    newest: dict[str, Checkpoint] = {}
    for checkpoint in ordered:
        newest[checkpoint.step] = checkpoint
    out = []
    for checkpoint in ordered:
        why = marked.get((checkpoint.run_id, checkpoint.step), "")
        latest = newest[checkpoint.step]
        if not why and latest is not checkpoint:
            why = f"redone in run {latest.run_id}"
        out.append(replace(checkpoint, superseded=bool(why), superseded_why=why))
    return out


def current(checkpoints: Iterable[Checkpoint]) -> dict[str, Checkpoint]:
    """Step -> its checkpoint that still counts (not superseded)."""
    return {c.step: c for c in checkpoints if not c.superseded}


def run_checkpoints(instance: DagsterInstance, run_id: str) -> list[Checkpoint]:
    """The completed steps of one run, each summarised from its output's metadata (or, for a step with no
    metadata, the IO manager's words on storing its output)."""
    from dagster import DagsterEventType

    records = instance.get_records_for_run(
        run_id,
        of_type={DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_OUTPUT, DagsterEventType.HANDLED_OUTPUT},
    ).records
    metadata: dict[str, dict[str, Any]] = {}
    handled: dict[str, str] = {}
    found = []
    for record in records:
        entry = record.event_log_entry
        event = entry.get_dagster_event()
        step = entry.step_key or ""
        if event.event_type == DagsterEventType.STEP_OUTPUT:
            metadata.setdefault(step, {}).update(event.step_output_data.metadata)
        elif event.event_type == DagsterEventType.HANDLED_OUTPUT:
            handled[step] = event.message or ""
        else:
            summary = summarize(metadata.get(step, {}), handled.get(step, "completed"))
            found.append(Checkpoint(step, run_id, datetime.fromtimestamp(entry.timestamp, timezone.utc), summary))
    return found


def marked_superseded(ledger: Ledger, task_id: int) -> dict[tuple[str, str], str]:
    """(run id, step) -> why, for the checkpoints a rollback or a reset of the task superseded."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT run_id, step_key, reason FROM orbit.superseded_checkpoints WHERE task_id = :id"),
            {"id": task_id},
        )
        return {(r.run_id, r.step_key): r.reason or "superseded" for r in rows}


def cut_short_for(ledger: Ledger, task_id: int) -> set[tuple[str, str]]:
    """(run id, step) for each step that paused inside itself leaving this task PAUSED (a document batch,
    runtime/batch_pause.py): it completed in Dagster, but not for this task, so it is no checkpoint of it."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT DISTINCT p.run_id, p.paused_after FROM orbit.pause_requests p JOIN orbit.task_events e "
                "ON e.run_id = p.run_id AND e.task_id = :id AND e.to_status = 'PAUSED' WHERE p.cut_short"
            ),
            {"id": task_id},
        )
        return {(r.run_id, r.paused_after) for r in rows}


def task_checkpoints(instance: DagsterInstance, ledger: Ledger, task_id: int) -> list[Checkpoint]:
    """Every checkpoint of the task's runs, oldest first, superseded ones marked. TaskNotFound for no task."""
    ledger.get(task_id)
    found = [c for run_id in ledger.run_ids(task_id) for c in run_checkpoints(instance, run_id)]
    cut_short = cut_short_for(ledger, task_id)
    found = [c for c in found if (c.run_id, c.step) not in cut_short]
    return mark_superseded(found, marked_superseded(ledger, task_id))


def supersede(
    ledger: Ledger, task_ids: Iterable[int], checkpoints: Iterable[Checkpoint], by_run: str, reason: str
) -> None:
    """Mark these checkpoints superseded for each task (idempotent)."""
    rows = [
        {"task": task_id, "run": c.run_id, "step": c.step, "by": by_run, "reason": reason}
        for task_id in task_ids
        for c in checkpoints
    ]
    if not rows:
        return
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orbit.superseded_checkpoints (task_id, run_id, step_key, by_run_id, reason) "
                "VALUES (:task, :run, :step, :by, :reason) ON CONFLICT DO NOTHING"
            ),
            rows,
        )


CHECKPOINT_NOTE = "checkpoint"


def record_checkpoint(ledger: Ledger, run_id: str, step: str, summary: str) -> int:
    """A checkpoint is a fact in the history of every task the run works on (a `checkpoint` row in
    task_events, which the event stream carries as task.checkpoint_created): `checkpoint decompose_task:
    subtasks: 4, ...`. A batch's items that failed are left out: the later steps skip them; so are those
    the step itself left PAUSED (a batch paused inside it, runtime/batch_pause.py): it has not completed for
    them. Returns the number of rows written."""
    with ledger.engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note, event, step, detail) "
                "SELECT id, status, status, :run, :note, 'checkpoint', :step, CAST(:detail AS jsonb) "
                "FROM orbit.tasks WHERE run_id = :run AND status NOT IN ('FAILED', 'PAUSED')"
            ),
            {
                "run": run_id,
                "note": f"{CHECKPOINT_NOTE} {step}: {summary}",
                "step": step,
                "detail": json.dumps({"summary": summary}),
            },
        ).rowcount


def record_step_failed(ledger: Ledger, run_id: str, step: str, error: str) -> int:
    """A step that failed, in the history of the run's tasks it failed for (a `step_failed` row: the
    stream's task.phase_failed): those still queued or running, and those the step itself failed (a
    batch's bad item). Returns the number of rows written."""
    with ledger.engine.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note, event, step) "
                "SELECT id, status, status, :run, :note, 'step_failed', :step FROM orbit.tasks WHERE run_id = :run "
                "AND (status IN ('QUEUED', 'RUNNING') OR (status = 'FAILED' AND error_step = :step))"
            ),
            {"run": run_id, "note": f"step {step} failed: {error}"[:2000], "step": step},
        ).rowcount


def checkpoint_lines(task_id: int, checkpoints: Sequence[Checkpoint]) -> list[str]:
    """`orbit task checkpoints`: one row per checkpoint, and what to do with one."""
    if not checkpoints:
        return [f"task {task_id} has no checkpoints: none of its runs has completed a step yet"]
    rows = [("STEP", "RUN", "AT (UTC)", "STATE", "SUMMARY")]
    rows += [
        (
            c.step,
            c.run_id[:8],
            f"{c.at:%Y-%m-%d %H:%M:%S}",
            f"superseded ({c.superseded_why})" if c.superseded else "current",
            c.summary,
        )
        for c in checkpoints
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip() for row in rows
    ]
    return [*lines, f"`orbit task rollback {task_id} --to STEP --reason ...` continues from the step after STEP"]

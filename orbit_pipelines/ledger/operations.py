"""What operators do to the ledger: pause and resume intake, read and discard dead letters, and leave
audit notes that change no state."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Mapping

from sqlalchemy import Engine, text

from orbit_pipelines.ledger.states import TaskStatus
from orbit_pipelines.ledger.task import Task, TaskNotFound
from orbit_pipelines.ledger.transitions import record_event


class OperatorQueries:
    """Mixed into `Ledger`, which provides `engine` and `get`."""

    engine: Engine

    if TYPE_CHECKING:

        def get(self, task_id: int) -> Task: ...

    def set_paused(self, paused: bool, kind: str = "*", reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO orbit.intake_controls (kind, paused, reason) VALUES (:kind, :paused, :reason) "
                    "ON CONFLICT (kind) DO UPDATE SET paused = EXCLUDED.paused, reason = EXCLUDED.reason, "
                    "changed_at = now()"
                ),
                {"kind": kind, "paused": paused, "reason": reason},
            )

    def paused_kinds(self) -> dict[str, str]:
        """{kind or '*': reason} for every paused intake."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, coalesce(reason, '') FROM orbit.intake_controls WHERE paused"))
            return {kind: reason for kind, reason in rows}

    def pauses(self) -> list[dict[str, Any]]:
        """Every paused intake, '*' (all kinds) first: kind, reason ('' when none was given) and since."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT kind, coalesce(reason, '') AS reason, changed_at AS since FROM orbit.intake_controls "
                    "WHERE paused ORDER BY kind <> '*', kind"
                )
            )
            return [dict(r._mapping) for r in rows]

    def unfinished_by_lane(self) -> list[dict[str, Any]]:
        """Tasks not finished yet, per lane and status (PENDING, QUEUED, RUNNING): count and oldest submission."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT lane, status, count(*) AS n, min(created_at) AS oldest FROM orbit.tasks "
                    "WHERE status IN ('PENDING', 'QUEUED', 'RUNNING') GROUP BY lane, status ORDER BY lane, status"
                )
            )
            return [dict(r._mapping) for r in rows]

    def dead_letter_count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM orbit.tasks WHERE status = 'FAILED' AND discarded_at IS NULL")
            ).scalar_one()

    def dead_letters(self, kind: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """FAILED tasks nobody has discarded, with their failure history."""
        kind_filter = "AND t.kind = :kind" if kind else ""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"""
                    SELECT t.*, f.failures, f.first_failure, f.last_failure
                    FROM orbit.tasks t
                    CROSS JOIN LATERAL (
                        SELECT count(*) AS failures, min(at) AS first_failure, max(at) AS last_failure
                        FROM orbit.task_events e WHERE e.task_id = t.id AND e.to_status = 'FAILED'
                    ) f
                    WHERE t.status = 'FAILED' AND t.discarded_at IS NULL {kind_filter}
                    ORDER BY t.updated_at LIMIT :limit
                    """
                ),
                {"kind": kind, "limit": limit},
            )
            return [dict(r._mapping) for r in rows]

    def record_note(self, task_id: int, note: str, run_id: str | None = None) -> None:
        """An audit entry that changes no state (e.g. an operator's edit before a re-execution)."""
        task = self.get(task_id)
        with self.engine.begin() as conn:
            record_event(conn, task_id, task.status, task.status, run_id, note)

    def record_facts(self, run_id: str, event: str, facts: Mapping[int, tuple[str, Mapping[str, Any]]]) -> int:
        """One history row per task, changing no state, of a kind the event stream names (`event`, e.g.
        `subtasks_generated`), with a note for people and a `detail` for clients: {task id: (note,
        detail)}. Returns the number of rows written."""
        if not facts:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(
                text(
                    "INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note, event, detail) "
                    "SELECT t.id, t.status, t.status, :run, f.note, :event, CAST(f.detail AS jsonb) "
                    "FROM unnest(CAST(:ids AS bigint[]), CAST(:notes AS text[]), CAST(:details AS text[])) "
                    "AS f(id, note, detail) JOIN orbit.tasks t ON t.id = f.id"
                ),
                {
                    "run": run_id,
                    "event": event,
                    "ids": list(facts),
                    "notes": [note for note, _ in facts.values()],
                    "details": [json.dumps(detail) for _, detail in facts.values()],
                },
            ).rowcount

    def discard(self, task_id: int, reason: str) -> Task:
        """Take a FAILED task off the dead-letter list, keeping why and when."""
        if not reason.strip():
            raise ValueError("reason: a discard needs a reason")
        with self.engine.begin() as conn:
            row = conn.execute(
                text(
                    "UPDATE orbit.tasks SET discarded_at = now(), discard_reason = :reason, updated_at = now() "
                    "WHERE id = :id AND status = 'FAILED' AND discarded_at IS NULL RETURNING *"
                ),
                {"id": task_id, "reason": reason},
            ).first()
            if row is None:
                current = conn.execute(
                    text("SELECT status, discarded_at FROM orbit.tasks WHERE id = :id"), {"id": task_id}
                ).first()
                if current is None:
                    raise TaskNotFound(task_id)
                if current.discarded_at is not None:
                    raise ValueError(f"task {task_id} was discarded already, at {current.discarded_at:%Y-%m-%d %H:%M}")
                raise ValueError(
                    f"task {task_id} is {current.status}, not a dead letter: only the FAILED tasks `orbit dlq list` "
                    "shows can be discarded"
                )
            record_event(conn, task_id, TaskStatus.FAILED, TaskStatus.FAILED, None, f"discarded: {reason}")
            return Task.from_row(row)

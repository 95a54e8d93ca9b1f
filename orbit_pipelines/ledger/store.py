"""The task ledger's `Ledger`: submitting tasks and reading them back. Its other query groups are mixins:
status changes (`transitions`), dispatch claims and batches (`dispatch`), operator controls
(`operations`); the `Task` model is in `task`."""

from __future__ import annotations

import builtins
import json
import uuid
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.ledger.dispatch import DispatchQueries
from orbit_pipelines.ledger.operations import OperatorQueries
from orbit_pipelines.ledger.phases import PhaseQueries
from orbit_pipelines.ledger.states import ACTIVE, TaskStatus
from orbit_pipelines.ledger.task import Task, TaskNotFound
from orbit_pipelines.ledger.transitions import TransitionQueries, record_event, record_run

LANES = ("sync", "async")
MIN_PRIORITY, MAX_PRIORITY = -100, 100


class IdempotencyConflict(ValueError):
    """The key was used before for different work: returning that task would hide a mistake."""


class Ledger(TransitionQueries, DispatchQueries, OperatorQueries, PhaseQueries):
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- intake --------------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        priority: int = 0,
        lane: str = "async",
        idempotency_key: str | None = None,
        status: TaskStatus = TaskStatus.PENDING,
        run_id: str | None = None,
    ) -> tuple[Task, bool]:
        """Insert a task, or return the existing one for the same idempotency key.

        Returns (task, created). The payload must already be validated for its kind.
        `status=QUEUED` with a run id is for work that arrives inside a run (a Launchpad launch).
        """
        if lane not in LANES:
            raise ValueError(f"lane: must be one of {', '.join(LANES)}, got {lane!r}")
        if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
            raise ValueError(f"priority: must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}")
        key = idempotency_key or f"auto:{uuid.uuid4()}"
        stmt = text(
            """
            INSERT INTO orbit.tasks (kind, payload, status, priority, lane, idempotency_key, run_id,
                                     queued_at)
            VALUES (:kind, :payload, :status, :priority, :lane, :key, :run_id,
                    CASE WHEN :status = 'QUEUED' THEN now() END)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING *
            """
        ).bindparams(bindparam("payload", type_=JSONB))
        with self.engine.begin() as conn:
            row = conn.execute(
                stmt,
                {
                    "kind": kind,
                    "payload": payload,
                    "status": status.value,
                    "priority": priority,
                    "lane": lane,
                    "key": key,
                    "run_id": run_id,
                },
            ).first()
            if row is not None:
                task = Task.from_row(row)
                record_event(conn, task.id, None, task.status, run_id, "submitted")
                if run_id:
                    record_run(conn, task.id, run_id)
                return task, True
            existing = Task.from_row(
                conn.execute(text("SELECT * FROM orbit.tasks WHERE idempotency_key = :key"), {"key": key}).one()
            )
        if existing.kind != kind or existing.payload != json.loads(json.dumps(payload)):
            raise IdempotencyConflict(
                f"idempotency key {key!r} already belongs to task {existing.id} ({existing.kind}) "
                "with a different payload; use a new key for new work"
            )
        return existing, False

    def submit_many(
        self, kind: str, items: list[tuple[dict[str, Any], str]], *, priority: int = 0, lane: str = "async"
    ) -> dict[str, int]:
        """Insert many (payload, idempotency key) pairs in one transaction, so a dispatcher sees all or
        none of them (documents that arrive together are batched together). Existing keys are kept.
        Returns {key: task id} for every key."""
        return {
            key: task_id
            for key, (task_id, _) in self.submit_many_created(kind, items, priority=priority, lane=lane).items()
        }

    def submit_many_created(
        self, kind: str, items: list[tuple[dict[str, Any], str]], *, priority: int = 0, lane: str = "async"
    ) -> dict[str, tuple[int, bool]]:
        """submit_many, saying for each key whether this call created its task: {key: (task id, created)}.
        One transaction and one commit for all of them (a commit costs ~2 ms here: 1,000 single submits
        spent 2 s committing, profile of `orbit doc submit` on 1,000 files)."""
        if not items:
            return {}
        stmt = text(
            """
            WITH incoming AS (
                SELECT * FROM jsonb_to_recordset(:rows) AS r(payload jsonb, key text)
            ), inserted AS (
                INSERT INTO orbit.tasks (kind, payload, priority, lane, idempotency_key)
                SELECT :kind, payload, :priority, :lane, key FROM incoming
                ON CONFLICT (idempotency_key) DO NOTHING
                RETURNING id, idempotency_key
            ), logged AS (
                INSERT INTO orbit.task_events (task_id, from_status, to_status, note)
                SELECT id, NULL, 'PENDING', 'submitted' FROM inserted
            )
            SELECT id, idempotency_key, true AS created FROM inserted
            UNION ALL
            SELECT t.id, t.idempotency_key, false FROM orbit.tasks t JOIN incoming i ON t.idempotency_key = i.key
            """
        ).bindparams(bindparam("rows", type_=JSONB))
        rows = [{"payload": payload, "key": key} for payload, key in items]
        found: dict[str, tuple[int, bool]] = {}
        with self.engine.begin() as conn:
            # A new row is in both halves (the outer SELECT sees the table as before the statement: not
            # in the second), an existing one only in the second; `created` is kept when the key repeats.
            for task_id, key, created in conn.execute(
                stmt, {"rows": rows, "kind": kind, "priority": priority, "lane": lane}
            ):
                found[key] = (task_id, created or found.get(key, (0, False))[1])
        return found

    # -- reads ---------------------------------------------------------------------------------

    def get(self, task_id: int) -> Task:
        with self.engine.connect() as conn:
            row = conn.execute(text("SELECT * FROM orbit.tasks WHERE id = :id"), {"id": task_id}).first()
        if row is None:
            raise TaskNotFound(task_id)
        return Task.from_row(row)

    def find_by_key(self, idempotency_key: str) -> Task | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT * FROM orbit.tasks WHERE idempotency_key = :key"), {"key": idempotency_key}
            ).first()
        return Task.from_row(row) if row else None

    def list(self, *, status: TaskStatus | None = None, kind: str | None = None, limit: int = 50) -> list[Task]:
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            clauses.append("status = :status")
            params["status"] = TaskStatus(status).value
        if kind is not None:
            clauses.append("kind = :kind")
            params["kind"] = kind
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.engine.connect() as conn:
            rows = conn.execute(text(f"SELECT * FROM orbit.tasks {where} ORDER BY id DESC LIMIT :limit"), params)
            return Task.from_rows(rows)

    def counts_by_status(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT status, count(*) FROM orbit.tasks GROUP BY status"))
            return {status: n for status, n in rows}

    # builtins.list: in the class body below, `list` is the method above.
    def run_ids(self, task_id: int) -> builtins.list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT run_id FROM orbit.task_runs WHERE task_id = :id ORDER BY attached_at, run_id"),
                    {"id": task_id},
                ).scalars()
            )

    def events(self, task_id: int) -> builtins.list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    # In time order: a phase is recorded when the phase sensor reads its step's start, after
                    # changes that came later when that step was short (ledger/phases.py).
                    "SELECT from_status, to_status, run_id, note, at FROM orbit.task_events "
                    "WHERE task_id = :id ORDER BY at, id"
                ),
                {"id": task_id},
            )
            return [dict(r._mapping) for r in rows]

    def get_many(self, task_ids: Sequence[int]) -> builtins.list[Task]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM orbit.tasks WHERE id = ANY(:ids) ORDER BY id"), {"ids": list(task_ids)}
            )
            return Task.from_rows(rows)

    def states_of(
        self, task_ids: Sequence[int], changed_since: datetime | None = None
    ) -> tuple[dict[int, tuple[TaskStatus, str | None, str | None]], datetime]:
        """({id: (status, run id, phase)}, where the next poll's `changed_since` may start): what a
        waiter compares between polls, without the payloads (a poll of 1,000 whole rows every 0.1 s cost
        the run it waits for a share of the CPU). With `changed_since`, only the tasks changed since then
        (status or phase).

        The second value is the database's clock now, or earlier: the start of the oldest transaction
        still open. A transaction stamps `updated_at = now()`, its own start, and may commit long after
        (a worker whose link to the database was cut for 10 s); its rows, invisible to this poll, carry
        a time before this poll's, and the next poll must still read them."""
        where = "id = ANY(:ids)"
        if changed_since is not None:
            where += " AND greatest(updated_at, coalesce(phase_at, updated_at)) >= :since"
        with self.engine.connect() as conn:
            # Read before the rows, in the same transaction: a transaction that begins after this
            # stamps a time after it.
            now = conn.execute(
                text(
                    "SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()))"
                )
            ).scalar_one()
            rows = conn.execute(
                text(f"SELECT id, status, run_id, phase FROM orbit.tasks WHERE {where}"),
                {"ids": list(task_ids), "since": changed_since},
            )
            return {r.id: (TaskStatus(r.status), r.run_id, r.phase) for r in rows}, now


__all__ = ["ACTIVE", "IdempotencyConflict", "Ledger", "Task", "TaskNotFound"]

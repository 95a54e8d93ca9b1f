"""Queries on the ledger. Every status change is one conditional UPDATE, so two workers racing
for the same task can never both move it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.ledger.states import ACTIVE, InvalidTransition, TaskStatus, path_between, sources_of

LANES = ("sync", "async")
MIN_PRIORITY, MAX_PRIORITY = -100, 100


class TaskNotFound(LookupError):
    def __init__(self, task_id: int):
        super().__init__(f"task {task_id} does not exist")
        self.task_id = task_id


class IdempotencyConflict(ValueError):
    """The key was used before for different work: returning that task would hide a mistake."""


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

    @classmethod
    def from_row(cls, row: Any) -> "Task":
        return cls._from_values(zip(row._fields, row))

    @classmethod
    def from_rows(cls, result: Any) -> list["Task"]:
        # The column names once per result: a Row's own key list is rebuilt for every row (0.16 ms
        # each), which was most of a 1,000-task dispatch tick (bench.ledger_scale profile).
        keys = list(result.keys())
        return [cls._from_values(zip(keys, row)) for row in result]

    @classmethod
    def _from_values(cls, pairs) -> "Task":
        values = {k: v for k, v in pairs if k in cls.__dataclass_fields__}
        values["status"] = TaskStatus(values["status"])
        return cls(**values)


_TIMESTAMP_FOR = {
    TaskStatus.QUEUED: "queued_at",
    TaskStatus.RUNNING: "started_at",
    TaskStatus.COMPLETED: "finished_at",
    TaskStatus.FAILED: "finished_at",
    TaskStatus.CANCELED: "finished_at",
}


class Ledger:
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
                {"kind": kind, "payload": payload, "status": status.value, "priority": priority,
                 "lane": lane, "key": key, "run_id": run_id},
            ).first()
            if row is not None:
                task = Task.from_row(row)
                self._record_event(conn, task.id, None, task.status, run_id, "submitted")
                if run_id:
                    self._attach_run(conn, task.id, run_id)
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

    def submit_many(self, kind: str, items: list[tuple[dict[str, Any], str]], *, priority: int = 0,
                    lane: str = "async") -> dict[str, int]:
        """Insert many (payload, idempotency key) pairs in one transaction, so a dispatcher sees all or
        none of them (documents that arrive together are batched together). Existing keys are kept.
        Returns {key: task id} for every key."""
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
            SELECT id, idempotency_key FROM inserted
            UNION ALL
            SELECT t.id, t.idempotency_key FROM orbit.tasks t JOIN incoming i ON t.idempotency_key = i.key
            """
        ).bindparams(bindparam("rows", type_=JSONB))
        rows = [{"payload": payload, "key": key} for payload, key in items]
        with self.engine.begin() as conn:
            return {key: task_id for task_id, key in conn.execute(
                stmt, {"rows": rows, "kind": kind, "priority": priority, "lane": lane})}

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
        clauses, params = [], {"limit": limit}
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

    def run_ids(self, task_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    text("SELECT run_id FROM orbit.task_runs WHERE task_id = :id ORDER BY attached_at, run_id"),
                    {"id": task_id},
                ).scalars()
            )

    def events(self, task_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT from_status, to_status, run_id, note, at FROM orbit.task_events "
                     "WHERE task_id = :id ORDER BY id"),
                {"id": task_id},
            )
            return [dict(r._mapping) for r in rows]

    # -- dispatch ------------------------------------------------------------------------------

    def claim_pending(self, limit: int, kinds: Sequence[str] | None = None, batch_size: int = 1) -> list[Task]:
        """Move up to `limit` PENDING tasks to QUEUED, highest priority first, and give each its
        dispatch key: `task-<id>` alone, `batch-<first>-<last>` when grouped (per lane, in as few
        evenly filled groups of at most `batch_size` as possible). One statement, so a task is never
        queued without its key.

        SKIP LOCKED lets two dispatchers run at once without claiming the same row twice.
        """
        kind_filter = "AND kind = ANY(:kinds)" if kinds is not None else ""
        stmt = text(
            f"""
            WITH picked AS (
                SELECT id, lane, priority FROM orbit.tasks
                WHERE status = 'PENDING' {kind_filter}
                ORDER BY priority DESC, id
                LIMIT :limit
                FOR UPDATE SKIP LOCKED
            ), numbered AS (
                SELECT id, lane, row_number() OVER (PARTITION BY lane ORDER BY priority DESC, id) - 1 AS position,
                       count(*) OVER (PARTITION BY lane) AS n
                FROM picked
            ), chunked AS (
                -- As few runs as the batch size allows, evenly filled: 30 tasks at 25 are two runs of 15.
                SELECT id, lane, position / ceil(n::numeric / ceil(n::numeric / :batch_size))::int AS chunk
                FROM numbered
            ), keyed AS (
                SELECT id, CASE WHEN count(*) OVER w = 1 THEN 'task-' || id
                                ELSE 'batch-' || min(id) OVER w || '-' || max(id) OVER w END AS dispatch_key
                FROM chunked WINDOW w AS (PARTITION BY lane, chunk)
            ), moved AS (
                UPDATE orbit.tasks t
                SET status = 'QUEUED', queued_at = now(), updated_at = now(), dispatch_key = keyed.dispatch_key
                FROM keyed WHERE t.id = keyed.id
                RETURNING t.*
            ), logged AS (
                INSERT INTO orbit.task_events (task_id, from_status, to_status, note)
                SELECT id, 'PENDING', 'QUEUED', 'dispatched as ' || dispatch_key FROM moved
            )
            SELECT * FROM moved ORDER BY priority DESC, id
            """
        )
        params: dict[str, Any] = {"limit": limit, "batch_size": max(1, batch_size)}
        if kinds is not None:
            params["kinds"] = list(kinds)
        with self.engine.begin() as conn:
            return Task.from_rows(conn.execute(stmt, params))

    def claim(self, task_ids: Sequence[int], dispatch_key: str, note: str = "launched directly") -> list[Task]:
        """Move these tasks PENDING -> QUEUED under one dispatch key, in one statement; a task no longer
        PENDING (the dispatch sensor, another submitter or a cancel got there first) is left alone."""
        return self._move_claim(task_ids, dispatch_key, "PENDING", "QUEUED", note)

    def release(self, task_ids: Sequence[int], dispatch_key: str, note: str) -> list[Task]:
        """A claim whose run could not be launched: QUEUED -> PENDING, for the dispatch sensor to take."""
        return self._move_claim(task_ids, dispatch_key, "QUEUED", "PENDING", note)

    def _move_claim(self, task_ids, dispatch_key, source: str, target: str, note: str) -> list[Task]:
        claiming = target == "QUEUED"
        stmt = text(
            """
            WITH moved AS (
                UPDATE orbit.tasks
                SET status = :target, updated_at = now(),
                    queued_at = CASE WHEN :claiming THEN now() END,
                    dispatch_key = CASE WHEN :claiming THEN :key END
                WHERE id = ANY(:ids) AND status = :source
                  AND (:claiming OR (dispatch_key = :key AND run_id IS NULL))
                RETURNING *
            ), logged AS (
                INSERT INTO orbit.task_events (task_id, from_status, to_status, note)
                SELECT id, :source, :target, :note FROM moved
            )
            SELECT * FROM moved ORDER BY id
            """
        )
        with self.engine.begin() as conn:
            return Task.from_rows(conn.execute(stmt, {
                "ids": list(task_ids), "key": dispatch_key, "source": source, "target": target, "note": note,
                "claiming": claiming}))

    def tasks_for_run(self, run_id: str) -> list[Task]:
        """Tasks whose current run is `run_id`."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM orbit.tasks WHERE run_id = :run_id ORDER BY id"),
                                {"run_id": run_id})
            return Task.from_rows(rows)

    def tasks_ever_in_run(self, run_id: str) -> list[Task]:
        """Tasks a run worked on, even if a later run has taken them over since."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT t.* FROM orbit.tasks t JOIN orbit.task_runs r ON r.task_id = t.id "
                                     "WHERE r.run_id = :run_id ORDER BY t.id"), {"run_id": run_id})
            return Task.from_rows(rows)

    def tasks_with_dispatch_key(self, key: str) -> list[Task]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM orbit.tasks WHERE dispatch_key = :key ORDER BY id"), {"key": key})
            return Task.from_rows(rows)

    def get_many(self, task_ids: Sequence[int]) -> list[Task]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM orbit.tasks WHERE id = ANY(:ids) ORDER BY id"),
                                {"ids": list(task_ids)})
            return Task.from_rows(rows)

    def transition_many(
        self, task_ids: Sequence[int], target: TaskStatus, *, run_id: str | None = None, note: str | None = None
    ) -> list[Task]:
        """Move every listed task that may go to `target` in one statement; returns those moved.

        Tasks not in an allowed source state are left alone (the caller decides what that means).
        """
        target = TaskStatus(target)
        sets = ["status = :target", "updated_at = now()"]
        if target in _TIMESTAMP_FOR:
            sets.append(f"{_TIMESTAMP_FOR[target]} = now()")
        if target == TaskStatus.RUNNING:
            sets.append("attempts = t.attempts + 1")
        if target == TaskStatus.COMPLETED:
            sets += ["error_class = NULL", "error_message = NULL", "error_step = NULL"]
        params: dict[str, Any] = {"ids": list(task_ids), "target": target.value,
                                  "sources": [s.value for s in sources_of(target)], "run_id": run_id, "note": note}
        if run_id is not None:
            sets.append("run_id = :run_id")
        stmt = text(
            f"""
            WITH locked AS (
                SELECT id, status FROM orbit.tasks
                WHERE id = ANY(:ids) AND status = ANY(:sources) ORDER BY id FOR UPDATE
            ), moved AS (
                UPDATE orbit.tasks t SET {', '.join(sets)}
                FROM locked WHERE t.id = locked.id
                RETURNING t.*, locked.status AS previous_status
            ), logged AS (
                INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note)
                SELECT id, previous_status, :target, :run_id, :note FROM moved
            ), attached AS (
                INSERT INTO orbit.task_runs (task_id, run_id)
                SELECT id, :run_id FROM moved WHERE :run_id IS NOT NULL
                ON CONFLICT DO NOTHING
            )
            SELECT * FROM moved ORDER BY id
            """
        )
        with self.engine.begin() as conn:
            return Task.from_rows(conn.execute(stmt, params))

    def queued_without_run(self, older_than_seconds: float, limit: int) -> list[Task]:
        """QUEUED tasks whose run no op has reported yet: a dispatch that may have been lost."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    """
                    SELECT * FROM orbit.tasks
                    WHERE status = 'QUEUED' AND run_id IS NULL
                      AND updated_at < now() - make_interval(secs => :age)
                    ORDER BY updated_at LIMIT :limit
                    """
                ),
                {"age": older_than_seconds, "limit": limit},
            )
            return Task.from_rows(rows)

    def active(self, older_than_seconds: float, limit: int) -> list[Task]:
        """QUEUED or RUNNING tasks not touched for a while: candidates for reconciliation."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    """
                    SELECT * FROM orbit.tasks
                    WHERE status IN ('QUEUED', 'RUNNING')
                      AND updated_at < now() - make_interval(secs => :age)
                    ORDER BY updated_at LIMIT :limit
                    """
                ),
                {"age": older_than_seconds, "limit": limit},
            )
            return Task.from_rows(rows)

    # -- operations ----------------------------------------------------------------------------

    def set_paused(self, paused: bool, kind: str = "*", reason: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text("INSERT INTO orbit.intake_controls (kind, paused, reason) VALUES (:kind, :paused, :reason) "
                     "ON CONFLICT (kind) DO UPDATE SET paused = EXCLUDED.paused, reason = EXCLUDED.reason, "
                     "changed_at = now()"),
                {"kind": kind, "paused": paused, "reason": reason},
            )

    def paused_kinds(self) -> dict[str, str]:
        """{kind or '*': reason} for every paused intake."""
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT kind, coalesce(reason, '') FROM orbit.intake_controls WHERE paused"))
            return {kind: reason for kind, reason in rows}

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
            self._record_event(conn, task_id, task.status, task.status, run_id, note)

    def discard(self, task_id: int, reason: str) -> Task:
        """Take a FAILED task off the dead-letter list, keeping why and when."""
        if not reason.strip():
            raise ValueError("reason: a discard needs a reason")
        with self.engine.begin() as conn:
            row = conn.execute(
                text("UPDATE orbit.tasks SET discarded_at = now(), discard_reason = :reason, updated_at = now() "
                     "WHERE id = :id AND status = 'FAILED' AND discarded_at IS NULL RETURNING *"),
                {"id": task_id, "reason": reason},
            ).first()
            if row is None:
                current = conn.execute(text("SELECT status FROM orbit.tasks WHERE id = :id"), {"id": task_id}).scalar()
                if current is None:
                    raise TaskNotFound(task_id)
                raise ValueError(f"task {task_id} is {current}, not an undiscarded FAILED task")
            self._record_event(conn, task_id, TaskStatus.FAILED, TaskStatus.FAILED, None, f"discarded: {reason}")
            return Task.from_row(row)

    # -- transitions ---------------------------------------------------------------------------

    def transition(
        self,
        task_id: int,
        target: TaskStatus,
        *,
        expected: Iterable[TaskStatus] | None = None,
        run_id: str | None = None,
        error: tuple[str | None, str | None, str | None] | None = None,
        note: str | None = None,
    ) -> Task:
        """Move a task to `target` in one atomic step; raise InvalidTransition if it may not go there."""
        with self.engine.begin() as conn:
            return self._transition(conn, task_id, TaskStatus(target), expected, run_id, error, note)

    def _transition(self, conn: Connection, task_id, target, expected, run_id, error, note) -> Task:
        sources = sources_of(target)
        if expected is not None:
            sources = sources & frozenset(TaskStatus(s) for s in expected)
        sets = ["status = :target", "updated_at = now()"]
        if target in _TIMESTAMP_FOR:
            sets.append(f"{_TIMESTAMP_FOR[target]} = now()")
        params: dict[str, Any] = {"id": task_id, "target": target.value, "sources": [s.value for s in sources]}
        if run_id is not None:
            sets.append("run_id = :run_id")
            params["run_id"] = run_id
        if target == TaskStatus.RUNNING:
            sets.append("attempts = attempts + 1")
        if target == TaskStatus.QUEUED:
            sets += ["finished_at = NULL", "discarded_at = NULL", "discard_reason = NULL"]
        if target in (TaskStatus.FAILED,) and error is not None:
            sets += ["error_class = :error_class", "error_message = :error_message", "error_step = :error_step"]
            params.update(error_class=error[0], error_message=error[1], error_step=error[2])
        if target == TaskStatus.COMPLETED:
            sets += ["error_class = NULL", "error_message = NULL", "error_step = NULL"]
        # Lock the row first so the status we report as "from" is the one we changed.
        previous = conn.execute(
            text("SELECT status FROM orbit.tasks WHERE id = :id FOR UPDATE"), {"id": task_id}
        ).scalar()
        if previous is None:
            raise TaskNotFound(task_id)
        row = conn.execute(
            text(f"UPDATE orbit.tasks SET {', '.join(sets)} WHERE id = :id AND status = ANY(:sources) RETURNING *"),
            params,
        ).first()
        if row is None:
            raise InvalidTransition(TaskStatus(previous), target, task_id)
        task = Task.from_row(row)
        self._record_event(conn, task_id, previous, target, run_id, note)
        if run_id is not None:
            self._attach_run(conn, task_id, run_id)
        return task

    def move_along(
        self,
        task_id: int,
        target: TaskStatus,
        *,
        run_id: str,
        error: tuple[str | None, str | None, str | None] | None = None,
        note: str | None = None,
        only_if_current_run: bool = True,
    ) -> Task | None:
        """Bring a task to `target` through legal steps (reconciling with what its run did).

        With `only_if_current_run`, an outcome from an older run of the task is ignored (returns
        None): a late report about run A must not overwrite the state of re-execution B.
        """
        target = TaskStatus(target)
        with self.engine.begin() as conn:
            row = conn.execute(
                text("SELECT status, run_id FROM orbit.tasks WHERE id = :id FOR UPDATE"), {"id": task_id}
            ).first()
            if row is None:
                raise TaskNotFound(task_id)
            current, current_run = TaskStatus(row.status), row.run_id
            if only_if_current_run and current_run not in (None, run_id):
                return None
            if current == target:
                if current_run != run_id:
                    # A re-execution redid work on a task already in the target state (e.g. re-ran
                    # store_results of a completed task): it is now the task's current run.
                    conn.execute(text("UPDATE orbit.tasks SET run_id = :run_id, updated_at = now() WHERE id = :id"),
                                 {"id": task_id, "run_id": run_id})
                    self._attach_run(conn, task_id, run_id)
                return Task.from_row(conn.execute(text("SELECT * FROM orbit.tasks WHERE id = :id"), {"id": task_id}).one())
            path = path_between(current, target)
            if path is None:
                raise InvalidTransition(current, target, task_id)
            task = None
            for step in path:
                task = self._transition(
                    conn, task_id, step, [current], run_id, error if step == target else None, note
                )
                current = step
            return task

    def attach_run(self, task_id: int, run_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE orbit.tasks SET run_id = :run_id, updated_at = now() WHERE id = :id"),
                         {"id": task_id, "run_id": run_id})
            self._attach_run(conn, task_id, run_id)

    @staticmethod
    def _attach_run(conn: Connection, task_id: int, run_id: str) -> None:
        conn.execute(
            text("INSERT INTO orbit.task_runs (task_id, run_id) VALUES (:id, :run_id) ON CONFLICT DO NOTHING"),
            {"id": task_id, "run_id": run_id},
        )

    @staticmethod
    def _record_event(conn: Connection, task_id, from_status, to_status, run_id, note) -> None:
        conn.execute(
            text(
                "INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note) "
                "VALUES (:id, :from_status, :to_status, :run_id, :note)"
            ),
            {
                "id": task_id,
                "from_status": TaskStatus(from_status).value if from_status else None,
                "to_status": TaskStatus(to_status).value,
                "run_id": run_id,
                "note": note,
            },
        )


__all__ = ["ACTIVE", "IdempotencyConflict", "Ledger", "Task", "TaskNotFound"]

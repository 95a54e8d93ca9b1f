"""Dispatch: claiming PENDING tasks for runs (one by one or in batches under a dispatch key), giving
back a claim whose run never started, which tasks a run or a dispatch key holds, and the QUEUED or
RUNNING tasks gone quiet that reconciliation looks at."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Engine, text

from orbit_pipelines.ledger.task import Task


class DispatchQueries:
    """Mixed into `Ledger`, which provides `engine`."""

    engine: Engine

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
            return Task.from_rows(
                conn.execute(
                    stmt,
                    {
                        "ids": list(task_ids),
                        "key": dispatch_key,
                        "source": source,
                        "target": target,
                        "note": note,
                        "claiming": claiming,
                    },
                )
            )

    def tasks_for_run(self, run_id: str) -> list[Task]:
        """Tasks whose current run is `run_id`."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT * FROM orbit.tasks WHERE run_id = :run_id ORDER BY id"), {"run_id": run_id}
            )
            return Task.from_rows(rows)

    def tasks_ever_in_run(self, run_id: str) -> list[Task]:
        """Tasks a run worked on, even if a later run has taken them over since."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT t.* FROM orbit.tasks t JOIN orbit.task_runs r ON r.task_id = t.id "
                    "WHERE r.run_id = :run_id ORDER BY t.id"
                ),
                {"run_id": run_id},
            )
            return Task.from_rows(rows)

    def tasks_with_dispatch_key(self, key: str) -> list[Task]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM orbit.tasks WHERE dispatch_key = :key ORDER BY id"), {"key": key})
            return Task.from_rows(rows)

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

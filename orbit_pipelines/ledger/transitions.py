"""Status changes and their audit trail. Every change is one conditional UPDATE, so two workers racing
for the same task can never both move it; each one writes a `task_events` row, and a run that touches a
task is attached to it in `task_runs`."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Engine, text

from orbit_pipelines.ledger.states import InvalidTransition, TaskStatus, path_between, sources_of
from orbit_pipelines.ledger.task import Task, TaskNotFound

_TIMESTAMP_FOR = {
    TaskStatus.QUEUED: "queued_at",
    TaskStatus.RUNNING: "started_at",
    TaskStatus.COMPLETED: "finished_at",
    TaskStatus.FAILED: "finished_at",
    TaskStatus.CANCELED: "finished_at",
}


class TransitionQueries:
    """Mixed into `Ledger`, which provides `engine`."""

    engine: Engine

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
        # A task parked for a person keeps why, as a failed one does (it is not a dead letter: not FAILED).
        if target in (TaskStatus.FAILED, TaskStatus.WAITING_MANUAL) and error is not None:
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
        if target == TaskStatus.FAILED and error is not None:
            # The history says why each failure happened; the task row keeps only the last error.
            note = failure_note(note, *error)
        record_event(conn, task_id, previous, target, run_id, note)
        if run_id is not None:
            record_run(conn, task_id, run_id)
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
                    conn.execute(
                        text("UPDATE orbit.tasks SET run_id = :run_id, updated_at = now() WHERE id = :id"),
                        {"id": task_id, "run_id": run_id},
                    )
                    record_run(conn, task_id, run_id)
                return Task.from_row(
                    conn.execute(text("SELECT * FROM orbit.tasks WHERE id = :id"), {"id": task_id}).one()
                )
            path = path_between(current, target)
            if path is None:
                raise InvalidTransition(current, target, task_id)
            task = None
            for step in path:
                task = self._transition(conn, task_id, step, [current], run_id, error if step == target else None, note)
                current = step
            return task

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
        params: dict[str, Any] = {
            "ids": list(task_ids),
            "target": target.value,
            "sources": [s.value for s in sources_of(target)],
            "run_id": run_id,
            "note": note,
        }
        if run_id is not None:
            sets.append("run_id = :run_id")
        stmt = text(
            f"""
            WITH locked AS (
                SELECT id, status FROM orbit.tasks
                WHERE id = ANY(:ids) AND status = ANY(:sources) ORDER BY id FOR UPDATE
            ), moved AS (
                UPDATE orbit.tasks t SET {", ".join(sets)}
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

    def attach_run(self, task_id: int, run_id: str) -> None:
        self.attach_runs([task_id], run_id)

    def attach_runs(self, task_ids: Sequence[int], run_id: str) -> None:
        """The tasks are worked on by `run_id`, in one transaction (1,000 single ones took 2 s of a launch)."""
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE orbit.tasks SET run_id = :run_id, updated_at = now() WHERE id = ANY(:ids)"),
                {"ids": list(task_ids), "run_id": run_id},
            )
            conn.execute(
                text(
                    "INSERT INTO orbit.task_runs (task_id, run_id) SELECT unnest(CAST(:ids AS bigint[])), :run_id "
                    "ON CONFLICT DO NOTHING"
                ),
                {"ids": list(task_ids), "run_id": run_id},
            )


# Enough to say what happened; the full message stays on the task row and in the run's log.
_NOTE_ERROR_CHARS = 500


def failure_note(note: str | None, error_class: str | None, message: str | None, step: str | None) -> str | None:
    """A FAILED event's note with its error: `step failed: ValueError in load_task: ...`."""
    if not error_class:
        return note
    where = f" in {step}" if step else ""
    detail = f"{error_class}{where}: {message or ''}"
    if len(detail) > _NOTE_ERROR_CHARS:
        detail = detail[: _NOTE_ERROR_CHARS - 1] + "…"
    return f"{note}: {detail}" if note else detail


def record_run(conn: Connection, task_id: int, run_id: str) -> None:
    """Remember that run `run_id` worked on the task (`task_runs`), whatever run comes later."""
    conn.execute(
        text("INSERT INTO orbit.task_runs (task_id, run_id) VALUES (:id, :run_id) ON CONFLICT DO NOTHING"),
        {"id": task_id, "run_id": run_id},
    )


def record_event(conn: Connection, task_id, from_status, to_status, run_id, note) -> None:
    """One `task_events` row: the audit entry of a status change (or of a note that changes none)."""
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

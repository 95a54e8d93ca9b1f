"""The phase a running task is in: its kind's name for the step its run is executing (JobKind.phases).

Written from Dagster's step-start events (sensors/phases.py), never by the ops themselves, so every job
has phases without a line of its own code. Each phase entered is also a `task_events` row (status
unchanged, `phase` set): the task's history shows it and webhooks send it as task.phase_started."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, text


class PhaseQueries:
    """Mixed into `Ledger`, which provides `engine`."""

    engine: Engine

    def enter_phase(self, run_id: str, phase: str, at: datetime) -> list[int]:
        """The tasks `run_id` was working on at `at` enter `phase` as of then; returns the ids that moved.

        The sensor reads step starts a few seconds late, so a task counts as in the run at `at` if it is
        QUEUED or RUNNING under it now, or ended after `at` (a short last step: the task completed before the tick),
        and its history still gets the phase. Idempotent and ordered: a task already in that phase, or
        that entered a later one (an event read out of order, a tick replayed), is left alone; a task that
        ended before the step started (a failed document in a batch whose others go on) is not moved."""
        stmt = text(
            """
            WITH moved AS (
                UPDATE orbit.tasks SET phase = :phase, phase_at = :at
                WHERE run_id = :run_id AND (status IN ('QUEUED', 'RUNNING') OR finished_at >= :at)
                  AND phase IS DISTINCT FROM :phase AND (phase_at IS NULL OR phase_at < :at)
                RETURNING id
            ), logged AS (
                INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note, phase, at)
                SELECT id, 'RUNNING', 'RUNNING', :run_id, 'phase ' || :phase, :phase, :at FROM moved
            )
            SELECT id FROM moved ORDER BY id
            """
        )
        with self.engine.begin() as conn:
            return list(conn.execute(stmt, {"run_id": run_id, "phase": phase, "at": at}).scalars())


__all__ = ["PhaseQueries"]

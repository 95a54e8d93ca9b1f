"""Which tasks the stuck-task sweep has work for. One predicate, used by the sensor that decides whether
to start a sweep and by the sweep op that settles them, so the two never disagree."""

from __future__ import annotations

from dagster import DagsterInstance, RunsFilter

from orbit_pipelines.ledger import Ledger, Task
from orbit_pipelines.outcomes import RETRY_EXPECTED_WITHIN_SECONDS, settling_run

# A task QUEUED or RUNNING with no change for this long is worth a look; younger ones are left to the
# outcome sensors, which settle a run's task within seconds of its end.
STALE_AFTER_SECONDS = 600
SWEEP_LIMIT = 500


def stale_tasks(
    ledger: Ledger,
    instance: DagsterInstance,
    older_than_seconds: float = STALE_AFTER_SECONDS,
    limit: int = SWEEP_LIMIT,
    retry_within: float = RETRY_EXPECTED_WITHIN_SECONDS,
) -> list[Task]:
    """Tasks QUEUED or RUNNING without any change for `older_than_seconds` (at most `limit`) whose run has
    ended, no longer exists, or was never linked to the task: what `reconcile_task` can settle.

    A task whose run is still queued or in progress is not stale, however long it has run: a long
    agent run or a backlog in the sync lane must not start a sweep every interval. Nor is one whose run
    crashed and is being retried by Dagster, or is to be within `retry_within` seconds of its end.
    """
    candidates = ledger.active(older_than_seconds, limit)
    linked = [t.run_id for t in candidates if t.run_id]
    runs = {r.run_id: r for r in instance.get_runs(RunsFilter(run_ids=linked))} if linked else {}
    return [
        t
        for t in candidates
        if t.run_id is None
        or t.run_id not in runs
        or (runs[t.run_id].is_finished and settling_run(instance, runs[t.run_id], retry_within) is not None)
    ]

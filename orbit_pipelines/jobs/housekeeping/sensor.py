"""The stuck-task sweep, started only when there is something to settle.

A schedule started the sweep every 10 minutes whatever the ledger held: 144 runs a day on the Runs
page, nearly all of them settling nothing. This sensor makes the same check the sweep op makes
(`stale.stale_tasks`) and requests a run only when it finds a task; otherwise its tick is a skip,
which Dagster keeps one day (dagster.yaml `retention`) and the Runs page never shows.
"""

from __future__ import annotations

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from orbit_pipelines.jobs.housekeeping.job import housekeeping
from orbit_pipelines.jobs.housekeeping.stale import STALE_AFTER_SECONDS, SWEEP_LIMIT, stale_tasks
from orbit_pipelines.resources import LedgerResource, env_number

DEFAULT_INTERVAL_SECONDS = 600
UNFINISHED = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]


@sensor(
    name="stuck_task_sweep_sensor",
    job=housekeeping,
    minimum_interval_seconds=int(env_number("ORBIT_SWEEP_INTERVAL_SECONDS", DEFAULT_INTERVAL_SECONDS)),
    default_status=DefaultSensorStatus.RUNNING,
    description=f"Every ORBIT_SWEEP_INTERVAL_SECONDS ({DEFAULT_INTERVAL_SECONDS}): starts the housekeeping sweep "
    f"when a task has been QUEUED or RUNNING for {STALE_AFTER_SECONDS} s without a change and its run has "
    "ended or vanished unseen.",
)
def stuck_task_sweep_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    stale = stale_tasks(ledger.get(), context.instance)
    if not stale:
        return SkipReason(
            f"nothing stale: no task QUEUED or RUNNING for {STALE_AFTER_SECONDS} s whose run has ended or vanished"
        )
    # Two sweeps at once would only race to settle the same tasks.
    if context.instance.get_runs(RunsFilter(job_name=housekeeping.name, statuses=UNFINISHED), limit=1):
        return SkipReason(f"{len(stale)} stale task(s), but a sweep is already queued or running")
    shown = ", ".join(str(t.id) for t in stale[:10]) + (" ..." if len(stale) > 10 else "")
    context.log.info(f"{len(stale)} stale task(s): {shown}; starting a sweep")
    return RunRequest(
        run_config={
            "ops": {"sweep_stuck_tasks": {"config": {"older_than_seconds": STALE_AFTER_SECONDS, "limit": SWEEP_LIMIT}}}
        },
        tags={"orbit/stale_tasks": str(len(stale))},
    )

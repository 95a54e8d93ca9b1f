"""Run-status sensors: a finished run moves its ledger task to COMPLETED, FAILED or CANCELED.

Ops already record outcomes as they happen (store_results, the failure hook); these sensors catch
what ops cannot: a crashed run worker, a run canceled from the UI, a run that failed to start.
"""

from __future__ import annotations

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    SkipReason,
    run_failure_sensor,
    run_status_sensor,
)

from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.ledger import InvalidTransition, TaskNotFound, TaskStatus
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.outcomes import apply_run_outcome, failure_from_step_events
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.lifecycle import resume_tasks, tasks_of_run
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP

_JOBS = [k.job for k in all_kinds().values()]


def _record(context: RunStatusSensorContext, ledger: LedgerResource, status: DagsterRunStatus, failure=None):
    run = context.dagster_run
    led = ledger.get()
    tasks = [t for t in tasks_of_run(led, run) if t.status not in TERMINAL or t.run_id != run.run_id]
    if not tasks:
        return SkipReason(f"run {run.run_id} has no unsettled ledger task")
    settled = []
    for task in tasks:
        try:
            after = apply_run_outcome(led, task.id, run.run_id, status, failure, note=f"run {status.value}")
        except (TaskNotFound, InvalidTransition) as exc:
            context.log.warning(f"run {run.run_id}: {exc}")
            continue
        if after is not None:
            settled.append(f"{task.id}={after.status.value}")
    if not settled:
        return SkipReason(f"run {run.run_id} is no longer the current run of its tasks")
    context.log.info(f"after run {run.run_id}: {', '.join(settled)}")
    return None


@run_status_sensor(
    name="task_success_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_success_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    return _record(context, ledger, DagsterRunStatus.SUCCESS)


@run_failure_sensor(
    name="task_failure_sensor",
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_failure_sensor(context: RunFailureSensorContext, ledger: LedgerResource):
    failure = failure_from_step_events(context.get_step_failure_events(), context.failure_event.message)
    return _record(context, ledger, DagsterRunStatus.FAILURE, failure)


@run_status_sensor(
    name="task_canceled_sensor",
    run_status=DagsterRunStatus.CANCELED,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_canceled_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    return _record(context, ledger, DagsterRunStatus.CANCELED)


@run_status_sensor(
    name="task_started_sensor",
    run_status=DagsterRunStatus.STARTED,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_started_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    """A re-execution that skips the first op still shows its tasks RUNNING while it works."""
    run = context.dagster_run
    if not run.parent_run_id:
        return SkipReason("first runs mark their own tasks RUNNING")
    led = ledger.get()
    ended_by_parent = [
        t
        for t in tasks_of_run(led, run)
        if t.status in (TaskStatus.FAILED, TaskStatus.CANCELED) and t.run_id in (run.parent_run_id, None)
    ]
    moved = resume_tasks(led, ended_by_parent, run.run_id, note="re-execution started")
    return None if moved else SkipReason(f"run {run.run_id}: no task to resume")

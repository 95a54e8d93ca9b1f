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

from orbit_pipelines.jobs.common import TASK_ID_TAG
from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.ledger import InvalidTransition, TaskNotFound
from orbit_pipelines.outcomes import apply_run_outcome, failure_from_step_events
from orbit_pipelines.resources import LedgerResource

_JOBS = [k.job for k in all_kinds().values()]


def _record(context: RunStatusSensorContext, ledger: LedgerResource, status: DagsterRunStatus, failure=None):
    run = context.dagster_run
    task_id = run.tags.get(TASK_ID_TAG)
    if not task_id:
        return SkipReason(f"run {run.run_id} has no {TASK_ID_TAG} tag")
    try:
        task = apply_run_outcome(ledger.get(), int(task_id), run.run_id, status, failure, note=f"run {status.value}")
    except (TaskNotFound, InvalidTransition) as exc:
        context.log.warning(f"run {run.run_id}: {exc}")
        return SkipReason(str(exc))
    if task is None:
        return SkipReason(f"run {run.run_id} is no longer task {task_id}'s current run")
    context.log.info(f"task {task_id} is {task.status.value} after run {run.run_id}")
    return None


@run_status_sensor(
    name="task_success_sensor",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_success_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    return _record(context, ledger, DagsterRunStatus.SUCCESS)


@run_failure_sensor(
    name="task_failure_sensor",
    monitored_jobs=_JOBS,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_failure_sensor(context: RunFailureSensorContext, ledger: LedgerResource):
    failure = failure_from_step_events(context.get_step_failure_events(), context.failure_event.message)
    return _record(context, ledger, DagsterRunStatus.FAILURE, failure)


@run_status_sensor(
    name="task_canceled_sensor",
    run_status=DagsterRunStatus.CANCELED,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_canceled_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    return _record(context, ledger, DagsterRunStatus.CANCELED)

"""Run-status sensors: a finished run moves its ledger task to COMPLETED, FAILED or CANCELED.

Ops already record outcomes as they happen (store_results, the failure hook); these sensors catch
what ops cannot: a crashed run worker, a run canceled from the UI, a run that failed to start.
A run Dagster is going to retry (a crashed worker, dagster.yaml `run_retries`) fails none of its tasks:
they stay as they are, with a note in their history, and follow the retry run when it starts.
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
from orbit_pipelines.ledger.states import ACTIVE, PARKED, TERMINAL
from orbit_pipelines.outcomes import (
    apply_run_outcome,
    failure_from_step_events,
    retry_of,
    timeout_of,
    will_be_retried,
)
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.infrastructure import INFRASTRUCTURE_ERROR_TAG
from orbit_pipelines.runtime.lifecycle import resume_tasks, tasks_of_run
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP

_JOBS = [k.job for k in all_kinds().values()]


def _record(context: RunStatusSensorContext, ledger: LedgerResource, status: DagsterRunStatus, failure=None):
    run = context.dagster_run
    led = ledger.get()
    # A task its run parked for a person (WAITING_MANUAL) stays parked whatever the run's end.
    tasks = [
        t
        for t in tasks_of_run(led, run)
        if t.status not in PARKED and (t.status not in TERMINAL or t.run_id != run.run_id)
    ]
    if not tasks:
        return SkipReason(f"run {run.run_id} has no unsettled ledger task")
    parent = retry_of(run)
    settled = []
    for task in tasks:
        try:
            if parent and task.run_id == parent and task.status in ACTIVE:
                led.attach_run(task.id, run.run_id)  # still with the crashed run this one retried
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
    if will_be_retried(context.instance, context.dagster_run):
        return _await_retry(context, ledger)
    # A run stopped at its budget (dagster/max_runtime) failed with a Timeout, in the step it was in.
    timeout = timeout_of(context.instance, context.dagster_run.run_id)
    failure = timeout or failure_from_step_events(context.get_step_failure_events(), context.failure_event.message)
    return _record(context, ledger, DagsterRunStatus.FAILURE, failure)


def _await_retry(context: RunFailureSensorContext, ledger: LedgerResource):
    """The run crashed and Dagster retries it: its unfinished tasks stay QUEUED/RUNNING, noted, for the
    retry to finish (the sweep fails them if the retry never comes: outcomes.settling_run)."""
    run = context.dagster_run
    led = ledger.get()
    waiting = [t for t in tasks_of_run(led, run) if t.status in ACTIVE and t.run_id in (run.run_id, None)]
    storage_error = run.tags.get(INFRASTRUCTURE_ERROR_TAG)
    timed_out = timeout_of(context.instance, run.run_id) is not None
    what = (
        f"failed on Dagster's own storage ({storage_error})"
        if storage_error
        else "went past its budget (Timeout)"
        if timed_out
        else "crashed"
    )
    for task in waiting:
        led.record_note(task.id, f"run {run.run_id} {what}; Dagster retries it", run_id=run.run_id)
    if not waiting:
        return SkipReason(f"run {run.run_id} will be retried and has no unfinished ledger task")
    context.log.info(f"run {run.run_id} will be retried by Dagster: {len(waiting)} task(s) left for the retry")
    return None


@run_status_sensor(
    name="task_canceled_sensor",
    run_status=DagsterRunStatus.CANCELED,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_canceled_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    # Run monitoring stops a run over its budget by canceling it: its tasks failed (Timeout), nobody canceled them.
    timeout = timeout_of(context.instance, context.dagster_run.run_id)
    if timeout is not None:  # the run may yet be marked FAILED and retried: the retry takes the tasks up again
        return _record(context, ledger, DagsterRunStatus.FAILURE, timeout)
    return _record(context, ledger, DagsterRunStatus.CANCELED)


@run_status_sensor(
    name="task_started_sensor",
    run_status=DagsterRunStatus.STARTED,
    monitored_jobs=_JOBS,
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
)
def task_started_sensor(context: RunStatusSensorContext, ledger: LedgerResource):
    """A re-execution that skips the first op still shows its tasks RUNNING while it works; Dagster's
    retry of a crashed run takes over the tasks the crash left unfinished."""
    run = context.dagster_run
    if not run.parent_run_id:
        return SkipReason("first runs mark their own tasks RUNNING")
    led = ledger.get()
    parent = run.parent_run_id
    ended_by_parent = [
        t
        for t in tasks_of_run(led, run)
        if (t.status in (TaskStatus.FAILED, TaskStatus.CANCELED) and t.run_id in (parent, None))
        or (t.status in ACTIVE and t.run_id == parent)
    ]
    retry = retry_of(run) is not None
    moved = resume_tasks(led, ended_by_parent, run.run_id, note="retry started" if retry else "re-execution started")
    if retry:
        for task in ended_by_parent:
            if task.status == TaskStatus.RUNNING:  # no status change: the history says which run has it now
                led.record_note(task.id, f"run {run.run_id}, Dagster's retry of run {parent}, took it over", run.run_id)
    return None if moved else SkipReason(f"run {run.run_id}: no task to resume")

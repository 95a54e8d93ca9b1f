"""What a finished run means for its task. Shared by the outcome sensors and the sweep.

A run whose worker crashed is retried by Dagster (dagster.yaml: `run_retries`, crashes only): its tasks
are not failed but follow the retry, and take the outcome of the last run of that chain."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable

from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus

# Dagster's run-retry tags, not exported: the instance sets `will_retry` ("true"/"false") on a run as it
# stores the run's failure; the retry daemon sets `auto_retry_run_id` on it when it creates the retry.
from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, RETRY_NUMBER_TAG, WILL_RETRY_TAG

from orbit_pipelines.ledger import Ledger, Task, TaskStatus

RUN_STATUS_TO_TASK = {
    DagsterRunStatus.SUCCESS: TaskStatus.COMPLETED,
    DagsterRunStatus.FAILURE: TaskStatus.FAILED,
    DagsterRunStatus.CANCELED: TaskStatus.CANCELED,
}


@dataclass(frozen=True)
class FailureDetails:
    error_class: str
    message: str
    step: str | None

    def as_tuple(self) -> tuple[str, str, str | None]:
        return self.error_class, self.message, self.step


def failure_from_step_events(events: Iterable[DagsterEvent], run_message: str | None = None) -> FailureDetails:
    """The first failed step's error class and message; the run's own message if no step failed."""
    for event in events:
        data = event.step_failure_data
        if data is None:
            continue
        metadata = data.user_failure_data.metadata if data.user_failure_data else {}
        declared = metadata.get("error_class")
        error = data.error
        # Dagster wraps user exceptions; the cause carries the class the user raised.
        root = error.cause if error is not None and error.cause is not None and not declared else error
        error_class = (
            str(getattr(declared, "value", declared)) if declared else (root.cls_name if root else "StepFailure")
        )
        if data.user_failure_data and data.user_failure_data.description:
            message = data.user_failure_data.description
        else:
            message = (root.message if root else "").strip() or event.message or "step failed"
        return FailureDetails(error_class or "StepFailure", _truncate(message), event.step_key)
    return FailureDetails("RunFailure", _truncate(run_message or "the run failed outside any step"), None)


def _truncate(message: str, limit: int = 2000) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


# The retry daemon creates a retry within seconds of the failure; a run marked for a retry that still has
# none this long after it ended (retries turned off meanwhile, the daemon gone) is settled as failed.
RETRY_EXPECTED_WITHIN_SECONDS = 300


def will_be_retried(instance: DagsterInstance, run: DagsterRun) -> bool:
    """Dagster will retry this failed run: its `dagster/will_retry` tag is "true" (read again from the
    instance when the copy at hand predates the tag, which lands just after the failure event)."""
    if run.status != DagsterRunStatus.FAILURE:
        return False
    value = run.tags.get(WILL_RETRY_TAG)
    if value is None and instance.run_retries_enabled:
        fresh = instance.get_run_by_id(run.run_id)
        value = fresh.tags.get(WILL_RETRY_TAG) if fresh is not None else None
    return value == "true"


def retry_of(run: DagsterRun) -> str | None:
    """The run this one is Dagster's automatic retry of (its parent), or None."""
    return run.parent_run_id if run.tags.get(RETRY_NUMBER_TAG) else None


def latest_attempt(instance: DagsterInstance, run: DagsterRun) -> DagsterRun:
    """The run, or the last of Dagster's automatic retries of it (a retry of a retry, ...)."""
    seen = {run.run_id}
    while (retry_id := run.tags.get(AUTO_RETRY_RUN_ID_TAG)) and retry_id not in seen:
        retry = instance.get_run_by_id(retry_id)
        if retry is None:
            break
        seen.add(retry_id)
        run = retry
    return run


def _retry_overdue(instance: DagsterInstance, run: DagsterRun, within: float) -> bool:
    record = instance.get_run_record_by_id(run.run_id)
    if record is None:
        return True
    ended = record.end_time or record.update_timestamp.timestamp()
    return time.time() - ended >= within


def settling_run(
    instance: DagsterInstance, run: DagsterRun, retry_within: float = RETRY_EXPECTED_WITHIN_SECONDS
) -> DagsterRun | None:
    """The finished run whose outcome a task of `run` takes: the run or the last of its retries. None
    while that one is still going, or it crashed and the retry Dagster owes it is not yet overdue."""
    latest = latest_attempt(instance, run)
    if not latest.is_finished:
        return None
    if latest.is_complete_and_waiting_to_retry and not _retry_overdue(instance, latest, retry_within):
        return None
    return latest


# Dagster's run monitoring says this as it stops a run at its `dagster/max_runtime` ("Canceling due to
# exceeding maximum runtime of 30 seconds."), before it marks the run failed.
_OVER_BUDGET = "exceeding maximum runtime of"


def timeout_of(instance: DagsterInstance, run_id: str) -> FailureDetails | None:
    """Timeout, when run monitoring stopped the run at its budget: the step it was in and the budget; else None.
    Such a run ends CANCELED or FAILED (whichever Dagster stores last); either way its tasks failed."""
    from orbit_pipelines.runtime.step_budget import STEP_BUDGET_TAG, STEP_BUDGET_WORDS

    canceling = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_CANCELING, limit=5).records
    messages = [r.event_log_entry.get_dagster_event().message or "" for r in canceling]
    step_said = next((m for m in messages if STEP_BUDGET_WORDS in m), None)
    if step_said is not None:  # runtime/step_budget.py stopped it: "Canceling due to step S exceeding ..."
        budgeted = step_said.split("Canceling due to step ", 1)[-1].split(" ", 1)[0]
        step_budget = step_said.split(STEP_BUDGET_WORDS, 1)[1].strip().rstrip(".")
        return FailureDetails(
            "Timeout",
            f"step {budgeted} of run {run_id} went past its step budget of {step_budget} (op tag "
            f"{STEP_BUDGET_TAG}) and the run was stopped",
            budgeted,
        )
    said = next((m for m in messages if _OVER_BUDGET in m), None)
    if said is None:
        return None
    budget = said.split(_OVER_BUDGET, 1)[1].strip().rstrip(".")
    started = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START, ascending=False, limit=1)
    step = started.records[0].event_log_entry.step_key if started.records else None
    where = f" in step {step}" if step else " before any step started"
    return FailureDetails(
        "Timeout",
        f"run {run_id} went past its budget of {budget} (tag dagster/max_runtime){where} and was stopped by "
        "Dagster's run monitoring",
        step,
    )


def run_failure_details(instance: DagsterInstance, run_id: str) -> FailureDetails:
    timeout = timeout_of(instance, run_id)
    if timeout is not None:
        return timeout
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE, limit=5).records
    run_failures = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1).records
    # Records asked for by event type hold a Dagster event; get_dagster_event says so if one does not.
    run_message = run_failures[0].event_log_entry.get_dagster_event().message if run_failures else None
    return failure_from_step_events((r.event_log_entry.get_dagster_event() for r in records), run_message)


def apply_run_outcome(
    ledger: Ledger,
    task_id: int,
    run_id: str,
    status: DagsterRunStatus,
    failure: FailureDetails | None = None,
    note: str = "run outcome",
) -> Task | None:
    """Bring the task in line with its run's final status; None when the run is not the task's current one."""
    target = RUN_STATUS_TO_TASK[status]
    error = failure.as_tuple() if failure and target == TaskStatus.FAILED else None
    return ledger.move_along(task_id, target, run_id=run_id, error=error, note=note)


@dataclass(frozen=True)
class Reconciled:
    task_id: int
    run_id: str | None
    before: TaskStatus
    after: TaskStatus
    reason: str


def reconcile_task(
    ledger: Ledger, instance: DagsterInstance, task: Task, retry_within: float = RETRY_EXPECTED_WITHIN_SECONDS
) -> Reconciled | None:
    """Settle a QUEUED/RUNNING task whose run has finished or vanished. None when nothing to do.

    A run Dagster retried hands the task to its retry; one whose retry never came (`retry_within`
    seconds after it ended) fails the task, saying so."""
    from dagster import RunsFilter

    from orbit_pipelines.runtime.tags import RUN_KEY_TAG, TASK_ID_TAG

    run = instance.get_run_by_id(task.run_id) if task.run_id else None
    if task.run_id is None:
        by = {RUN_KEY_TAG: task.dispatch_key} if task.dispatch_key else {TASK_ID_TAG: str(task.id)}
        runs = instance.get_runs(RunsFilter(tags=by), limit=1)
        if not runs:
            return None  # never started: the dispatch sensor re-requests lost dispatches
        run = runs[0]
        ledger.attach_run(task.id, run.run_id)
    elif run is None:
        lost = FailureDetails("RunLost", f"run {task.run_id} no longer exists in Dagster", None)
        after = ledger.move_along(
            task.id, TaskStatus.FAILED, run_id=task.run_id, error=lost.as_tuple(), note="sweep: run lost"
        )
        return Reconciled(task.id, task.run_id, task.status, after.status, lost.message) if after else None
    first, run = run, settling_run(instance, run, retry_within)
    if run is None or run.status not in RUN_STATUS_TO_TASK:
        return None
    if run.run_id != first.run_id:
        ledger.attach_run(task.id, run.run_id)
    timeout = timeout_of(instance, run.run_id) if run.status != DagsterRunStatus.SUCCESS else None
    status = DagsterRunStatus.FAILURE if timeout else run.status
    failure = timeout or (run_failure_details(instance, run.run_id) if status == DagsterRunStatus.FAILURE else None)
    if failure is not None and not timeout and run.is_complete_and_waiting_to_retry:
        failure = FailureDetails(
            failure.error_class,
            f"{failure.message} (Dagster was to retry run {run.run_id}; no retry had started {retry_within:.0f} s "
            "after it ended: is the daemon running?)",
            failure.step,
        )
    after = apply_run_outcome(ledger, task.id, run.run_id, status, failure, note="sweep: run finished")
    if after is None or after.status == task.status:
        return None
    return Reconciled(task.id, run.run_id, task.status, after.status, f"run {run.run_id} ended {run.status.value}")

"""What a finished run means for its task. Shared by the outcome sensors and the sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from dagster import DagsterEvent, DagsterEventType, DagsterInstance, DagsterRunStatus

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


def run_failure_details(instance: DagsterInstance, run_id: str) -> FailureDetails:
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


def reconcile_task(ledger: Ledger, instance: DagsterInstance, task: Task) -> Reconciled | None:
    """Settle a QUEUED/RUNNING task whose run has finished or vanished. None when nothing to do."""
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
    if not run.is_finished or run.status not in RUN_STATUS_TO_TASK:
        return None
    failure = run_failure_details(instance, run.run_id) if run.status == DagsterRunStatus.FAILURE else None
    after = apply_run_outcome(ledger, task.id, run.run_id, run.status, failure, note="sweep: run finished")
    if after is None or after.status == task.status:
        return None
    return Reconciled(task.id, run.run_id, task.status, after.status, f"run {run.run_id} ended {run.status.value}")

"""The lifecycle of a run's items, the same for every job and for one task or a batch:

- `start_items`: the run's tasks go RUNNING under this run, leaving out what is done or owned by
  another live run (a duplicate launch never doubles work);
- `resume_items`: on a re-execution that starts after the first step, its tasks come back RUNNING;
- `record_failures` / `fail_if_none_left`: a failed item ends its task at once (FAILED, with the step,
  error class and message, on the dead-letter list) and the rest of the batch goes on; a step in
  which no item is left fails itself, so a run of one task fails at the step that failed and can be
  re-executed from it, exactly as a one-task job would;
- `complete_items`: the tasks whose work is stored end COMPLETED;
- `record_task_failure`: a step that failed for good fails the run's unfinished tasks.
The run-status sensors (sensors/outcome.py) are the catch-all for what ops cannot report.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence, TypeVar

from dagster import DagsterRunStatus, Failure, HookContext, OpExecutionContext, failure_hook
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from orbit_pipelines.ledger import InvalidTransition, Ledger, Task, TaskNotFound, TaskStatus
from orbit_pipelines.runtime.infrastructure import (
    INFRASTRUCTURE_ERROR_TAG,
    RETRY_ON_OP_FAILURE_TAG,
    dagster_storage_error,
    describe,
)
from orbit_pipelines.runtime.items import Item
from orbit_pipelines.runtime.remediation import remediation_for
from orbit_pipelines.runtime.retry import permanent_failure
from orbit_pipelines.runtime.tags import (
    BATCH_TAG,
    FAILED_ITEMS_TAG,
    PRIORITY_TAG,
    RUN_KEY_TAG,
    SHORT_CIRCUIT_TAG,
    TASK_ID_TAG,
    run_tags,
)

_ACTIVE = (TaskStatus.QUEUED, TaskStatus.RUNNING)
ItemT = TypeVar("ItemT", bound=Item)
ModelT = TypeVar("ModelT", bound=BaseModel)


def checked_tasks(ledger: Ledger, task_ids: Sequence[int], kind: str) -> list[Task]:
    """The tasks a run was given, in order; a missing task or one of another kind fails the step for good."""
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        raise permanent_failure("nothing to run: give task_id, task_ids or the work itself", "EmptyBatch")
    tasks = {t.id: t for t in ledger.get_many(ids)}
    missing = [i for i in ids if i not in tasks]
    if missing:
        raise permanent_failure(str(TaskNotFound(missing[0])), "TaskNotFound", task_ids=missing[:100])
    wrong = [t for t in tasks.values() if t.kind != kind]
    if wrong:
        raise permanent_failure(
            f"task {wrong[0].id} is of kind {wrong[0].kind!r}, not {kind!r}", "WrongKind", task_id=wrong[0].id
        )
    return [tasks[i] for i in ids]


def _live_runs(context: OpExecutionContext, run_ids: set[str]) -> set[str]:
    live = set()
    for run_id in run_ids:
        run = context.instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            live.add(run_id)
    return live


def start_items(
    context: OpExecutionContext,
    ledger: Ledger,
    tasks: Sequence[Task],
    extra_tags: Callable[[list[Task]], dict[str, str]] = lambda tasks: {},
) -> list[Task]:
    """Mark `tasks` RUNNING under this run (one statement for the batch) and return those started.

    Left out, saying why: tasks already COMPLETED and tasks another live run is working on. A task left
    QUEUED/RUNNING by a run that has finished is taken over; a FAILED or CANCELED one is taken up again
    (a re-execution). Idempotent for op retries and re-executions. Launchpad/GraphQL launches arrive
    without ledger tags: they are added, so the Runs page can filter by task and the outcome sensors
    find the tasks.
    """
    run_id = context.run_id
    others = {t.run_id for t in tasks if t.status in _ACTIVE and t.run_id not in (None, run_id)}
    live = _live_runs(context, others)
    done = [t for t in tasks if t.status == TaskStatus.COMPLETED]
    owned = [t for t in tasks if t.status in _ACTIVE and t.run_id in live]
    for task in tasks:
        if task.status in _ACTIVE and task.run_id in others - live:
            context.log.warning(
                f"task {task.id} was left {task.status.value} by finished run {task.run_id}; taking it over"
            )
    skipped = {t.id for t in done + owned}
    takeable = [t.id for t in tasks if t.id not in skipped]
    ledger.transition_many(takeable, TaskStatus.RUNNING, run_id=run_id, note="run started")
    started = []
    for task in ledger.get_many(takeable):
        if task.status == TaskStatus.RUNNING and task.run_id == run_id:
            started.append(task)
        elif task.status == TaskStatus.COMPLETED:
            done.append(task)  # completed between the read and the claim
        else:  # FAILED, CANCELED, or left by a finished run: through legal steps to RUNNING
            moved = ledger.move_along(
                task.id, TaskStatus.RUNNING, run_id=run_id, note="run started", only_if_current_run=False
            )
            assert moved is not None  # None only with only_if_current_run
            started.append(moved)
    if done:
        context.log.info(
            f"already COMPLETED, nothing to do: {', '.join(f'task {t.id} (run {t.run_id})' for t in done)}"
        )
    if owned:
        context.log.info(
            "in progress in another run, not started twice: "
            f"{', '.join(f'task {t.id} (run {t.run_id})' for t in owned)}"
        )
    if FAILED_ITEMS_TAG in context.run.tags:  # inherited from the run this one re-executes
        tag_failed_items(context, ledger)
    if started:
        add_missing_tags(context, {**run_tags(started if len(tasks) == 1 else list(tasks)), **extra_tags(list(tasks))})
    else:
        what = ("already completed" if done else "in progress") if len(tasks) == 1 else "already done or in progress"
        subject = f"task {tasks[0].id}" if len(tasks) == 1 else f"all {len(tasks)} tasks"
        context.instance.add_run_tags(run_id, {SHORT_CIRCUIT_TAG: f"{subject} {what}"})
    return started


def resume_items(
    context: OpExecutionContext, ledger: Ledger, task_ids: Sequence[int], note: str = "re-execution"
) -> None:
    """The tasks of the items still in play come back RUNNING under this run (a FAILED one walks
    FAILED -> QUEUED -> RUNNING). A no-op within the run that started them."""
    resume_tasks(ledger, ledger.get_many(task_ids), context.run_id, note)
    if FAILED_ITEMS_TAG in context.run.tags:  # inherited from the run this one re-executes
        tag_failed_items(context, ledger)


def resume_tasks(ledger: Ledger, tasks: Iterable[Task], run_id: str, note: str) -> list[int]:
    """Move each task not COMPLETED and not already under `run_id` to RUNNING under it; returns their ids."""
    moved = []
    for task in tasks:
        if task.run_id != run_id and task.status != TaskStatus.COMPLETED:
            ledger.move_along(task.id, TaskStatus.RUNNING, run_id=run_id, note=note, only_if_current_run=False)
            moved.append(task.id)
    return moved


def record_failures(
    context: OpExecutionContext,
    ledger: Ledger,
    items: Iterable[ItemT],
    step: str,
    label: Callable[[ItemT], str] = lambda item: "",
) -> list[ItemT]:
    """End the tasks of the items that failed in `step`; returns those items."""
    failed = [i for i in items if i.failure is not None and i.failure.step == step]
    for item in failed:
        failure = item.failure
        assert failure is not None
        ledger.move_along(
            item.task_id,
            TaskStatus.FAILED,
            run_id=context.run_id,
            note="failed in its batch",
            error=(failure.error_class, failure.message, failure.step),
        )
        context.log.warning(
            f"task {item.task_id}{label(item)} failed in {step}: {failure.error_class}: "
            f"{failure.message}. What to do: {remediation_for(failure.error_class)}"
        )
    if failed:
        tag_failed_items(context, ledger)
    return failed


def tag_failed_items(context: OpExecutionContext, ledger: Ledger) -> int:
    """Set `orbit/failed_items` to the number of this run's tasks it has ended FAILED (0 on a re-execution
    that has failed none yet: its parent's count is not its own)."""
    count = sum(
        1 for t in ledger.tasks_for_run(context.run_id) if t.status == TaskStatus.FAILED and t.run_id == context.run_id
    )
    context.instance.add_run_tags(context.run_id, {FAILED_ITEMS_TAG: str(count)})
    return count


def fail_if_none_left(items: Sequence[Item], step: str) -> None:
    """Fail the step when every item has failed and this step made at least one of them fail."""
    if not items or any(i.failure is None for i in items):
        return
    mine = [i for i in items if i.failure is not None and i.failure.step == step]
    if not mine:
        return
    first = mine[0].failure
    assert first is not None
    message = (
        first.message
        if len(items) == 1
        else (f"all {len(items)} tasks of the run failed; the first: task {mine[0].task_id}: {first.message}")
    )
    raise permanent_failure(message, first.error_class, task_ids=[i.task_id for i in mine][:100])


def complete_items(
    context: OpExecutionContext, ledger: Ledger, task_ids: Sequence[int], note: str = "run succeeded"
) -> None:
    """Mark the tasks COMPLETED by this run (the run-outcome sensor is the catch-all)."""
    if len(task_ids) == 1:
        ledger.move_along(
            task_ids[0], TaskStatus.COMPLETED, run_id=context.run_id, note=note, only_if_current_run=False
        )
    else:
        ledger.transition_many(list(task_ids), TaskStatus.COMPLETED, run_id=context.run_id, note=note)


def add_missing_tags(context: OpExecutionContext, tags: dict[str, str]) -> None:
    """Add the tags a run lacks (priority only matters before the run starts)."""
    missing = {k: v for k, v in tags.items() if context.run.tags.get(k) != v and k != PRIORITY_TAG}
    if missing:
        context.instance.add_run_tags(context.run_id, missing)


def tasks_of_run(ledger: Ledger, run) -> list[Task]:
    """Every ledger task a run worked on, or was dispatched for (a run may die before its first op)."""
    found = {t.id: t for t in ledger.tasks_for_run(run.run_id)}
    if run.tags.get(TASK_ID_TAG):
        try:
            task = ledger.get(int(run.tags[TASK_ID_TAG]))
            found.setdefault(task.id, task)
        except TaskNotFound:
            pass
    # Re-executions carry their parent's tags (the batch), not its run key.
    for key in {run.tags.get(RUN_KEY_TAG), run.tags.get(BATCH_TAG)} - {None}:
        for task in ledger.tasks_with_dispatch_key(key):
            found.setdefault(task.id, task)
    return [found[i] for i in sorted(found)]


def error_details(exc: BaseException | None) -> tuple[str, str]:
    """(error class, message) an operator can act on, looking through Dagster's wrappers."""
    if exc is None:
        return "UnknownError", "the step failed without an exception"
    if isinstance(exc, Failure):
        cls = exc.metadata.get("error_class")
        cls_name = getattr(cls, "value", cls) if cls is not None else "Failure"
        return str(cls_name), exc.description or str(exc)
    cause = getattr(exc, "user_exception", None) or exc
    return type(cause).__name__, str(cause) or type(cause).__name__


@failure_hook(required_resource_keys={"ledger"})
def record_task_failure(context: HookContext) -> None:
    """Mark the run's unfinished tasks FAILED as soon as a step has failed for good (after retries);
    unless Dagster's own storage failed it, when the run is retried and its tasks wait for the retry."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None or run.status in (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED):
        return  # a cancel, not a failure: the run-canceled sensor marks the tasks CANCELED
    storage_error = dagster_storage_error(context.op_exception)
    if storage_error is not None:
        why = describe(storage_error)
        context.instance.add_run_tags(context.run_id, {RETRY_ON_OP_FAILURE_TAG: "true", INFRASTRUCTURE_ERROR_TAG: why})
        context.log.warning(
            f"{context.step_key} failed on Dagster's own storage ({why}): the run is retried, its tasks wait for it"
        )
        return
    error_class, message = error_details(context.op_exception)
    context.log.error(f"{context.step_key} failed: {error_class}. What to do: {remediation_for(error_class)}")
    ledger: Ledger = context.resources.ledger.get()
    try:
        for task in tasks_of_run(ledger, run):
            if task.status in _ACTIVE:
                ledger.move_along(
                    task.id,
                    TaskStatus.FAILED,
                    run_id=context.run_id,
                    error=(error_class, message, context.step_key),
                    note="step failed",
                )
    except (InvalidTransition, TaskNotFound, OperationalError) as exc:
        # The run-failure sensor and the sweep reconcile whatever this could not record.
        context.log.warning(f"could not record the failure in the ledger: {exc}")


def load_ledger_task(
    context: OpExecutionContext, ledger: Ledger, task_id: int | None, model: type[ModelT], kind: str
) -> tuple[Task, ModelT] | None:
    """The first op of a one-task job: read the task, mark it RUNNING, validate its payload.

    None when there is nothing to do (already completed, or in progress in another run).
    """
    from pydantic import ValidationError

    from orbit_pipelines.runtime.intake import describe_validation_error

    if task_id is None:
        raise permanent_failure("task_id: give the ledger task to run", "MissingTaskId")
    started = start_items(context, ledger, checked_tasks(ledger, [task_id], kind))
    if not started:
        return None
    try:
        return started[0], model.model_validate(started[0].payload)
    except ValidationError as exc:
        raise permanent_failure(
            f"task {task_id}: invalid {kind} payload: {describe_validation_error(exc)}", "InvalidPayload"
        ) from None

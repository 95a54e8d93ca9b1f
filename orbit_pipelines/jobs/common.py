"""Dagster glue every job shares: retry policy, run tags, and keeping the ledger in step with runs."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    Backoff,
    DagsterRunStatus,
    Failure,
    HookContext,
    Jitter,
    OpExecutionContext,
    RetryPolicy,
    RetryRequested,
    failure_hook,
)
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError

from orbit_pipelines.jobs.tags import (  # noqa: F401 - re-exported: jobs import their tags from here
    BATCH_SIZE_TAG,
    BATCH_TAG,
    DOCUMENT_KEY_TAG,
    IDEMPOTENCY_KEY_TAG,
    KIND_TAG,
    LANE_TAG,
    PRIORITY_TAG,
    RUN_KEY_TAG,
    SHORT_CIRCUIT_TAG,
    TASK_ID_TAG,
    run_tags,
    task_tags,
)
from orbit_pipelines.ledger import InvalidTransition, Ledger, Task, TaskNotFound, TaskStatus
from orbit_pipelines.remediation import remediation_for

# Transient errors (database blips, timeouts) back off 1 s, 3 s, 7 s (+/- jitter) before giving up.
TRANSIENT_RETRY = RetryPolicy(max_retries=3, delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS)


# S3 error codes that mean "try again later" even when the HTTP status does not say 5xx.
_TRANSIENT_S3_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeTooSkewed",
                       "InternalError", "ServiceUnavailable"}


def is_transient_s3_error(exc: BaseException) -> bool:
    """No answer (connection refused, reset, timeout) or S3 saying 5xx/slow down: worth retrying.

    Any other S3 answer (403 AccessDenied, 404 NoSuchBucket, ...) will be the same next time.
    """
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or exc.response.get("Error", {}).get("Code") in _TRANSIENT_S3_CODES
    return False


def is_missing_s3_object(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


@contextmanager
def retry_on_infrastructure_errors(context: OpExecutionContext, max_retries: int = 3):
    """RetryPolicy's backoff for database and S3 blips, without a RetryPolicy on the op.

    Long batch ops use this instead of a RetryPolicy because Dagster turns a cancel request that
    interrupts an op with a RetryPolicy into a retry, so the run would never stop.
    """
    try:
        yield
    except (OperationalError, BotoCoreError, ClientError) as exc:
        if isinstance(exc, ClientError) and not is_transient_s3_error(exc):
            raise
        if context.retry_number >= max_retries:
            raise
        raise RetryRequested(max_retries=max_retries,
                             seconds_to_wait=TRANSIENT_RETRY.calculate_delay(context.retry_number + 1)) from exc


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


def permanent_failure(message: str, error_class: str, **metadata: Any) -> Failure:
    """A failure no retry can fix (bad input, a refused transition): fail now, say why and what to do."""
    return Failure(
        description=message,
        metadata={"error_class": error_class, "remediation": remediation_for(error_class), **metadata},
        allow_retries=False,
    )


def start_task(context: OpExecutionContext, ledger: Ledger, task: Task) -> Task | None:
    """Mark `task` RUNNING under this run. Idempotent for op retries and re-executions.

    Returns None, saying why, when there is nothing to do: the task is already COMPLETED, or
    another run that is still alive is working on it (a duplicate launch never doubles work).
    """
    run_id = context.run_id
    if task.status == TaskStatus.COMPLETED:
        context.log.info(f"task {task.id} is already COMPLETED by run {task.run_id}; nothing to do")
        context.instance.add_run_tags(context.run_id, {SHORT_CIRCUIT_TAG: f"task {task.id} already completed"})
        return None
    if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING) and task.run_id not in (None, run_id):
        other = context.instance.get_run_by_id(task.run_id)
        if other is not None and not other.is_finished:
            context.log.info(f"task {task.id} is in progress in run {task.run_id}; not starting it twice")
            context.instance.add_run_tags(context.run_id, {SHORT_CIRCUIT_TAG: f"task {task.id} in progress"})
            return None
        context.log.warning(f"task {task.id} was left {task.status.value} by finished run {task.run_id}; "
                            "taking it over")
    started = ledger.move_along(task.id, TaskStatus.RUNNING, run_id=run_id, note="run started",
                                only_if_current_run=False)
    # Launchpad/GraphQL launches arrive without ledger tags; add them so the Runs page can filter
    # by task and the outcome sensors can find the task.
    add_missing_tags(context, task_tags(started))
    return started


def submit_inline_task(context: OpExecutionContext, ledger: Ledger, kind: str, payload: BaseModel,
                       priority: int = 0) -> Task:
    """Record work typed into the Launchpad (or launched through GraphQL) as a ledger task of this run.

    Keyed by the run's idempotency-key tag, else by its root run id: re-executions share the root,
    so relaunching a run never makes a second task.
    """
    key = context.run.tags.get(IDEMPOTENCY_KEY_TAG) or f"run:{context.run.root_run_id or context.run_id}"
    task, created = ledger.submit(kind, payload.model_dump(mode="json"), priority=priority, idempotency_key=key,
                                  status=TaskStatus.QUEUED, run_id=context.run_id)
    context.log.info(f"{'recorded' if created else 'found'} inline task {task.id} (idempotency key {key})")
    return task


def load_ledger_task(context: OpExecutionContext, ledger: Ledger, task_id: int | None, model: type[BaseModel],
                     kind: str) -> tuple[Task, BaseModel] | None:
    """The first op of a one-task job: read the task, mark it RUNNING, validate its payload.

    None when there is nothing to do (already completed, or in progress in another run).
    """
    from orbit_pipelines.intake import describe_validation_error

    if task_id is None:
        raise permanent_failure("task_id: give the ledger task to run", "MissingTaskId")
    try:
        task = ledger.get(task_id)
    except TaskNotFound as exc:
        raise permanent_failure(str(exc), "TaskNotFound") from None
    if task.kind != kind:
        raise permanent_failure(f"task {task.id} is of kind {task.kind!r}, not {kind!r}", "WrongKind")
    started = start_task(context, ledger, task)
    if started is None:
        return None
    try:
        return started, model.model_validate(started.payload)
    except ValidationError as exc:
        raise permanent_failure(f"task {task.id}: invalid {kind} payload: {describe_validation_error(exc)}",
                                "InvalidPayload") from None


def complete_task(context: OpExecutionContext, ledger: Ledger, task_id: int) -> Task | None:
    """Mark the task COMPLETED by this run (the run-outcome sensor is the catch-all)."""
    return ledger.move_along(task_id, TaskStatus.COMPLETED, run_id=context.run_id, note="run succeeded",
                             only_if_current_run=False)


def add_missing_tags(context: OpExecutionContext, tags: dict[str, str]) -> None:
    """Add the tags a run lacks (priority only matters before the run starts)."""
    missing = {k: v for k, v in tags.items() if context.run.tags.get(k) != v and k != PRIORITY_TAG}
    if missing:
        context.instance.add_run_tags(context.run_id, missing)


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
    """Mark the run's unfinished tasks FAILED as soon as a step has failed for good (after retries)."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None or run.status in (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED):
        return  # a cancel, not a failure: the run-canceled sensor marks the tasks CANCELED
    error_class, message = error_details(context.op_exception)
    context.log.error(f"{context.step_key} failed: {error_class}. What to do: {remediation_for(error_class)}")
    ledger: Ledger = context.resources.ledger.get()
    try:
        for task in tasks_of_run(ledger, run):
            if task.status in (TaskStatus.QUEUED, TaskStatus.RUNNING):
                ledger.move_along(
                    task.id, TaskStatus.FAILED, run_id=context.run_id,
                    error=(error_class, message, context.step_key), note="step failed",
                )
    except (InvalidTransition, TaskNotFound, OperationalError) as exc:
        # The run-failure sensor and the sweep reconcile whatever this could not record.
        context.log.warning(f"could not record the failure in the ledger: {exc}")

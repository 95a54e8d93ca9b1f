"""The pause gate between steps, and each step's checkpoint in its tasks' history. Every job's executor
(runtime/jobs.py) is Dagster's in-process executor wrapped so that, once a step has finished and before
the next one starts, a pause requested for the run (`orbit task pause`, orbit.pause_requests) stops it
there. The step that was running always finishes: the gate is only ever checked between steps, never
inside one.

Where "between steps" is: Dagster's in-process loop (dagster/_core/execution/plan/execute_plan.py,
inner_plan_execution_iterator) yields a step's events, then its hooks' events, and only then picks the
next step. Every task_job step has the job's failure hook, whose event (HOOK_SKIPPED after a success) is
the last one of the step: at that event the step's output is stored and nothing of the next step has
run, so the gate closes the event stream there. Closing it at the step's own STEP_SUCCESS would land
inside the step's error handling, which would take the close for a step failure.

At each step's success the wrapper also writes the step's checkpoint into the history of the run's tasks
(checkpoints.record_checkpoint), summarised from the step's output events as they pass, and at a step's
failure that it failed (checkpoints.record_step_failed): the event stream's checkpoint, phase and
progress events come from these rows.

A batch step can pause its run itself, between its items (runtime/batch_pause.py: a document batch stops
at a document boundary inside upload_and_extract): it moves the tasks it left to PAUSED and records the pause
as cut short in that step, and at that step's end the gate closes the event stream as above.

A paused run ends SUCCESS in Dagster (no step failed; its remaining steps were not executed: a message in
its log says why), so neither run retries nor `orbit recover` restart it; its tasks are PAUSED in the
ledger before it ends, so the outcome sensors leave them parked. `orbit task resume` re-executes the
remaining steps, reusing the stored outputs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Generator, Iterator

from dagster import DagsterEvent, DagsterEventType, Executor, executor, in_process_executor

from orbit_pipelines.runtime.step_budget import StepBudgetWatch

if TYPE_CHECKING:
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.ledger.pauses import PauseRequest

# The event that ends a step in the in-process loop (see above).
_STEP_END_EVENTS = frozenset({DagsterEventType.HOOK_SKIPPED, DagsterEventType.HOOK_COMPLETED})


class PausableExecutor(Executor):
    """Dagster's in-process executor, stopping between steps when the run is asked to pause."""

    def __init__(self, inner: Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan) -> Iterator[DagsterEvent]:
        to_run = set(execution_plan.step_keys_to_execute)
        ended: set[str] = set()
        succeeded = ""
        # The in-process executor's execute is a generator: closing it is what stops the run (see above).
        events: Generator[DagsterEvent, None, None] = self._inner.execute(plan_context, execution_plan)  # type: ignore[assignment]
        events = StepBudgetWatch(plan_context, execution_plan).watching(events)  # long steps' budgets
        if plan_context.dagster_run.parent_run_id:
            _start_queued_tasks(plan_context)
        outputs = StepOutputs()
        declined = False
        for event in events:
            yield event
            outputs.note(event)
            if event.is_step_success or event.is_step_failure or event.is_step_skipped:
                ended.add(event.step_key or "")
                succeeded = event.step_key or "" if event.is_step_success else ""
                if succeeded:
                    _record_checkpoint(plan_context, succeeded, outputs.summary(succeeded))
                elif event.is_step_failure:
                    _record_step_failed(plan_context, event)
                continue
            if event.event_type not in _STEP_END_EVENTS or event.step_key != succeeded or not to_run - ended:
                continue
            succeeded = ""
            step = event.step_key or ""
            request = _pause_request(plan_context.run_id)
            if request is None:
                continue
            if request.paused_after is not None:
                if request.cut_short and request.paused_after == step:
                    # The step paused itself between its items (runtime/batch_pause.py): the run stops here too.
                    events.close()
                    plan_context.log.info(
                        f"paused in {step} at the request of {request.requested_by}: steps not run: "
                        f"{', '.join(sorted(to_run - ended))}; its tasks left undone PAUSED "
                        f"(`orbit task resume TASK_ID` runs {step} again for them, then the next steps)"
                    )
                    return
                continue
            requested_by = request.requested_by
            running = _running_tasks(plan_context.run_id)
            if not running:
                # Its steps finished every task already (a document batch stores each as its answer arrives):
                # stopping would only leave the rest of the run (a batch summary) undone.
                if not declined:
                    plan_context.log.info(
                        f"pause asked by {requested_by} after {step}, but no task of this run is left running: "
                        "the run goes on to its end"
                    )
                    declined = True
                continue
            events.close()  # the next step never starts
            paused = _pause_tasks(plan_context.run_id, step, requested_by, running)
            # A message in the run's log (the Runs page shows it), by the run's own log manager.
            plan_context.log.info(
                f"paused after {step} at the request of {requested_by}: steps not run: "
                f"{', '.join(sorted(to_run - ended))}; tasks {', '.join(map(str, paused)) or 'none'} PAUSED "
                "(`orbit task resume TASK_ID` continues from the next step)"
            )
            return


class StepOutputs:
    """What each step's output events said, for its checkpoint's summary (checkpoints.summarize)."""

    def __init__(self) -> None:
        self.metadata: dict[str, dict] = {}
        self.handled: dict[str, str] = {}

    def note(self, event: DagsterEvent) -> None:
        step = event.step_key or ""
        if event.event_type == DagsterEventType.STEP_OUTPUT:
            self.metadata.setdefault(step, {}).update(event.step_output_data.metadata)
        elif event.event_type == DagsterEventType.HANDLED_OUTPUT:
            self.handled[step] = event.message or ""

    def summary(self, step: str) -> str:
        from orbit_pipelines.checkpoints import summarize

        return summarize(self.metadata.get(step, {}), self.handled.get(step, "completed"))


@executor(
    name="in_process",
    config_schema=in_process_executor.config_schema.as_field(),
)
def pausable_in_process_executor(init_context) -> Executor:
    """Execute all steps in a single process; stop between two steps when the run is asked to pause."""
    return PausableExecutor(in_process_executor.executor_creation_fn(init_context))  # type: ignore[misc]


def _ledger() -> Ledger:
    # The executor has no resources: the ledger the `ledger` resource reads, from the same variable.
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger

    return Ledger(get_engine(os.environ["DAGSTER_PG_URL"]))


def _pause_request(run_id: str) -> PauseRequest | None:
    """This run's pause request, or None. A ledger that cannot be read pauses nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from orbit_pipelines.ledger.pauses import pause_request

    if not os.environ.get("DAGSTER_PG_URL"):
        return None
    try:
        return pause_request(_ledger(), run_id)
    except SQLAlchemyError:
        return None


def _record_checkpoint(plan_context, step: str, summary: str) -> None:
    """The step's checkpoint in its tasks' history; a ledger that cannot be written stops nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from orbit_pipelines.checkpoints import record_checkpoint

    if not os.environ.get("DAGSTER_PG_URL"):
        return
    try:
        record_checkpoint(_ledger(), plan_context.run_id, step, summary)
    except SQLAlchemyError as exc:
        plan_context.log.warning(f"checkpoint {step} not recorded in the ledger: {exc}")


def _record_step_failed(plan_context, event: DagsterEvent) -> None:
    """The failed step in its tasks' history; a ledger that cannot be written stops nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from orbit_pipelines.checkpoints import record_step_failed

    if not os.environ.get("DAGSTER_PG_URL"):
        return
    error = event.step_failure_data.error if event.step_failure_data else None
    # The op's own exception, not Dagster's wrapper ("Error occurred while executing op ...").
    while error is not None and error.cause is not None:
        error = error.cause
    message = " ".join((error.message if error else event.message or "").split())
    try:
        record_step_failed(_ledger(), plan_context.run_id, event.step_key or "", message)
    except SQLAlchemyError as exc:
        plan_context.log.warning(f"failure of {event.step_key} not recorded in the ledger: {exc}")


def _start_queued_tasks(plan_context) -> None:
    """A re-execution's tasks are RUNNING from its first step. `orbit task rollback/resume/reset` and
    `orbit recover` leave them QUEUED under the new run, and a re-execution that skips the kind's load
    step has no op to start them: without this they would show QUEUED while their steps run (the
    task_started_sensor comes a daemon tick later, after a short run has already ended). Tasks in any
    other state are left to the sensor and the ops. A ledger that cannot be written stops nothing."""
    from sqlalchemy.exc import SQLAlchemyError

    from orbit_pipelines.ledger import TaskStatus

    if not os.environ.get("DAGSTER_PG_URL"):
        return
    run_id = plan_context.run_id
    try:
        ledger = _ledger()
        queued = [t.id for t in ledger.tasks_for_run(run_id) if t.status == TaskStatus.QUEUED]
        if queued:
            ledger.transition_many(queued, TaskStatus.RUNNING, run_id=run_id, note="re-execution started")
    except SQLAlchemyError as exc:
        plan_context.log.warning(f"the re-execution's tasks were not marked RUNNING in the ledger: {exc}")


def _running_tasks(run_id: str) -> list[int]:
    from orbit_pipelines.ledger import TaskStatus

    return [t.id for t in _ledger().tasks_for_run(run_id) if t.status == TaskStatus.RUNNING]


def _pause_tasks(run_id: str, step: str, requested_by: str, running: list[int]) -> list[int]:
    """The run's RUNNING tasks become PAUSED (a batch: all of them); returns their ids."""
    from orbit_pipelines.ledger import TaskStatus
    from orbit_pipelines.ledger.pauses import record_paused

    ledger = _ledger()
    record_paused(ledger, run_id, step)
    moved = ledger.transition_many(
        running, TaskStatus.PAUSED, run_id=run_id, note=f"paused after {step} by {requested_by}"
    )
    return [t.id for t in moved]

"""Step budgets: a long step that is still running past its budget stops its run, as Dagster's run
monitoring stops a run past its `dagster/max_runtime`, and its tasks end FAILED with `Timeout`.

Dagster has a run budget and no per-op time limit. An op declares one with the tag STEP_BUDGET_TAG,
in seconds per task of the run (a batch of 5 gets five times as long); a run tag of the same name,
set at launch, overrides it for that run's budgeted steps. The job's executor
(runtime/pause_gate.py) watches it: when the step starts, a timer starts; when the step ends, the timer
is canceled. When it fires, the run is stopped the way run monitoring stops one
(dagster/_daemon/monitoring/run_monitoring.py): a RUN_CANCELING event saying why, the run launcher's
terminate (the code server interrupts the step, as a cancel from the UI does), then the run marked
failed. outcomes.timeout_of reads that event: the tasks' error class is `Timeout`, naming the step and
its budget, and `orbit runs interrupted` lists the run as a timeout.

The steps that wait on the outside also have their calls' own timeouts (a Veryfi call's, a model
call's, an agent's); the step budget is the bound on the whole step, retries included."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Generator

if TYPE_CHECKING:
    from dagster import DagsterEvent

STEP_BUDGET_TAG = "orbit/step_budget_seconds_per_task"
# What the RUN_CANCELING event says (outcomes.timeout_of reads it back): "... of 900 seconds."
STEP_BUDGET_WORDS = "exceeding its step budget of"


def canceling_message(step: str, seconds: int) -> str:
    return f"Canceling due to step {step} {STEP_BUDGET_WORDS} {seconds} seconds."


def budget_seconds(per_task: str | None, tasks: int) -> int | None:
    """The step's budget for a run over `tasks` tasks, from the op's tag; None without one (or a bad one)."""
    try:
        seconds = float(per_task) if per_task else 0.0
    except ValueError:
        return None
    return int(seconds * max(tasks, 1)) if seconds > 0 else None


class StepBudgetWatch:
    """Fed every event of a run's execution (`note`); starts and cancels each budgeted step's timer."""

    def __init__(self, plan_context, execution_plan):
        self.plan_context, self.execution_plan = plan_context, execution_plan
        self.timers: dict[str, threading.Timer] = {}

    def _tasks(self) -> int:
        from orbit_pipelines.runtime.tags import BATCH_SIZE_TAG

        size = self.plan_context.dagster_run.tags.get(BATCH_SIZE_TAG, "1")
        return int(size) if size.isdigit() else 1

    def note(self, event: DagsterEvent) -> None:
        step = event.step_key or ""
        if event.is_step_start:
            declared = (self.execution_plan.get_step_by_key(step).tags or {}).get(STEP_BUDGET_TAG)
            # The run's own tag (set at launch, from the Launchpad) overrides the ops' for its steps that have one.
            per_task = self.plan_context.dagster_run.tags.get(STEP_BUDGET_TAG, declared) if declared else None
            seconds = budget_seconds(per_task, self._tasks())
            if seconds is not None:
                timer = threading.Timer(seconds, self._stop_run, args=(step, seconds))
                timer.daemon = True
                self.timers[step] = timer
                timer.start()
        elif event.is_step_success or event.is_step_failure or event.is_step_skipped:
            if step in self.timers:
                self.timers.pop(step).cancel()

    def watching(self, events: Generator[DagsterEvent, None, None]) -> Generator[DagsterEvent, None, None]:
        """The executor's events, each noted on its way; closing this closes them (the pause gate's stop)."""
        try:
            for event in events:
                self.note(event)
                yield event
        finally:
            for timer in self.timers.values():
                timer.cancel()
            events.close()

    def _stop_run(self, step: str, seconds: int) -> None:
        instance, run_id = self.plan_context.instance, self.plan_context.run_id
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        instance.report_run_canceling(run, message=canceling_message(step, seconds))
        if instance.run_launcher.terminate(run_id=run_id):
            instance.report_run_failed(run, f"Step {step} exceeded its step budget of {seconds} seconds.")

"""The one op of task_control: the request, carried out by the functions `orbit task ...` calls
(orbit_pipelines/task_control.py), with what it did on the run page and refusals as the run's failure."""

from contextlib import contextmanager
from enum import Enum
from typing import Iterator

from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field

from orbit_pipelines.checkpoints import task_checkpoints
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.webserver import DagsterWebserverResource
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.retry import permanent_failure
from orbit_pipelines.task_control import Relaunch


class Action(str, Enum):
    checkpoints = "checkpoints"
    pause = "pause"
    resume = "resume"
    rollback = "rollback"
    reset = "reset"


class TaskControlConfig(Config):
    task_id: int = Field(description="The ledger task (`orbit task list`).")
    action: Action = Field(
        description="checkpoints: list them on this run's page; pause: stop its run at the next step boundary; "
        "resume: continue a PAUSED task; rollback: re-execute from the step after to_step; reset: run a "
        "COMPLETED task again from the start."
    )
    to_step: str = Field(default="", description="rollback: the step whose checkpoint to continue from.")
    reason: str = Field(default="", description="rollback, reset (required): why, for the task's history.")
    by: str = Field(default="", description="Who asks, for the task's history (default: this run's id).")
    wait_seconds: float = Field(
        default=120.0, ge=0, description="pause: how long to wait for the run to reach its step boundary."
    )


@contextmanager
def refusals() -> Iterator[None]:
    """A request refused as the task stands fails the run saying why, never retried."""
    from orbit_pipelines.ledger import InvalidTransition, TaskNotFound
    from orbit_pipelines.operations import OperationError
    from orbit_pipelines.task_control import Refused

    try:
        yield
    except TaskNotFound as exc:
        raise permanent_failure(f"task_id: {exc}", "TaskNotFound") from None
    except (Refused, InvalidTransition) as exc:
        raise permanent_failure(str(exc), "RequestRefused") from None
    except OperationError as exc:
        raise permanent_failure(f"the webserver did not launch the run: {exc}", "LaunchRefused") from None


def _relaunched(context: OpExecutionContext, done: Relaunch, verb: str) -> dict:
    said = f"task(s) {', '.join(map(str, done.task_ids))} {verb}: run {done.run_id} executes {', '.join(done.steps)}"
    context.log.info(said)
    figures = {
        "run_id": done.run_id,
        "tasks": ", ".join(map(str, done.task_ids)),
        "steps": ", ".join(done.steps),
        "superseded_checkpoints": len(done.superseded),
        "kept_result_rows": done.kept_results,
    }
    context.add_output_metadata({**figures, "new_run": MetadataValue.dagster_run(done.run_id)})
    return {**figures, "said": said}


@op
def control_task(
    context: OpExecutionContext, config: TaskControlConfig, ledger: LedgerResource, webserver: DagsterWebserverResource
) -> dict:
    """Carry out the request on the task; the result on the run page, a refusal as the run's failure.
    No RetryPolicy: a launch is not retried blindly (a rollback retried would be refused as running)."""
    from orbit_pipelines import task_control as control

    led, instance, task_id = ledger.get(), context.instance, config.task_id
    by = config.by.strip() or f"run {context.run_id}"
    with refusals():
        if config.action == Action.checkpoints:
            found = task_checkpoints(instance, led, task_id)
            rows = [
                [
                    c.step,
                    c.run_id,
                    f"{c.at:%Y-%m-%d %H:%M:%S}",
                    f"superseded ({c.superseded_why})" if c.superseded else "current",
                    c.summary,
                ]
                for c in found
            ]
            context.add_output_metadata(
                {
                    "checkpoints": MetadataValue.md(table(["step", "run", "at (UTC)", "state", "summary"], rows)),
                    "count": len(found),
                    "current": sum(not c.superseded for c in found),
                }
            )
            return {"checkpoints": [c.as_json() for c in found]}
        if config.action == Action.pause:
            asked = control.pause(led, instance, task_id, by)
            said = (
                control.wait_for_pause(led, instance, asked, task_id, config.wait_seconds)
                if config.wait_seconds
                else (f"pause requested for run {asked.run_id}: it stops after the step running now")
            )
            context.log.info(said)
            context.add_output_metadata(
                {
                    "paused_run": MetadataValue.dagster_run(asked.run_id),
                    "tasks": ", ".join(map(str, asked.task_ids)),
                    "said": said,
                }
            )
            return {"run_id": asked.run_id, "tasks": asked.task_ids, "said": said}
        api = webserver.api()
        if config.action == Action.resume:
            return _relaunched(context, control.resume(led, instance, api, task_id, by), "resumed")
        if config.action == Action.rollback:
            if not config.to_step.strip():
                raise permanent_failure("to_step: a rollback names the step to continue after", "RequestRefused")
            done = control.rollback(
                led, instance, api, task_id, config.to_step.strip(), by, config.reason or "no reason given"
            )
            return _relaunched(context, done, f"rolled back to {config.to_step.strip()}")
        if not config.reason.strip():
            raise permanent_failure("reason: a reset needs a reason, for the task's history", "RequestRefused")
        return _relaunched(context, control.reset(led, instance, api, task_id, by, config.reason.strip()), "reset")

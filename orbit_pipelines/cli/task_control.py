"""`orbit task checkpoints/rollback/reset/pause/resume/superseded`: one task's run, as an operator controls
it (orbit_pipelines/task_control.py, checkpoints.py). A refusal (an unknown task or step, a step with no
checkpoint, a task that is running) is one line and exit status 2."""

from __future__ import annotations

import getpass
import json
import os
from contextlib import contextmanager

import click

from orbit_pipelines.cli.common import echo_lines, environment, ledger

# How long `orbit task pause` waits, by default, for the run to reach its next step boundary.
PAUSE_WAIT_SECONDS = 120.0


class Refusal(click.ClickException):
    """A request refused as the task stands: exit status 2, as click's usage errors."""

    exit_code = 2


def operator() -> str:
    """Who is asking: $USER, else the login name."""
    return os.environ.get("USER") or getpass.getuser()


@contextmanager
def _refused():
    """Refusals of task_control and an unknown task, as `Error: ...` and exit 2."""
    from orbit_pipelines.ledger import InvalidTransition, TaskNotFound
    from orbit_pipelines.task_control import Refused

    try:
        yield
    except TaskNotFound as exc:
        raise Refusal(f"{exc}; `orbit task list` shows the tasks there are") from None
    except (Refused, InvalidTransition) as exc:
        raise Refusal(str(exc)) from None


@contextmanager
def _instance_and_api():
    """The Dagster instance (read) and the webserver (launch), as `orbit recover` uses them; a launch the
    webserver refuses is one line too."""
    from orbit_pipelines.cli.common import reported
    from orbit_pipelines.cli.recovery import _instance
    from orbit_pipelines.operations import DagsterApi, OperationError

    with _instance() as instance, reported(OperationError):
        yield instance, DagsterApi()


def _echo_relaunch(done, verb: str) -> None:
    tasks = f"task{'s' if len(done.task_ids) > 1 else ''} {', '.join(map(str, done.task_ids))}"
    click.echo(f"{tasks} {verb}: run {done.run_id} executes {', '.join(done.steps)}")
    if done.superseded:
        click.echo(f"superseded checkpoints: {', '.join(f'{c.step} (run {c.run_id[:8]})' for c in done.superseded)}")
    if done.kept_results:
        click.echo(f"kept {done.kept_results} result row(s) as history: `orbit task superseded {done.task_ids[0]}`")


def add_commands(task: click.Group) -> None:
    """Register these commands on the `orbit task` group."""
    for command in (checkpoints, rollback, reset, pause, resume, superseded):
        task.add_command(command)


@click.command("checkpoints")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of the table.")
def checkpoints(task_id: int, as_json: bool) -> None:
    """Every step that completed in the task's runs, in order: step, run, time, a summary of its output, and
    whether a later run or a rollback/reset superseded it. `orbit task rollback` continues from one."""
    from orbit_pipelines.checkpoints import checkpoint_lines, task_checkpoints
    from orbit_pipelines.cli.recovery import _instance

    with environment() as env, _instance() as instance, _refused():
        found = task_checkpoints(instance, ledger(env), task_id)
    if as_json:
        click.echo(json.dumps([c.as_json() for c in found], indent=2))
    else:
        echo_lines(checkpoint_lines(task_id, found))


@click.command("rollback")
@click.argument("task_id", type=int)
@click.option("--to", "to_step", required=True, help="The step whose checkpoint to continue from.")
@click.option("--reason", default="no reason given", show_default=True, help="Why, for the task's history.")
@click.option("--by", default=None, help="Who asks (default: $USER).")
def rollback(task_id: int, to_step: str, reason: str, by: str | None) -> None:
    """Re-execute the task's latest run from the step after STEP, reusing the stored outputs of STEP and the
    steps before it. Later checkpoints are marked superseded and the task's results kept as history (nothing
    is deleted); who and why go in its history. A batch run is rolled back with all its completed tasks."""
    from orbit_pipelines.task_control import rollback as roll_back

    with environment() as env, _refused():
        with _instance_and_api() as (instance, api):
            done = roll_back(ledger(env), instance, api, task_id, to_step, by or operator(), reason)
    _echo_relaunch(done, f"rolled back to {to_step}")


@click.command("reset")
@click.argument("task_id", type=int)
@click.option("--reason", required=True, help="Why, for the task's history.")
@click.option("--by", default=None, help="Who asks (default: $USER).")
def reset(task_id: int, reason: str, by: str | None) -> None:
    """Run a COMPLETED task again from the start, in a new run of its job. Its old results are kept as
    history (`orbit task superseded`), its checkpoints marked superseded; who and why go in its history."""
    from orbit_pipelines.task_control import reset as reset_task

    with environment() as env, _refused():
        with _instance_and_api() as (instance, api):
            done = reset_task(ledger(env), instance, api, task_id, by or operator(), reason)
    _echo_relaunch(done, "reset")


@click.command("pause")
@click.argument("task_id", type=int)
@click.option("--by", default=None, help="Who asks (default: $USER).")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=PAUSE_WAIT_SECONDS,
    show_default=True,
    help="Wait up to N seconds for the run to reach its next step boundary (0: do not wait).",
)
def pause(task_id: int, by: str | None, wait_seconds: float) -> None:
    """Pause one running task at a step boundary: the step running now finishes (never interrupted), the
    run stops before the next step starts, the task becomes PAUSED; `orbit task resume` continues it. A
    batch run pauses with all its tasks. Not intake: `orbit pause` stops dispatching new tasks."""
    from orbit_pipelines.cli.recovery import _instance
    from orbit_pipelines.task_control import pause as ask_pause
    from orbit_pipelines.task_control import wait_for_pause

    with environment() as env, _instance() as instance, _refused():
        led = ledger(env)
        asked = ask_pause(led, instance, task_id, by or operator())
        others = [t for t in asked.task_ids if t != task_id]
        batch = f" (its batch: tasks {', '.join(map(str, asked.task_ids))})" if others else ""
        click.echo(f"pause requested for run {asked.run_id}{batch}: it stops after the step running now")
        if wait_seconds:
            click.echo(wait_for_pause(led, instance, asked, task_id, wait_seconds))


@click.command("resume")
@click.argument("task_id", type=int)
@click.option("--by", default=None, help="Who asks (default: $USER).")
def resume(task_id: int, by: str | None) -> None:
    """Continue a PAUSED task from the step after the one it paused after (a re-execution reusing the
    stored outputs); a paused batch resumes with all its tasks. Not intake: `orbit resume` dispatches again
    after `orbit pause`."""
    from orbit_pipelines.task_control import resume as resume_task

    with environment() as env, _refused():
        with _instance_and_api() as (instance, api):
            done = resume_task(ledger(env), instance, api, task_id, by or operator())
    _echo_relaunch(done, "resumed")


@click.command("superseded")
@click.argument("task_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="The kept rows themselves, as JSON.")
def superseded(task_id: int, as_json: bool) -> None:
    """The task's results as they were before each rollback or reset: kept as history, never deleted."""
    from orbit_pipelines.task_control import superseded_results

    with environment() as env, _refused():
        kept = superseded_results(ledger(env), task_id)
    if as_json:
        click.echo(json.dumps(kept, indent=2, default=str))
        return
    if not kept:
        click.echo(f"task {task_id} has no superseded results: it has not been rolled back or reset")
        return
    groups: dict[tuple, int] = {}
    for row in kept:
        key = (f"{row['superseded_at']:%Y-%m-%d %H:%M:%S}", row["table_name"], row["run_id"], row["reason"])
        groups[key] = groups.get(key, 0) + 1
    for (at, table, run_id, reason), count in groups.items():
        click.echo(f"{at}  {table}: {count} row(s) written by run {run_id}; superseded: {reason}")

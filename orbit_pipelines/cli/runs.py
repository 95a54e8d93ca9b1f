"""`orbit rerun`, `orbit cancel`, `orbit pause`, `orbit resume`: operating runs and intake."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import environment, ledger, reported


@click.command("rerun")
@click.argument("run_id")
@click.option("--from-step", "from_step", help="Re-execute this step and everything after it.")
@click.option("--all-steps", is_flag=True, help="Re-execute every step.")
@click.option(
    "--config",
    "config_file",
    type=click.File("r"),
    help="With --from-step: run config edits (JSON) merged over the parent's, e.g. "
    '{"ops": {"decompose_task": {"config": {"corrected_subtasks_json": "[...]"}}}}',
)
def rerun(run_id, from_step, all_steps, config_file) -> None:
    """Re-execute a run through the webserver's GraphQL API (default: from its failed steps)."""
    from orbit_pipelines.operations import DagsterApi, OperationError
    from orbit_pipelines.run_control import CannotReexecute, record_config_edit, reexecute
    from orbit_pipelines.submission import NotJson, read_json

    if config_file and not from_step:
        raise click.UsageError("--config needs --from-step")
    if all_steps and from_step:
        raise click.UsageError("give --all-steps or --from-step, not both")
    with reported(NotJson):
        edits = read_json(config_file) if config_file else None
    with reported(OperationError, CannotReexecute):
        new_run = reexecute(DagsterApi(), run_id, from_step=from_step, all_steps=all_steps, config_edits=edits)
    if edits is not None:
        with environment() as env:
            record_config_edit(ledger(env), run_id, new_run, from_step)
    click.echo(f"launched re-execution {new_run} of run {run_id}")


@click.command("cancel")
@click.argument("target")
def cancel(target: str) -> None:
    """Cancel a task (by id) or a run (by run id). A canceled task can be resumed by re-execution."""
    from orbit_pipelines.ledger import InvalidTransition, TaskNotFound
    from orbit_pipelines.operations import DagsterApi, OperationError
    from orbit_pipelines.run_control import NothingToCancel
    from orbit_pipelines.run_control import cancel as cancel_target

    with environment() as env, reported(TaskNotFound, NothingToCancel, OperationError, InvalidTransition):
        done = cancel_target(ledger(env), DagsterApi(), target)
    if done.run_id is None:
        click.echo(f"task {done.task_id} canceled {done.when}")
    elif done.task_id is None:
        click.echo(
            f"asked run {done.run_id} to stop; its tasks become CANCELED once it has stopped "
            "(`orbit task list` shows them)"
        )
    else:
        click.echo(
            f"asked run {done.run_id} of task {done.task_id} to stop; the task becomes CANCELED once the run "
            f"has stopped (`orbit task show {done.task_id}` shows it)"
        )


def _scope(kind: str) -> str:
    return "all kinds" if kind == "*" else kind


@click.command("pause")
@click.option("--kind", default="*", help="Pause one kind only (default: all intake).")
@click.option("--reason", default="", help="Shown as the dispatch sensor's skip reason.")
def pause(kind: str, reason: str) -> None:
    """Stop dispatching new runs (intake): tasks stay PENDING, queued runs stay queued, nothing is lost.

    Runs already going go on; `orbit task pause ID` pauses one running task at a step boundary."""
    from orbit_pipelines.jobs.registry import UnknownKind
    from orbit_pipelines.run_control import pause_intake

    with environment() as env, reported(UnknownKind):
        pause_intake(ledger(env), kind, reason)
    click.echo(f"intake paused for {_scope(kind)}; `orbit resume` continues")


@click.command("resume")
@click.option("--kind", default="*", help="Resume one kind only (default: all intake).")
def resume(kind: str) -> None:
    """Continue dispatching after `orbit pause`: intake, not runs (`orbit task resume ID` continues a
    PAUSED task).

    Tasks left PENDING by the pause start again. Runs a dead worker, a timeout or a cancel stopped are
    another matter: `orbit runs interrupted` lists them and `orbit recover` re-executes them."""
    from orbit_pipelines.run_control import resume_intake

    with environment() as env:
        resume_intake(ledger(env), kind)
    click.echo(f"intake resumed for {_scope(kind)}")


COMMANDS = (rerun, cancel, pause, resume)

"""`orbit dlq`: dead letters, tasks that failed for good."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import echo_lines, environment, ledger, reported


@click.group()
def dlq() -> None:
    """Dead letters: tasks that failed for good."""


@dlq.command("list")
@click.option("--kind")
def dlq_list(kind) -> None:
    """Failed tasks nobody has retried to success or discarded, with what to do about each."""
    from orbit_pipelines.reports import dead_letter_lines

    with environment() as env:
        rows = ledger(env).dead_letters(kind)
    echo_lines(dead_letter_lines(rows))


@dlq.command("retry")
@click.argument("task_ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter (of --kind).")
@click.option("--kind")
def dlq_retry(task_ids, retry_all, kind) -> None:
    """Run dead letters again: re-execute a failed run from failure, else launch new runs for them
    (batched as their kind batches)."""
    from orbit_pipelines.dead_letters import NotDeadLetters, retry_dead_letters, select_dead_letters
    from orbit_pipelines.operations import DagsterApi, OperationError

    if bool(task_ids) == retry_all:
        raise click.UsageError("give task ids or --all")
    with environment() as env, reported(NotDeadLetters, OperationError):
        tasks = select_dead_letters(ledger(env), task_ids, kind=kind, every=retry_all)
        for retry in retry_dead_letters(DagsterApi(), tasks):
            which = f"task {retry.task_ids[0]}" if len(retry.task_ids) == 1 else f"tasks {retry.task_ids}"
            if retry.reexecuted_run:
                click.echo(f"{which}: re-executing run {retry.reexecuted_run} from failure as {retry.new_run}")
            else:
                click.echo(f"{which}: new run {retry.new_run}")


@dlq.command("discard")
@click.argument("task_id", type=int)
@click.option("--reason", required=True, help="Why this work is abandoned (kept with the task).")
def dlq_discard(task_id: int, reason: str) -> None:
    """Take a task off the dead-letter list, with a reason for the record."""
    from orbit_pipelines.ledger import TaskNotFound

    with environment() as env, reported(TaskNotFound, ValueError):
        ledger(env).discard(task_id, reason)
    click.echo(f"task {task_id} discarded: {reason}")

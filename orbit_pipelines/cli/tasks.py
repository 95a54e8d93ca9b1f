"""`orbit task`: submit, list and show ledger tasks."""

from __future__ import annotations

import sys

import click

from orbit_pipelines.cli.common import echo_lines, echo_not_started, environment, ledger, reported
from orbit_pipelines.ledger.states import TaskStatus
from orbit_pipelines.waiting import PhaseProgress, WaitError, all_completed, wait_for_task

STATUSES = [s.value for s in TaskStatus]


@click.group()
def task() -> None:
    """Submit, list and show ledger tasks."""


@task.command("submit")
@click.option("--kind", default="decomposition", show_default=True, help="Task kind (see `orbit task kinds`).")
@click.option("--payload", "payload_file", type=click.File("r"), help="JSON payload file, or - for stdin.")
@click.option("--sample", is_flag=True, help="Submit the built-in sample decomposition task.")
@click.option("--priority", type=click.IntRange(-100, 100), default=0, show_default=True, help="Higher runs first.")
@click.option("--lane", type=click.Choice(["sync", "async"]), help="sync: one at a time; async: concurrent.")
@click.option("--idempotency-key", help="Submitting the same key again returns the existing task.")
@click.option("--wait", "wait_seconds", type=float, default=0, help="Wait up to N seconds for the task to finish.")
@click.option(
    "--launch/--no-launch",
    default=True,
    show_default=True,
    help="Launch the run at once through the webserver (ORBIT_DAGSTER_URL) when one serves this "
    "instance; otherwise, and for the sync lane, the dispatch sensor starts it.",
)
def task_submit(kind, payload_file, sample, priority, lane, idempotency_key, wait_seconds, launch) -> None:
    """Submit a task to the ledger and start its run (directly, or by the dispatch sensor)."""
    from orbit_pipelines.jobs.registry import UnknownKind
    from orbit_pipelines.ledger import IdempotencyConflict
    from orbit_pipelines.runtime.intake import PayloadError
    from orbit_pipelines.submission import NotJson, read_json, sample_payload, submit_and_launch

    if bool(payload_file) == bool(sample):
        raise click.UsageError("give exactly one of --payload FILE|- or --sample")
    with reported(NotJson):
        payload = sample_payload() if sample else read_json(payload_file)
    with environment() as env:
        led = ledger(env)
        with reported(PayloadError, UnknownKind, IdempotencyConflict):
            done = submit_and_launch(
                led, kind, payload, priority=priority, lane=lane, idempotency_key=idempotency_key, launch=launch
            )
        verb = "submitted" if done.created else "already submitted as"
        click.echo(f"{verb} task {done.task.id} ({done.task.kind}, {done.task.status.value})")
        if done.run_id:
            click.echo(f"launched run {done.run_id}")
        elif done.task.status.value == "PENDING":
            echo_not_started(led, done.task.kind, "it stays PENDING")
        if wait_seconds:
            final = _wait_with_phases(led, done.task, wait_seconds)
            click.echo(f"task {final.id} is {final.status.value}")
            if not all_completed([final]):
                sys.exit(1)


def _wait_with_phases(led, task, wait_seconds: float):
    """Wait for the task; in a terminal, a progress bar through its kind's phases says where it is (off a
    terminal a bar would print a line per phase, so it waits silently as before)."""
    from orbit_pipelines.jobs.registry import get_kind

    if not sys.stderr.isatty():
        with reported(WaitError):
            return wait_for_task(led, task.id, wait_seconds)
    progress = PhaseProgress(None, list(get_kind(task.kind).phases.values()))
    with click.progressbar(length=progress.length, label="waiting", show_pos=True, file=sys.stderr) as bar:
        progress.bar = bar
        with reported(WaitError):
            return wait_for_task(led, task.id, wait_seconds, on_change=progress)


@task.command("show")
@click.argument("task_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def task_show(task_id: int, fmt: str) -> None:
    """Print a task, its status history (every change, when and why), and what its job made of it (a
    decomposition's subtasks and prompts, a document's extraction)."""
    from orbit_pipelines.ledger import TaskNotFound
    from orbit_pipelines.reports import task_report_json, task_report_markdown

    with environment() as env, reported(TaskNotFound):
        text = (task_report_json if fmt == "json" else task_report_markdown)(ledger(env), task_id)
    click.echo(text)


@task.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--kind")
@click.option("--limit", type=int, default=20, show_default=True)
def task_list(status, kind, limit) -> None:
    """List recent tasks."""
    from orbit_pipelines.reports import task_lines

    with environment() as env:
        rows = ledger(env).list(status=status, kind=kind, limit=limit)
    echo_lines(task_lines(rows))


@task.command("kinds")
def task_kinds() -> None:
    """List the task kinds and the job each one runs."""
    from orbit_pipelines.reports import kind_lines

    echo_lines(kind_lines())

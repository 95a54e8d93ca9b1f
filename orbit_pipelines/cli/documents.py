"""`orbit doc`: submit documents, and list the files the inbox refused."""

from __future__ import annotations

import sys

import click

from orbit_pipelines.cli.common import echo_lines, echo_not_started, environment, ledger, reported
from orbit_pipelines.waiting import FinishedCounter, WaitError, all_completed, totals_line, wait_for_tasks


@click.group()
def doc() -> None:
    """Submit documents; list the files the inbox refused."""


@doc.command("submit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--priority", type=click.IntRange(-100, 100), default=0, show_default=True)
@click.option("--wait", "wait_seconds", type=float, default=0, help="Wait up to N seconds for all to finish.")
@click.option(
    "--launch/--no-launch",
    default=True,
    show_default=True,
    help="Launch their runs at once through the webserver (ORBIT_DAGSTER_URL) when one serves this "
    "instance, batched as documents batch; otherwise the dispatch sensor starts them.",
)
def doc_submit(paths, priority, wait_seconds, launch) -> None:
    """Submit files (folders are walked): one task per document content, then start their run."""
    from orbit_pipelines.reports import documents_report_markdown
    from orbit_pipelines.submission import NothingToSubmit, document_files, submit_documents

    with reported(NothingToSubmit):
        files = document_files(paths)
    with environment() as env:
        led = ledger(env)
        with click.progressbar(files, label="submitting", show_pos=True, file=sys.stderr) as bar:
            done = submit_documents(led, bar, priority=priority, launch=launch)
        click.echo(f"{done.created} submitted, {done.already_known} already known, {len(done.refused)} refused")
        for copy in done.copies:
            click.echo(f"  {copy.path.name}: same content as {copy.copy_of} (task {copy.task.id}), not submitted again")
        for reason in done.refused:
            click.echo(f"  refused: {reason}")
        for run in done.runs:
            click.echo(f"launched run {run.run_id} for {len(run.task_ids)} document(s) ({run.dispatch_key})")
        if not done.runs and any(a.task.status.value == "PENDING" for a in done.accepted):
            echo_not_started(led, "document", "they stay PENDING")
        if wait_seconds and done.accepted:
            ids = done.task_ids
            with click.progressbar(length=len(ids), label="finished", show_pos=True, file=sys.stderr) as bar:
                with reported(WaitError):
                    finals = wait_for_tasks(led, ids, wait_seconds, on_change=FinishedCounter(bar.update))
            click.echo(documents_report_markdown(led, ids))
            click.echo(totals_line(finals))
            if not all_completed(finals):
                sys.exit(1)
        if done.refused:
            sys.exit(1)


@doc.command("refused")
def doc_refused() -> None:
    """Files in the inbox that were refused: each, why and since when, until it is replaced or removed."""
    from orbit_pipelines.jobs.document_processing.api import inbox_dir, refused_inbox_files
    from orbit_pipelines.reports import refused_file_lines

    inbox = inbox_dir()
    if not inbox.is_dir():
        raise click.ClickException(
            f"the inbox folder {inbox} does not exist here; run this where the inbox is, with its ORBIT_INBOX_DIR"
        )
    with environment() as env:
        found = refused_inbox_files(ledger(env), inbox)
    echo_lines(refused_file_lines(found, inbox))

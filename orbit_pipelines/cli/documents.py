"""`orbit doc`: submit and inspect documents."""

from __future__ import annotations

import sys

import click

from orbit_pipelines.cli.common import environment, ledger, reported
from orbit_pipelines.waiting import WaitError, all_completed, wait_for_tasks


@click.group()
def doc() -> None:
    """Submit and inspect documents."""


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
    from orbit_pipelines.jobs.document_processing.intake import expand_paths
    from orbit_pipelines.reports import documents_report_markdown
    from orbit_pipelines.submission import submit_documents

    files = expand_paths(list(paths))
    with environment() as env:
        led = ledger(env)
        with click.progressbar(files, label="submitting", show_pos=True, file=sys.stderr) as bar:
            done = submit_documents(led, bar, priority=priority, launch=launch)
        click.echo(f"{done.created} submitted, {done.already_known} already known, {len(done.refused)} refused")
        for reason in done.refused:
            click.echo(f"  refused: {reason}")
        for run in done.runs:
            click.echo(f"launched run {run.run_id} for {len(run.task_ids)} document(s) ({run.dispatch_key})")
        if wait_seconds and done.accepted:
            with reported(WaitError):
                finals = wait_for_tasks(led, done.task_ids, wait_seconds)
            click.echo(documents_report_markdown(led, done.task_ids))
            if not all_completed(finals):
                sys.exit(1)
        if done.refused:
            sys.exit(1)

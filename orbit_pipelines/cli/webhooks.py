"""`orbit webhooks`: the delivery log of task events sent to ORBIT_WEBHOOK_URL."""

from __future__ import annotations

import os

import click

from orbit_pipelines.cli.common import echo_lines, environment


def _outbox(env):
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.webhooks.outbox import Outbox

    return Outbox(get_engine(env.pg_url))


@click.group()
def webhooks() -> None:
    """Task events sent to ORBIT_WEBHOOK_URL: the delivery log."""


@webhooks.command("log")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--task", "task_id", type=int, help="Only this task's events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def webhooks_log(status, task_id, limit) -> None:
    """Newest deliveries first: event, receiver, status, attempts, last answer or error, next attempt."""
    from orbit_pipelines.reports import webhook_log_lines

    with environment() as env:
        rows = _outbox(env).log(status=status, task_id=task_id, limit=limit)
    echo_lines(webhook_log_lines(rows, webhook_url_set=bool(os.environ.get("ORBIT_WEBHOOK_URL"))))


@webhooks.command("retry")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Every given-up delivery.")
def webhooks_retry(delivery_ids, all_failed) -> None:
    """Send deliveries again from now (given-up ones, or pending ones without waiting for their backoff)."""
    from datetime import datetime, timezone

    if bool(delivery_ids) == all_failed:
        raise click.UsageError("give delivery ids or --failed")
    with environment() as env:
        n = _outbox(env).retry(datetime.now(timezone.utc), delivery_ids, all_failed)
    click.echo(f"{n} delivery(ies) will be sent at the webhook sensor's next tick")

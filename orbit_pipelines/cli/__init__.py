"""The `orbit` command: run the stack, submit and inspect tasks, operate runs.

One module per group of commands; each command only parses its options, calls a service function
below the CLI and prints what it returns.
"""

from __future__ import annotations

import click

from orbit_pipelines.cli import (
    database,
    dead_letters,
    documents,
    metrics,
    runs,
    scaffold,
    stack,
    status,
    tasks,
    webhooks,
)


@click.group()
def main() -> None:
    """orbit_pipelines: work pipelines on Dagster."""
    from orbit_pipelines.local.processes import stop_ignoring_interrupts

    stop_ignoring_interrupts()


for _command in (
    *stack.COMMANDS,
    database.db,
    tasks.task,
    documents.doc,
    *runs.COMMANDS,
    status.status,
    dead_letters.dlq,
    metrics.metrics,
    webhooks.webhooks,
    scaffold.new,
):
    main.add_command(_command)

__all__ = ["main"]

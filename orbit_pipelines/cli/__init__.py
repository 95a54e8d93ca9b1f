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
    events,
    metrics,
    recovery,
    runs,
    scaffold,
    stack,
    status,
    task_control,
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
    *recovery.COMMANDS,
    status.status,
    dead_letters.dlq,
    metrics.metrics,
    webhooks.webhooks,
    *events.COMMANDS,
    scaffold.new,
):
    main.add_command(_command)


def _add_job_commands() -> None:
    """A job folder's own commands (its kind's `cli`), e.g. `orbit worksheet edit`."""
    from orbit_pipelines.jobs.registry import all_kinds

    for kind in all_kinds().values():
        if kind.cli is not None:
            main.add_command(kind.cli())


task_control.add_commands(tasks.task)
_add_job_commands()

__all__ = ["main"]

"""`orbit new`: scaffold new code."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import reported
from orbit_pipelines.settings import project_root


@click.group()
def new() -> None:
    """Scaffold new code."""


@new.command("job")
@click.argument("name")
@click.option(
    "--with-table", is_flag=True, help="Also write the job's own migration (migrations/0001_results.sql) and store.py."
)
def new_job_command(name: str, with_table: bool) -> None:
    """Create orbit_pipelines/jobs/NAME/ (models, logic, ops, job, kind) and its tests; with --with-table
    also its own migration (migrations/0001_results.sql) and store.py."""
    from orbit_pipelines.scaffold import new_job

    root = project_root()
    with reported(ValueError, FileExistsError):
        written = new_job(name, root, with_table=True) if with_table else new_job(name, root)
    for path in written:
        click.echo(f"wrote {path.relative_to(root)}")
    click.echo(
        f"next: edit models.py and logic.py, then `.venv/bin/pytest orbit_pipelines_tests/jobs/{name}`; "
        f"submit with `orbit task submit --kind {name} --payload FILE`"
    )

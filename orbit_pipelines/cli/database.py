"""`orbit db`: the ledger database."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import environment


@click.group()
def db() -> None:
    """The ledger database."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending ledger migrations and create Dagster's concurrency pools (before any run needs them)."""
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger.migrate import apply_migrations
    from orbit_pipelines.pools import ensure_pools

    with environment(migrate=False) as env:
        applied = apply_migrations(get_engine(env.pg_url))
        click.echo(f"{env.describe_postgres()}: applied {applied or 'nothing (up to date)'}")
        pools = ensure_pools()
        click.echo(f"concurrency pools: created {', '.join(pools)}" if pools else "concurrency pools: all there")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres under ORBIT_HOME, if it is running."""
    from orbit_pipelines.local.dev_stack import stop_embedded_database

    stopped, data_dir = stop_embedded_database()
    if stopped:
        click.echo(f"stopped embedded Postgres in {data_dir}")
    else:
        click.echo(f"no embedded Postgres running in {data_dir}")

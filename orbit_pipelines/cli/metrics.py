"""`orbit metrics`: Prometheus metrics of the ledger and the Dagster instance."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import environment, metrics_options, start_metrics


@click.group()
def metrics() -> None:
    """Prometheus metrics of the ledger and the Dagster instance."""


@metrics.command("serve")
@metrics_options("")
def metrics_serve(metrics_host: str, metrics_port: int, window: int) -> None:
    """Serve /metrics for Prometheus until Ctrl-C (`orbit up` serves them too)."""
    from orbit_pipelines.local.dev_stack import run_until_interrupted

    if not metrics_port:
        raise click.UsageError("--port: give a port to listen on")
    with environment() as env:
        server = start_metrics(env, metrics_host, metrics_port, window)
        run_until_interrupted(None, server.shutdown)

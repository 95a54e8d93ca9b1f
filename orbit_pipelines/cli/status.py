"""`orbit status`: intake, queues, runs, dead letters, the webserver and the daemon at a glance."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import echo_lines, environment, ledger


@click.command("status")
def status() -> None:
    """Is intake paused, what waits in each lane, which runs run, how many dead letters and refused inbox
    files, are the webserver and the daemon up. Exits 0 whenever it could report, even when the
    webserver or the daemon is down (it says so)."""
    from orbit_pipelines.operations import DagsterApi
    from orbit_pipelines.status import gather, status_lines

    api = DagsterApi(timeout=(2.0, 10.0))
    with environment() as env:
        found = gather(ledger(env), api)
    echo_lines(status_lines(found, api.base_url))

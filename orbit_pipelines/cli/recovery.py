"""`orbit runs interrupted`, `orbit recover`, and what `orbit up --recover` does once the stack is up: runs a
dead worker, a timeout or a cancel stopped, re-executed from failure (orbit_pipelines/recovery.py)."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Callable

import click

from orbit_pipelines.cli.common import echo_lines, environment, ledger, reported


@contextmanager
def _instance():
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    try:
        yield instance
    finally:
        instance.dispose()


@click.group("runs")
def runs() -> None:
    """Dagster runs of this project's jobs, as an operator looks for them."""


@runs.command("interrupted")
@click.option("--json", "as_json", is_flag=True, help="A JSON list instead of the table.")
def runs_interrupted(as_json: bool) -> None:
    """Runs a dead run worker, a timeout or a cancel stopped and nobody has re-executed since (Dagster's run
    retries included), with their tasks and where they stopped. Runs that failed in a step are not among
    them: their tasks are dead letters (`orbit dlq list`)."""
    from orbit_pipelines.recovery import interrupted_runs, interrupted_table

    with environment() as env, _instance() as instance:
        found = interrupted_runs(instance, ledger(env))
    if as_json:
        click.echo(json.dumps([r.as_json() for r in found], indent=2))
    else:
        echo_lines(interrupted_table(found))


@click.command("recover")
@click.argument("run_ids", nargs=-1)
@click.option("--all", "recover_all", is_flag=True, help="Every run `orbit runs interrupted` lists.")
@click.option("--dry-run", is_flag=True, help="Say what would be re-executed; launch nothing.")
def recover(run_ids: tuple[str, ...], recover_all: bool, dry_run: bool) -> None:
    """Re-execute interrupted runs (a dead worker, a timeout, a cancel) from failure, through the webserver.

    Runs, not intake: `orbit resume` lets paused intake dispatch again; `orbit rerun RUN` re-executes any
    finished run, step failures included. A run already re-executed, or not interrupted, is refused, so
    recovering twice launches nothing the second time."""
    from orbit_pipelines.operations import DagsterApi, OperationError
    from orbit_pipelines.recovery import NotInterrupted, UnknownRun, interrupted_runs, interruption_of
    from orbit_pipelines.run_control import CannotReexecute

    if bool(run_ids) == recover_all:
        raise click.UsageError("give run ids or --all")
    with environment() as env, _instance() as instance, reported(NotInterrupted, UnknownRun):
        led = ledger(env)
        # Every named run is checked before any is launched: a typo launches nothing.
        if recover_all:
            chosen = interrupted_runs(instance, led)
        else:
            chosen = [interruption_of(instance, led, run_id) for run_id in run_ids]
        if not chosen:
            click.echo("nothing to recover: no interrupted runs")
            return
        with reported(OperationError, CannotReexecute):
            _recover(DagsterApi(), led, chosen, dry_run, click.echo)


def _recover(api, led, chosen, dry_run: bool, echo: Callable[[str], object], prefix: str = "") -> None:
    from orbit_pipelines.recovery import recover, recovery_line

    for done in recover(api, led, chosen, dry_run):
        echo(prefix + recovery_line(done))


READY_WITHIN_SECONDS = 180


def recover_when_ready(url: str, env, alive: Callable[[], bool], echo: Callable[[str], object]) -> None:
    """`orbit up --recover`: once the webserver at `url` has loaded the code location, recover every
    interrupted run, one line each (`recover: ...`). Any error is a line too: `orbit up` keeps running."""
    from orbit_pipelines.operations import DagsterApi
    from orbit_pipelines.recovery import interrupted_runs

    api = DagsterApi(url)
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while not _location_loaded(api):
        if not alive():
            return
        if time.monotonic() > deadline:
            echo(
                f"recover: the webserver had not loaded the code location after {READY_WITHIN_SECONDS} s; "
                "`orbit recover --all` recovers the interrupted runs once it has"
            )
            return
        time.sleep(1)
    try:
        led = ledger(env)
        with _instance() as instance:
            chosen = interrupted_runs(instance, led)
            if not chosen:
                echo("recover: no interrupted runs")
            _recover(api, led, chosen, False, echo, prefix="recover: ")
    except Exception as exc:  # noqa: BLE001 - the stack stays up; the operator reads why and can retry
        echo(f"recover: stopped: {type(exc).__name__}: {exc}; `orbit recover --all` tries again")


def _location_loaded(api) -> bool:
    """The webserver answers and has loaded the code location (a re-execution needs its job)."""
    try:
        data = api._call(
            "{ workspaceOrError { ... on Workspace { locationEntries { locationOrLoadError { __typename } } } } }"
        )
    except Exception:  # noqa: BLE001 - not up yet, whatever the reason
        return False
    entries = data.get("workspaceOrError", {}).get("locationEntries") or []
    return bool(entries) and all(e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)


COMMANDS = (runs, recover)

"""The live event stream from the command line: `orbit up`'s options and console line for the stream
server, and `orbit events`, a client that follows it through the same door as any other."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from orbit_pipelines.cli.common import DEFAULT_UI_HOST

DEFAULT_EVENTS_PORT = 9465


def events_options(command):
    """`--events-host/--events-port` of `orbit up` (its --host/--port are the UI's)."""
    command = click.option(
        "--events-port",
        "events_port",
        type=click.IntRange(0, 65535),
        default=DEFAULT_EVENTS_PORT,
        show_default=True,
        envvar="ORBIT_EVENTS_PORT",
        help="Live event stream (Server-Sent Events) port (0: no stream server).",
    )(command)
    return click.option(
        "--events-host",
        "events_host",
        default=DEFAULT_UI_HOST,
        show_default=True,
        envvar="ORBIT_EVENTS_HOST",
        help="Event stream bind address (loopback by default).",
    )(command)


def start_events(env, host: str, port: int):
    """The stream server (observability.stream.server.serve), or a one-line error when the port is taken.
    The console names where the token is, never the token."""
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.registry import all_kinds
    from orbit_pipelines.observability.stream.server import serve
    from orbit_pipelines.observability.stream.token import stream_token

    token = stream_token(env.dagster_home)
    phases = {name: dict(kind.phases) for name, kind in all_kinds().items()}
    try:
        server = serve(get_engine(env.pg_url), host, port, token.value, phases=phases)
    except OSError as exc:
        raise click.ClickException(
            f"events: cannot listen on {host}:{port} ({exc.strerror}); choose another "
            "port with --events-port/ORBIT_EVENTS_PORT, or 0 for none"
        ) from None
    click.echo(f"events: {server.url} (bearer token: {token.source})")
    return server


def _token(token_file: str | None) -> str:
    from orbit_pipelines.observability.stream.token import TOKEN_FILE, TOKEN_VARIABLE, read_token
    from orbit_pipelines.settings import dagster_home

    configured = os.environ.get(TOKEN_VARIABLE, "").strip()
    if configured and not token_file:
        return configured
    path = click.format_filename(token_file) if token_file else str(dagster_home() / TOKEN_FILE)
    try:
        return read_token(Path(path))
    except OSError as exc:
        raise click.ClickException(
            f"no event stream token at {path} ({exc.strerror}); `orbit up` writes it there, or set {TOKEN_VARIABLE}"
        ) from None


def describe(message) -> str:
    """One line per event: `41 task.completed task 7 (decomposition) RUNNING -> COMPLETED run ...: note`."""
    body = json.loads(message.data)
    task = body.get("task") or {}
    before, after = body.get("from_status"), body.get("to_status")
    change = "" if before == after else f" {before} -> {after}" if before else f" -> {after}"
    parts = [f"{message.id or '-'} {message.event} task {task.get('id')} ({task.get('kind')}){change}"]
    for key in ("phase", "step"):
        if body.get(key):
            parts.append(f"{key} {body[key]}")
    if progress := body.get("progress"):
        parts.append(f"{progress['done']} of {progress['total']} phases done")
    if subtask := body.get("subtask"):
        parts.append(f"subtask {subtask['id']} ({subtask['category']}): {subtask['title']}")
    if body.get("run_id"):
        parts.append(f"run {body['run_id']}")
    text = ", ".join(parts)
    return f"{text}: {body['note']}" if body.get("note") else text


@click.command("events")
@click.option("--task", "task_id", type=int, help="Only this task's events, from its first one.")
@click.option(
    "--url",
    default=f"http://{DEFAULT_UI_HOST}:{DEFAULT_EVENTS_PORT}",
    show_default=True,
    envvar="ORBIT_EVENTS_URL",
    help="The stream server `orbit up` started.",
)
@click.option(
    "--token-file", type=click.Path(dir_okay=False), help="Default: ORBIT_EVENTS_TOKEN, else DAGSTER_HOME/events-token."
)
@click.option("--after", "after", type=int, help="Resume after this event id (what Last-Event-ID says).")
@click.option("--count", type=click.IntRange(1), help="Stop after this many events.")
@click.option("--json", "as_json", is_flag=True, help="Each event's JSON body (the webhook body), one a line.")
def events(task_id, url, token_file, after, count, as_json) -> None:
    """Follow the live event stream: every task's events from now on, or one task's from its first.

    Reconnects after a dropped connection and resumes after the last event it printed, so none is
    missed or printed twice; Ctrl-C stops."""
    from orbit_pipelines.observability.stream.client import StreamRefused, follow, stream_url

    token = _token(token_file)

    def reconnecting(exc: Exception) -> None:
        click.echo(f"events: connection lost ({type(exc).__name__}); reconnecting", err=True)

    seen = 0
    try:
        for message in follow(
            stream_url(url, task_id), token, str(after) if after is not None else None, on_reconnect=reconnecting
        ):
            click.echo(message.data if as_json else describe(message))
            seen += 1
            if count is not None and seen >= count:
                return
    except StreamRefused as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = (events,)

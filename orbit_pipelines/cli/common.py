"""What the `orbit` commands share: the environment they run in, the ledger, turning a service's
refusal into a one-line error that says what to do, the metrics server options, and echoing a task's
progress or the pause that holds it back."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import click

from orbit_pipelines.environment import Environment, prepare_environment

DEFAULT_UI_HOST, DEFAULT_UI_PORT = "127.0.0.1", 3000
DEFAULT_METRICS_PORT = 9464


@contextmanager
def environment(migrate: bool = True, local_services: bool = False):
    """Prepare the environment; stop what we started on exit, on Ctrl-C and on SIGTERM. A Postgres that
    cannot be reached is a one-line error, whether at the start or during the command."""
    from sqlalchemy.exc import OperationalError

    try:
        env = prepare_environment(migrate=migrate, local_services=local_services)
    except OperationalError as exc:
        raise _no_database(exc) from None

    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield env
    except OperationalError as exc:
        raise _no_database(exc) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        env.close()


def _no_database(exc) -> click.ClickException:
    import os

    from sqlalchemy import make_url

    where = os.environ.get("DAGSTER_PG_URL", "").strip()
    shown = make_url(where).render_as_string(hide_password=True) if where else "the embedded Postgres"
    reason = " ".join(str(getattr(exc, "orig", exc)).split())[:300]
    return click.ClickException(
        f"cannot use Postgres at {shown} ({reason}); start it, or set DAGSTER_PG_URL to a server that accepts "
        "connections"
    )


def ledger(env: Environment):
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger

    return Ledger(get_engine(env.pg_url))


@contextmanager
def reported(*errors: type[BaseException]):
    """Show these exceptions as `Error: <message>` and exit 1, not as a traceback; a refusal whose message
    says only what is wrong gets what to do next (see _next_step)."""
    try:
        yield
    except errors as exc:
        raise click.ClickException(f"{exc}{_next_step(exc)}") from None


def _next_step(exc: BaseException) -> str:
    """What to do, for the refusals raised below the CLI in words that suit their other callers too (a
    sensor's log has no use for `orbit task list`)."""
    from orbit_pipelines.ledger import InvalidTransition, TaskNotFound

    if isinstance(exc, TaskNotFound):
        return "; `orbit task list` shows the tasks there are"
    if isinstance(exc, InvalidTransition):
        return f"; `orbit task show {exc.task_id}` shows where it is now" if exc.task_id is not None else ""
    return ""


def echo_not_started(led, kind: str, consequence: str) -> None:
    """Say why submitted tasks of `kind` that no direct launch took will not start, when something holds
    them: a paused intake (`intake is paused ...: they stay PENDING until `orbit resume``), or no daemon
    running for this instance (its sensors are what start them), as on a fresh clone before `orbit up`."""
    from orbit_pipelines.operations import DagsterApi
    from orbit_pipelines.run_control import describe_pause, pause_of
    from orbit_pipelines.status import daemon_not_running

    pause = pause_of(led, kind)
    if pause is not None:
        click.echo(f"{describe_pause(pause)}: {consequence} until `orbit resume`")
        return
    missing = daemon_not_running(DagsterApi(timeout=(2.0, 10.0)))
    if missing is not None:
        click.echo(f"{missing}: {consequence} until one runs; `orbit up` (or `make up`) in another terminal starts it")


def echo_status(task) -> None:
    """A line per change of a task followed by `orbit demo`: its status, run and phase while it runs."""
    run = f" (run {task.run_id})" if task.run_id else ""
    phase = f", {task.phase}" if task.phase and task.status.value == "RUNNING" else ""
    click.echo(f"  task {task.id}: {task.status.value}{run}{phase}")


def echo_lines(lines) -> None:
    for line in lines:
        click.echo(line)


def metrics_options(prefix: str):
    """Bind address, port and window of the metrics server: `--host/--port` for `orbit metrics serve`,
    `--metrics-host/--metrics-port` for `orbit up` (whose --host/--port are the UI's)."""

    def decorate(command):
        command = click.option(
            f"--{prefix}window",
            "window",
            type=click.IntRange(60, 7 * 86400),
            default=3600,
            show_default=True,
            envvar="ORBIT_METRICS_WINDOW_SECONDS",
            help="Seconds of activity the window metrics cover (runs finished, durations, calls).",
        )(command)
        command = click.option(
            f"--{prefix}port",
            "metrics_port",
            type=click.IntRange(0, 65535),
            default=DEFAULT_METRICS_PORT,
            show_default=True,
            envvar="ORBIT_METRICS_PORT",
            help="Prometheus metrics port (0: no metrics server).",
        )(command)
        return click.option(
            f"--{prefix}host",
            "metrics_host",
            default=DEFAULT_UI_HOST,
            show_default=True,
            envvar="ORBIT_METRICS_HOST",
            help="Metrics bind address (loopback by default).",
        )(command)

    return decorate


def start_metrics(env: Environment, host: str, port: int, window: int):
    """The Prometheus metrics server (observability.metrics.serve), or a one-line error when the port is
    taken."""
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.metrics import serve

    try:
        server = serve(get_engine(env.pg_url), host, port, window)
    except OSError as exc:
        raise click.ClickException(
            f"metrics: cannot listen on {host}:{port} ({exc.strerror}); choose another "
            "port with --metrics-port/ORBIT_METRICS_PORT, or 0 for none"
        ) from None
    click.echo(f"metrics: http://{host}:{port}/metrics")
    return server

"""`orbit env`, `orbit up`, `orbit demo`: the local stack."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import (
    DEFAULT_UI_HOST,
    DEFAULT_UI_PORT,
    echo_lines,
    echo_status,
    environment,
    ledger,
    metrics_options,
    reported,
    start_metrics,
)
from orbit_pipelines.cli.events import events_options, start_events
from orbit_pipelines.environment import prepare_environment
from orbit_pipelines.local import dev_stack
from orbit_pipelines.local.console import LogFollower
from orbit_pipelines.pools import ensure_pools
from orbit_pipelines.waiting import WaitError, all_completed, wait_for_task, wait_for_tasks


@click.command("env")
def env_command() -> None:
    """Start the embedded Postgres if needed and print `export` lines for the shell.

    eval "$(orbit env)" before running `dagster dev` or `dagster-daemon` yourself. The embedded
    server keeps running; `orbit db stop` stops it.
    """
    echo_lines(dev_stack.shell_exports(prepare_environment()))


@click.command("up")
@click.option(
    "--host", default=DEFAULT_UI_HOST, show_default=True, help="Webserver bind address (loopback by default)."
)
@click.option("--port", default=DEFAULT_UI_PORT, show_default=True, type=int)
@click.option(
    "--recover",
    is_flag=True,
    help="Once the stack is up, re-execute from failure every run a dead worker, a timeout or a cancel "
    "interrupted (`orbit recover --all`), one line each.",
)
@metrics_options("metrics-")
@events_options
def up(
    host: str,
    port: int,
    recover: bool,
    metrics_host: str,
    metrics_port: int,
    window: int,
    events_host: str,
    events_port: int,
) -> None:
    """Run the webserver, the daemon (sensors, schedules, run queue), a code server, the Prometheus
    metrics server and the live event stream (`orbit events`) until Ctrl-C."""
    with environment(local_services=True) as env:
        click.echo(f"instance: {env.dagster_home / 'dagster.yaml'}; storage: {env.describe_postgres()}")
        echo_lines(env.services.describe())
        ensure_pools()  # before the daemon starts any run: see pools.py
        for kind, folder in dev_stack.prepare_inboxes().items():
            click.echo(f"{kind} inbox: {folder}")
        metrics_server = start_metrics(env, metrics_host, metrics_port, window) if metrics_port else None
        events_server = start_events(env, events_host, events_port) if events_port else None
        log_file = dev_stack.up_log_file(env)
        click.echo(
            f"log: {log_file} (webserver, daemon, code server and runs in full; "
            "here: warnings, errors and runs starting and ending)"
        )
        click.echo(f"UI: http://{host}:{port}  (Ctrl-C to stop)")
        console = LogFollower(log_file, click.echo)  # from the log's end before this start
        server = dev_stack.start_dev_server(host, port, log_file)
        console.start()
        if recover:
            _recover_in_background(env, host, port, server.alive)
        # The server stops before the console, so that the console shows its last words.
        exit_code = dev_stack.run_until_interrupted(
            server.proc.wait,
            console.shutting_down,
            server.stop,
            console.stop,
            *([metrics_server.shutdown] if metrics_server else []),
            *([events_server.stop] if events_server else []),
        )
        if exit_code not in (None, 0):
            raise click.ClickException(f"dagster dev exited with code {exit_code}; see {log_file}")


def _recover_in_background(env, host: str, port: int, alive) -> None:
    """`orbit up --recover`: recovery waits for the webserver while the console goes on."""
    import threading

    from orbit_pipelines.cli.recovery import recover_when_ready

    reachable = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://[{reachable}]:{port}" if ":" in reachable else f"http://{reachable}:{port}"
    threading.Thread(target=recover_when_ready, args=(url, env, alive, click.echo), daemon=True).start()


def _runs_ended(instance, tasks, timeout: float, daemon) -> list:
    """The tasks' Dagster runs once they have ended, not only their ledger rows: stopping the daemon
    afterwards then kills no run worker."""
    with reported(WaitError):
        return dev_stack.wait_for_runs(instance, [t.run_id for t in tasks], timeout, alive=daemon.alive)


def _all_green(runs, daemon) -> None:
    failed = [r for r in runs if not r.is_success]
    if failed:
        raise click.ClickException(
            f"run {failed[0].run_id} ({failed[0].job_name}) ended {failed[0].status.value}; "
            f"daemon log: {daemon.log_file}"
        )


@click.command("demo")
@click.option("--timeout", type=float, default=240, show_default=True, help="Seconds to wait for the runs.")
def demo(timeout: float) -> None:
    """Submit the sample task and sample documents, let the daemon's sensor run them, print the results."""
    from dagster import DagsterInstance

    from orbit_pipelines.reports import documents_report_markdown, task_report_markdown

    with environment(local_services=True) as env:
        click.echo(f"storage: {env.describe_postgres()}; instance config: {env.dagster_home / 'dagster.yaml'}")
        echo_lines(env.services.describe())
        with reported(dev_stack.CodeLocationError):
            dev_stack.check_code_location()
        ensure_pools()
        daemon = dev_stack.start_daemon(env)
        instance = DagsterInstance.get()
        led = ledger(env)
        try:
            task = dev_stack.submit_sample_task(led)
            click.echo(
                f"submitted task {task.id}: {task.payload['title']!r}; "
                "waiting for the dispatch sensor to start its run..."
            )
            with reported(WaitError):
                final = wait_for_task(led, task.id, timeout, on_change=echo_status, alive=daemon.alive)
            task_runs = _runs_ended(instance, [final], timeout, daemon)
            click.echo("")
            click.echo(task_report_markdown(led, task.id))
            if not all_completed([final]):
                raise click.ClickException(f"task {final.id} ended {final.status.value}; daemon log: {daemon.log_file}")
            _all_green(task_runs, daemon)
            click.echo(
                f"\nSee the run in the UI: `make up`, then "
                f"http://{DEFAULT_UI_HOST}:{DEFAULT_UI_PORT}/runs/{final.run_id}\n"
            )

            samples = dev_stack.submit_sample_documents(led, env.orbit_home / "samples")
            if samples.any_new:
                click.echo(
                    f"submitted {len(samples.task_ids)} sample documents "
                    f"({', '.join(p.name for p in samples.paths)}); "
                    "they run as one batch through document_processing..."
                )
            else:
                click.echo(
                    "the sample documents were submitted by an earlier demo (same content, same "
                    "idempotency key); showing their results"
                )
            with reported(WaitError):
                docs = wait_for_tasks(led, samples.task_ids, timeout, alive=daemon.alive)
            document_runs = _runs_ended(instance, docs, timeout, daemon)
        finally:
            daemon.stop()
            instance.dispose()
        click.echo(documents_report_markdown(led, samples.task_ids))
        if not all_completed(docs):
            raise click.ClickException(f"some documents did not complete; daemon log: {daemon.log_file}")
        if samples.any_new:  # an earlier demo's run is that demo's to answer for
            _all_green(document_runs, daemon)


COMMANDS = (env_command, up, demo)

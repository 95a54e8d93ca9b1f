"""The `orbit` command: run the stack, submit and inspect tasks."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from importlib import resources

import click

from orbit_pipelines.environment import Environment, prepare_environment
from orbit_pipelines.settings import project_root

DEFAULT_UI_HOST, DEFAULT_UI_PORT = "127.0.0.1", 3000
DEFAULT_METRICS_PORT = 9464


@contextmanager
def _environment(migrate: bool = True, local_services: bool = False):
    """Prepare the environment; stop what we started on exit, on Ctrl-C and on SIGTERM."""
    env = prepare_environment(migrate=migrate, local_services=local_services)

    def _terminate(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield env
    finally:
        signal.signal(signal.SIGTERM, previous)
        env.close()


def _ledger(env: Environment):
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger

    return Ledger(get_engine(env.pg_url))


@click.group()
def main() -> None:
    """orbit_pipelines: work pipelines on Dagster."""
    from orbit_pipelines.local.processes import stop_ignoring_interrupts

    stop_ignoring_interrupts()


@main.command("env")
def env_command() -> None:
    """Start the embedded Postgres if needed and print `export` lines for the shell.

    eval "$(orbit env)" before running `dagster dev` or `dagster-daemon` yourself. The embedded
    server keeps running; `orbit db stop` stops it.
    """
    env = prepare_environment()
    if env.embedded:
        env.embedded.started_here = False  # it must outlive this command
    for key, value in env.variables.items():
        click.echo(f"export {key}='{value}'")


@main.group()
def db() -> None:
    """The ledger database."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply pending ledger migrations."""
    with _environment(migrate=False) as env:
        from orbit_pipelines.db import get_engine
        from orbit_pipelines.ledger.migrate import apply_migrations

        applied = apply_migrations(get_engine(env.pg_url))
        click.echo(f"{env.describe_postgres()}: applied {applied or 'nothing (up to date)'}")


@db.command("stop")
def db_stop() -> None:
    """Stop the embedded Postgres under ORBIT_HOME, if it is running."""
    from orbit_pipelines.local.postgres import stop_embedded_postgres
    from orbit_pipelines.settings import orbit_home

    data_dir = orbit_home() / "pgdata"
    if stop_embedded_postgres(data_dir):
        click.echo(f"stopped embedded Postgres in {data_dir}")
    else:
        click.echo(f"no embedded Postgres running in {data_dir}")


@main.group()
def task() -> None:
    """Submit, list and show ledger tasks."""


@task.command("submit")
@click.option("--kind", default="decomposition", show_default=True, help="Task kind (see `orbit task kinds`).")
@click.option("--payload", "payload_file", type=click.File("r"), help="JSON payload file, or - for stdin.")
@click.option("--sample", is_flag=True, help="Submit the built-in sample decomposition task.")
@click.option("--priority", type=click.IntRange(-100, 100), default=0, show_default=True, help="Higher runs first.")
@click.option("--lane", type=click.Choice(["sync", "async"]), help="sync: one at a time; async: concurrent.")
@click.option("--idempotency-key", help="Submitting the same key again returns the existing task.")
@click.option("--wait", "wait_seconds", type=float, default=0, help="Wait up to N seconds for the task to finish.")
@click.option("--launch/--no-launch", default=True, show_default=True,
              help="Launch the run at once through the webserver (ORBIT_DAGSTER_URL) when one serves this "
                   "instance; otherwise, and for the sync lane, the dispatch sensor starts it.")
def task_submit(kind, payload_file, sample, priority, lane, idempotency_key, wait_seconds, launch) -> None:
    """Submit a task to the ledger and start its run (directly, or by the dispatch sensor)."""
    from orbit_pipelines.jobs.registry import UnknownKind
    from orbit_pipelines.ledger import IdempotencyConflict
    from orbit_pipelines.runtime.intake import PayloadError, submit_task

    if bool(payload_file) == bool(sample):
        raise click.UsageError("give exactly one of --payload FILE|- or --sample")
    if sample:
        payload = _sample_payload()
    else:
        try:
            payload = json.load(payload_file)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{payload_file.name}: not valid JSON ({exc})") from None
    with _environment() as env:
        try:
            task_row, created = submit_task(
                _ledger(env), kind, payload, priority=priority, lane=lane, idempotency_key=idempotency_key
            )
        except (PayloadError, UnknownKind, IdempotencyConflict) as exc:
            raise click.ClickException(str(exc)) from None
        verb = "submitted" if created else "already submitted as"
        click.echo(f"{verb} task {task_row.id} ({task_row.kind}, {task_row.status.value})")
        if created and launch:
            from orbit_pipelines.launch import launch_now

            run_id = launch_now(_ledger(env), task_row)
            if run_id:
                click.echo(f"launched run {run_id}")
        if wait_seconds:
            final = _wait_for_task(_ledger(env), task_row.id, wait_seconds)
            click.echo(f"task {final.id} is {final.status.value}")
            if final.status.value != "COMPLETED":
                sys.exit(1)


@task.command("show")
@click.argument("task_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
def task_show(task_id: int, fmt: str) -> None:
    """Print a task, its status history and its plan (subtasks and prompts)."""
    from orbit_pipelines.ledger import TaskNotFound
    from orbit_pipelines.reports import task_report_json, task_report_markdown

    with _environment() as env:
        try:
            text = (task_report_json if fmt == "json" else task_report_markdown)(_ledger(env), task_id)
        except TaskNotFound as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(text)


@task.command("list")
@click.option("--status", type=click.Choice(["PENDING", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELED"]))
@click.option("--kind")
@click.option("--limit", type=int, default=20, show_default=True)
def task_list(status, kind, limit) -> None:
    """List recent tasks."""
    with _environment() as env:
        rows = _ledger(env).list(status=status, kind=kind, limit=limit)
    for t in rows:
        error = f"  {t.error_class}: {t.error_message}" if t.error_class else ""
        click.echo(f"{t.id:>6}  {t.kind:<14} {t.status.value:<9} p={t.priority:<4} {t.lane:<5} "
                   f"{t.run_id or '-':<36} {t.payload.get('title', '')[:40]}{error}")


@task.command("kinds")
def task_kinds() -> None:
    """List the task kinds and the job each one runs."""
    from orbit_pipelines.jobs.registry import all_kinds

    for k in all_kinds().values():
        click.echo(f"{k.kind:<16} -> job {k.job_name} (default lane {k.default_lane})")


def _metrics_options(prefix: str):
    """Bind address, port and window of the metrics server: `--host/--port` for `orbit metrics serve`,
    `--metrics-host/--metrics-port` for `orbit up` (whose --host/--port are the UI's)."""

    def decorate(command):
        command = click.option(f"--{prefix}window", "window", type=click.IntRange(60, 7 * 86400), default=3600,
                               show_default=True, envvar="ORBIT_METRICS_WINDOW_SECONDS",
                               help="Seconds of activity the window metrics cover (runs finished, durations, "
                                    "calls).")(command)
        command = click.option(f"--{prefix}port", "metrics_port", type=click.IntRange(0, 65535),
                               default=DEFAULT_METRICS_PORT, show_default=True, envvar="ORBIT_METRICS_PORT",
                               help="Prometheus metrics port (0: no metrics server).")(command)
        return click.option(f"--{prefix}host", "metrics_host", default=DEFAULT_UI_HOST, show_default=True,
                            envvar="ORBIT_METRICS_HOST", help="Metrics bind address (loopback by default).")(command)

    return decorate


def _start_metrics(env: Environment, host: str, port: int, window: int):
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.metrics import serve

    try:
        server = serve(get_engine(env.pg_url), host, port, window)
    except OSError as exc:
        raise click.ClickException(f"metrics: cannot listen on {host}:{port} ({exc.strerror}); choose another "
                                   "port with --metrics-port/ORBIT_METRICS_PORT, or 0 for none") from None
    click.echo(f"metrics: http://{host}:{port}/metrics")
    return server


@main.command("up")
@click.option("--host", default=DEFAULT_UI_HOST, show_default=True, help="Webserver bind address (loopback by default).")
@click.option("--port", default=DEFAULT_UI_PORT, show_default=True, type=int)
@_metrics_options("metrics-")
def up(host: str, port: int, metrics_host: str, metrics_port: int, window: int) -> None:
    """Run the webserver, the daemon (sensors, schedules, run queue), a code server and the Prometheus
    metrics server until Ctrl-C."""
    from orbit_pipelines.local.processes import ManagedProcess, venv_bin

    root = project_root()
    with _environment(local_services=True) as env:
        click.echo(f"instance: {env.dagster_home / 'dagster.yaml'}; storage: {env.describe_postgres()}")
        for line in env.services.describe():
            click.echo(line)
        from orbit_pipelines.sensors.inbox import inbox_dir

        inbox_dir().mkdir(parents=True, exist_ok=True)
        click.echo(f"document inbox: {inbox_dir()}")
        metrics_server = _start_metrics(env, metrics_host, metrics_port, window) if metrics_port else None
        click.echo(f"UI: http://{host}:{port}  (Ctrl-C to stop)")
        stack = ManagedProcess(
            [venv_bin("dagster"), "dev", "-h", host, "-p", str(port), "-w", str(root / "workspace.yaml")], cwd=root
        )
        try:
            stack.proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            stack.stop()
            if metrics_server is not None:
                metrics_server.shutdown()


@main.group()
def metrics() -> None:
    """Prometheus metrics of the ledger and the Dagster instance."""


@metrics.command("serve")
@_metrics_options("")
def metrics_serve(metrics_host: str, metrics_port: int, window: int) -> None:
    """Serve /metrics for Prometheus until Ctrl-C (`orbit up` serves them too)."""
    if not metrics_port:
        raise click.UsageError("--port: give a port to listen on")
    with _environment() as env:
        server = _start_metrics(env, metrics_host, metrics_port, window)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()


@main.group()
def webhooks() -> None:
    """Task events sent to ORBIT_WEBHOOK_URL: the delivery log."""


@webhooks.command("log")
@click.option("--status", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--task", "task_id", type=int, help="Only this task's events.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
def webhooks_log(status, task_id, limit) -> None:
    """Newest deliveries first: event, receiver, status, attempts, last answer or error, next attempt."""
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.webhooks.outbox import Outbox

    with _environment() as env:
        rows = Outbox(get_engine(env.pg_url)).log(status=status, task_id=task_id, limit=limit)
    if not rows:
        click.echo("no deliveries" + ("" if os.environ.get("ORBIT_WEBHOOK_URL") else
                                      " (ORBIT_WEBHOOK_URL is not set where this runs)"))
    for r in rows:
        if r["status"] == "delivered":
            when = f"delivered {r['delivered_at']:%Y-%m-%d %H:%M:%S}"
        elif r["status"] == "pending":
            when = f"next attempt {r['next_attempt_at']:%Y-%m-%d %H:%M:%S}"
        else:
            when = "given up (`orbit webhooks retry --failed`)"
        last = f" | last: {r['last_error']}" if r["last_error"] else ""
        click.echo(f"{r['id']:>7} {r['event_type']:<20} task {r['task_id']:<6} {r['status']:<9} "
                   f"attempts {r['attempts']} {r['url']} | {when}{last}")


@webhooks.command("retry")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option("--failed", "all_failed", is_flag=True, help="Every given-up delivery.")
def webhooks_retry(delivery_ids, all_failed) -> None:
    """Send deliveries again from now (given-up ones, or pending ones without waiting for their backoff)."""
    from datetime import datetime, timezone

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.webhooks.outbox import Outbox

    if bool(delivery_ids) == all_failed:
        raise click.UsageError("give delivery ids or --failed")
    with _environment() as env:
        n = Outbox(get_engine(env.pg_url)).retry(datetime.now(timezone.utc), delivery_ids, all_failed)
    click.echo(f"{n} delivery(ies) will be sent at the webhook sensor's next tick")


@main.command("demo")
@click.option("--timeout", type=float, default=240, show_default=True, help="Seconds to wait for the runs.")
def demo(timeout: float) -> None:
    """Submit the sample task and sample documents, let the daemon's sensor run them, print the results."""
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.local.processes import ManagedProcess, venv_bin
    from orbit_pipelines.local.sample_documents import write_sample_set
    from orbit_pipelines.reports import documents_report_markdown, task_report_markdown
    from orbit_pipelines.runtime.intake import submit_task

    root = project_root()
    with _environment(local_services=True) as env:
        click.echo(f"storage: {env.describe_postgres()}; instance config: {env.dagster_home / 'dagster.yaml'}")
        for line in env.services.describe():
            click.echo(line)
        log_dir = env.orbit_home / "logs"
        log_dir.mkdir(exist_ok=True)
        daemon_log = log_dir / "demo-daemon.log"
        daemon = ManagedProcess(
            [venv_bin("dagster-daemon"), "run", "-w", str(root / "workspace.yaml")], cwd=root, log_file=daemon_log
        )
        try:
            ledger = _ledger(env)
            task_row, _ = submit_task(ledger, "decomposition", _sample_payload())
            click.echo(f"submitted task {task_row.id}: {task_row.payload['title']!r}; "
                       "waiting for the dispatch sensor to start its run...")
            final = _wait_for_task(ledger, task_row.id, timeout, on_change=_echo_status, alive=daemon.alive)
            click.echo("")
            click.echo(task_report_markdown(ledger, task_row.id))
            if final.status.value != "COMPLETED":
                raise click.ClickException(f"task {final.id} ended {final.status.value}; daemon log: {daemon_log}")
            click.echo(f"\nSee the run in the UI: `make up`, then "
                       f"http://{DEFAULT_UI_HOST}:{DEFAULT_UI_PORT}/runs/{final.run_id}\n")

            samples = write_sample_set(env.orbit_home / "samples", n=4)
            submitted = [submit_document(ledger, path) for path in samples]
            doc_ids = [t.id for t, _ in submitted]
            if any(created for _, created in submitted):
                click.echo(f"submitted {len(doc_ids)} sample documents ({', '.join(p.name for p in samples)}); "
                           "they run as one batch through document_processing...")
            else:
                click.echo("the sample documents were submitted by an earlier demo (same content, same "
                           "idempotency key); showing their results")
            docs = [_wait_for_task(ledger, i, timeout, alive=daemon.alive) for i in doc_ids]
        finally:
            daemon.stop()
        click.echo(documents_report_markdown(ledger, doc_ids))
        if any(d.status.value != "COMPLETED" for d in docs):
            raise click.ClickException(f"some documents did not complete; daemon log: {daemon_log}")


@main.group()
def doc() -> None:
    """Submit and inspect documents."""


@doc.command("submit")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--priority", type=click.IntRange(-100, 100), default=0, show_default=True)
@click.option("--wait", "wait_seconds", type=float, default=0, help="Wait up to N seconds for all to finish.")
def doc_submit(paths, priority, wait_seconds) -> None:
    """Submit files (folders are walked): one task per document content."""
    from orbit_pipelines.jobs.document_processing.files import BadDocument
    from orbit_pipelines.jobs.document_processing.intake import expand_paths, submit_document
    from orbit_pipelines.reports import documents_report_markdown

    files = expand_paths(list(paths))
    submitted, refused = [], []
    with _environment() as env:
        ledger = _ledger(env)
        with click.progressbar(files, label="submitting", show_pos=True, file=sys.stderr) as bar:
            for path in bar:
                try:
                    task_row, created = submit_document(ledger, path, priority=priority)
                    submitted.append((task_row, created))
                except BadDocument as exc:
                    refused.append(str(exc))
        new = sum(1 for _, created in submitted if created)
        click.echo(f"{new} submitted, {len(submitted) - new} already known, {len(refused)} refused")
        for reason in refused:
            click.echo(f"  refused: {reason}")
        if wait_seconds and submitted:
            ids = [t.id for t, _ in submitted]
            finals = [_wait_for_task(ledger, i, wait_seconds) for i in ids]
            click.echo(documents_report_markdown(ledger, ids))
            if any(f.status.value != "COMPLETED" for f in finals):
                sys.exit(1)
        if refused:
            sys.exit(1)


@main.command("rerun")
@click.argument("run_id")
@click.option("--from-step", "from_step", help="Re-execute this step and everything after it.")
@click.option("--all-steps", is_flag=True, help="Re-execute every step.")
@click.option("--config", "config_file", type=click.File("r"),
              help="With --from-step: run config edits (JSON) merged over the parent's, e.g. "
                   "{\"ops\": {\"decompose_task\": {\"config\": {\"corrected_subtasks_json\": \"[...]\"}}}}")
def rerun(run_id, from_step, all_steps, config_file) -> None:
    """Re-execute a run through the webserver's GraphQL API (default: from its failed steps)."""
    from orbit_pipelines.operations import DagsterApi, OperationError, steps_from

    api = DagsterApi()
    try:
        if from_step:
            from orbit_pipelines.definitions import defs

            parent = api.run(run_id)
            steps = steps_from(defs.get_job_def(parent["jobName"]), from_step)
            new_run = api.reexecute_steps(run_id, steps, json.load(config_file) if config_file else None)
            if config_file:
                _record_edit(run_id, new_run, from_step)
        else:
            new_run = api.reexecute(run_id, "ALL_STEPS" if all_steps else "FROM_FAILURE")
    except OperationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"launched re-execution {new_run} of run {run_id}")


def _record_edit(parent_run: str, new_run: str, step: str) -> None:
    """An operator's corrected config is part of the task's history."""
    with _environment() as env:
        ledger = _ledger(env)
        for task_row in ledger.tasks_ever_in_run(parent_run):
            ledger.record_note(task_row.id, f"re-executed from {step} with edited config as run {new_run}", new_run)


@main.command("cancel")
@click.argument("target")
def cancel(target: str) -> None:
    """Cancel a task (by id) or a run (by run id). A canceled task can be resumed by re-execution."""
    from orbit_pipelines.ledger import TaskStatus
    from orbit_pipelines.operations import DagsterApi, OperationError

    with _environment() as env:
        ledger = _ledger(env)
        run_id = target
        if target.isdigit():
            task_row = ledger.get(int(target))
            if task_row.status == TaskStatus.PENDING:
                ledger.transition(task_row.id, TaskStatus.CANCELED, note="canceled before dispatch")
                click.echo(f"task {task_row.id} canceled before it was dispatched")
                return
            if task_row.run_id is None:
                raise click.ClickException(f"task {task_row.id} is {task_row.status.value} with no run to cancel")
            run_id = task_row.run_id
        try:
            DagsterApi().terminate(run_id)
        except OperationError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"asked run {run_id} to stop; its tasks become CANCELED when it has")


@main.command("pause")
@click.option("--kind", default="*", help="Pause one kind only (default: all intake).")
@click.option("--reason", default="", help="Shown as the dispatch sensor's skip reason.")
def pause(kind: str, reason: str) -> None:
    """Stop dispatching new runs: tasks stay PENDING, queued runs stay queued, nothing is lost."""
    with _environment() as env:
        _ledger(env).set_paused(True, kind, reason or None)
    click.echo(f"intake paused for {'all kinds' if kind == '*' else kind}; `orbit resume` continues")


@main.command("resume")
@click.option("--kind", default="*", help="Resume one kind only (default: all intake).")
def resume(kind: str) -> None:
    """Continue dispatching after `orbit pause`."""
    with _environment() as env:
        ledger = _ledger(env)
        if kind == "*":
            for paused_kind in ledger.paused_kinds():
                ledger.set_paused(False, paused_kind)
        else:
            ledger.set_paused(False, kind)
    click.echo(f"intake resumed for {'all kinds' if kind == '*' else kind}")


@main.group()
def dlq() -> None:
    """Dead letters: tasks that failed for good."""


@dlq.command("list")
@click.option("--kind")
def dlq_list(kind) -> None:
    """Failed tasks nobody has retried to success or discarded, with what to do about each."""
    from orbit_pipelines.runtime.remediation import remediation_for

    with _environment() as env:
        rows = _ledger(env).dead_letters(kind)
    if not rows:
        click.echo("no dead letters")
    for r in rows:
        click.echo(f"task {r['id']} ({r['kind']}) run {r['run_id']} step {r['error_step'] or '-'}: "
                   f"{r['error_class']}: {r['error_message']} | attempts {r['attempts']}, failures {r['failures']}, "
                   f"first {r['first_failure']:%Y-%m-%d %H:%M:%S}, last {r['last_failure']:%Y-%m-%d %H:%M:%S}")
        click.echo(f"    what to do: {remediation_for(r['error_class'])}")


@dlq.command("retry")
@click.argument("task_ids", nargs=-1, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter (of --kind).")
@click.option("--kind")
def dlq_retry(task_ids, retry_all, kind) -> None:
    """Run dead letters again: re-execute a failed run from failure, else launch a new run for them."""
    from orbit_pipelines.jobs.registry import get_kind
    from orbit_pipelines.operations import DagsterApi, OperationError

    if bool(task_ids) == retry_all:
        raise click.UsageError("give task ids or --all")
    api = DagsterApi()
    with _environment() as env:
        ledger = _ledger(env)
        letters = {r["id"] for r in ledger.dead_letters(kind, limit=10_000)}
        wanted = sorted(letters) if retry_all else list(task_ids)
        not_dead = [i for i in wanted if i not in letters]
        if not_dead:
            raise click.ClickException(f"not in the dead-letter list: {not_dead}")
        tasks = ledger.get_many(wanted)
        reexecuted, fresh = set(), []
        try:
            for task_row in tasks:
                run = api.run(task_row.run_id) if task_row.run_id else None
                if run and run["status"] == "FAILURE" and task_row.run_id not in reexecuted:
                    new_run = api.reexecute(task_row.run_id, "FROM_FAILURE")
                    reexecuted.add(task_row.run_id)
                    click.echo(f"task {task_row.id}: re-executing run {task_row.run_id} from failure as {new_run}")
                elif not run or run["status"] != "FAILURE":
                    fresh.append(task_row)
            for kind_name in sorted({t.kind for t in fresh}):
                group = [t for t in fresh if t.kind == kind_name]
                job_kind = get_kind(kind_name)
                batches = [group[i:i + job_kind.batch_size()] for i in range(0, len(group), job_kind.batch_size())]
                for batch in batches:
                    new_run = api.launch(job_kind.job_name, job_kind.run_config(batch), job_kind.tags_for(batch))
                    click.echo(f"tasks {[t.id for t in batch]}: new run {new_run}")
        except OperationError as exc:
            raise click.ClickException(str(exc)) from None


@dlq.command("discard")
@click.argument("task_id", type=int)
@click.option("--reason", required=True, help="Why this work is abandoned (kept with the task).")
def dlq_discard(task_id: int, reason: str) -> None:
    """Take a task off the dead-letter list, with a reason for the record."""
    from orbit_pipelines.ledger import TaskNotFound

    with _environment() as env:
        try:
            _ledger(env).discard(task_id, reason)
        except (TaskNotFound, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"task {task_id} discarded: {reason}")


@main.group()
def new() -> None:
    """Scaffold new code."""


@new.command("job")
@click.argument("name")
def new_job_command(name: str) -> None:
    """Create orbit_pipelines/jobs/NAME/ (models, logic, ops, job, kind) and its tests."""
    from orbit_pipelines.scaffold import new_job

    try:
        written = new_job(name, project_root())
    except (ValueError, FileExistsError) as exc:
        raise click.ClickException(str(exc)) from None
    for path in written:
        click.echo(f"wrote {path.relative_to(project_root())}")
    click.echo(f"next: edit models.py and logic.py, then `.venv/bin/pytest orbit_pipelines_tests/jobs/{name}`; "
               f"submit with `orbit task submit --kind {name} --payload FILE`")


def _echo_status(task_row) -> None:
    run = f" (run {task_row.run_id})" if task_row.run_id else ""
    click.echo(f"  task {task_row.id}: {task_row.status.value}{run}")


def _wait_for_task(ledger, task_id: int, timeout: float, on_change=None, alive=lambda: True):
    from orbit_pipelines.ledger.states import TERMINAL

    deadline, last = time.monotonic() + timeout, None
    while True:
        current = ledger.get(task_id)
        if on_change and (current.status, current.run_id) != last:
            on_change(current)
            last = (current.status, current.run_id)
        if current.status in TERMINAL:
            return current
        if time.monotonic() > deadline:
            raise click.ClickException(f"task {task_id} still {current.status.value} after {timeout:.0f}s")
        if not alive():
            raise click.ClickException("the Dagster daemon exited; see its log under ORBIT_HOME/logs")
        time.sleep(0.1)


def _sample_payload() -> dict:
    return json.loads(resources.files("orbit_pipelines.samples").joinpath("decomposition_task.json").read_text())


if __name__ == "__main__":
    main()

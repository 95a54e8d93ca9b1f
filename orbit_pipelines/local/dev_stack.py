"""The local stack behind `orbit env`, `orbit up`, `orbit demo` and `orbit db stop`: the processes they
start, the sample work the demo submits, and running until Ctrl-C."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from orbit_pipelines.environment import Environment
from orbit_pipelines.ledger import Ledger, Task
from orbit_pipelines.settings import project_root
from orbit_pipelines.waiting import DaemonExited, WaitTimedOut

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

DEMO_DOCUMENTS = 4
UP_LOG_ROTATE_BYTES = 50 * 1024 * 1024
RUN_POLL_SECONDS = 0.2


class CodeLocationError(RuntimeError):
    """The definitions do not load: a daemon on them could run nothing."""


def check_code_location() -> None:
    """Import the definitions as the daemon's code server will, in this process's environment.

    A daemon whose code location fails to load only logs it and ticks no sensor, so a task would
    wait PENDING for the whole timeout; importing first says why at once.
    """
    import importlib

    try:
        importlib.import_module("orbit_pipelines.definitions")
    except Exception as exc:  # noqa: BLE001 - whatever stops the import stops the code server too
        raise CodeLocationError(
            f"the code location does not load, so the daemon could run nothing: {type(exc).__name__}: {exc}"
        ) from exc


def wait_for_runs(
    instance: DagsterInstance, run_ids: Sequence[str | None], timeout: float, alive: Callable[[], bool] = lambda: True
) -> list[DagsterRun]:
    """The runs once Dagster records every one of them finished (success, failure or canceled).

    The ledger can say COMPLETED while a run still has steps to go (document_processing's `summarize`
    runs after its tasks are stored): stopping the daemon then kills the run worker, the run ends
    failed (UNEXPECTED_TERMINATION) and the next daemon retries it. Raises WaitTimedOut at the
    deadline and DaemonExited as soon as `alive()` says the daemon is gone.
    """
    from dagster import RunsFilter

    ids = list(dict.fromkeys(i for i in run_ids if i))
    if not ids:
        return []
    deadline = time.monotonic() + timeout
    while True:
        runs = list(instance.get_runs(RunsFilter(run_ids=ids)))
        unfinished = [r for r in runs if not r.is_finished]
        if len(runs) == len(ids) and not unfinished:
            return runs
        if time.monotonic() > deadline:
            found = {r.run_id for r in runs}
            what = [f"{r.run_id} still {r.status.value}" for r in unfinished] + [
                f"{i} not in Dagster's storage" for i in ids if i not in found
            ]
            raise WaitTimedOut(
                f"after {timeout:.0f}s: run {what[0]}" + (f" (and {len(what) - 1} more)" if len(what) > 1 else "")
            )
        if not alive():
            raise DaemonExited("the Dagster daemon exited before its runs ended; see its log under ORBIT_HOME/logs")
        time.sleep(RUN_POLL_SECONDS)


def shell_exports(env: Environment) -> list[str]:
    """`export` lines for a shell (`eval "$(orbit env)"`). An embedded Postgres is left running after
    the command ends: the shell's `dagster dev` or `dagster-daemon` needs it (`orbit db stop` stops it)."""
    if env.embedded:
        env.embedded.started_here = False  # it must outlive this command
    return [f"export {key}='{value}'" for key, value in env.variables.items()]


def stop_embedded_database() -> tuple[bool, Path]:
    """Stop the embedded Postgres under ORBIT_HOME: (whether one was running, its data folder)."""
    from orbit_pipelines.local.postgres import stop_embedded_postgres
    from orbit_pipelines.settings import orbit_home

    data_dir = orbit_home() / "pgdata"
    return stop_embedded_postgres(data_dir), data_dir


def prepare_inboxes() -> dict[str, Path]:
    """Every kind's inbox folder (documents: ORBIT_INBOX_DIR or ORBIT_HOME/inbox; voice: ORBIT_VOICE_INBOX_DIR
    or ORBIT_HOME/voice-inbox), created if missing: kind -> folder."""
    from orbit_pipelines.jobs.registry import inboxes

    folders = {each.kind: each.folder() for each in inboxes()}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    return folders


def up_log_file(env: Environment) -> Path:
    """ORBIT_HOME/logs/up.log, where `orbit up`'s Dagster processes log. One earlier file is kept: a log
    over UP_LOG_ROTATE_BYTES is moved to up.log.1 at the next start, so restarts do not fill the disk."""
    log_dir = env.orbit_home / "logs"
    log_dir.mkdir(exist_ok=True)
    log_file = log_dir / "up.log"
    if log_file.exists() and log_file.stat().st_size > UP_LOG_ROTATE_BYTES:
        log_file.replace(log_dir / "up.log.1")
    return log_file


def start_dev_server(host: str, port: int, log_file: Path, root: Path | None = None):
    """`dagster dev` on the project's workspace: webserver, daemon and code server (a ManagedProcess),
    all of them and their run workers writing to `log_file`, at INFO (`local/console.py` picks what
    the console shows)."""
    import os

    from orbit_pipelines.local.processes import ManagedProcess, venv_bin

    root = root or project_root()
    argv = [venv_bin("dagster"), "dev", "-h", host, "-p", str(port), "-w", str(root / "workspace.yaml")]
    # Unbuffered, so that the console's copy of a line comes when it happens, not a buffer later.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return ManagedProcess([*argv, "--log-level", "info"], cwd=root, log_file=log_file, env=env, interrupt_group=False)


def start_daemon(env: Environment, log_name: str = "demo-daemon.log", root: Path | None = None):
    """`dagster-daemon run` on the project's workspace, logging to ORBIT_HOME/logs/`log_name` (the
    ManagedProcess's `log_file`)."""
    from orbit_pipelines.local.processes import ManagedProcess, venv_bin

    root = root or project_root()
    log_dir = env.orbit_home / "logs"
    log_dir.mkdir(exist_ok=True)
    return ManagedProcess(
        [venv_bin("dagster-daemon"), "run", "-w", str(root / "workspace.yaml")], cwd=root, log_file=log_dir / log_name
    )


def run_until_interrupted(wait: Callable[[], object] | None = None, *stops: Callable[[], object]) -> object:
    """Block in `wait()` (default: forever) until it returns or Ctrl-C, then call each of `stops`.
    What `wait()` returned (a process's exit code), or None after Ctrl-C."""
    try:
        return (wait or _forever)()
    except KeyboardInterrupt:
        return None
    finally:
        for stop in stops:
            stop()


def _forever() -> None:
    while True:
        time.sleep(3600)


def submit_sample_task(ledger: Ledger) -> Task:
    """The built-in sample decomposition task, left to the dispatch sensor."""
    from orbit_pipelines.runtime.intake import submit_task
    from orbit_pipelines.submission import sample_payload

    task, _ = submit_task(ledger, "decomposition", sample_payload())
    return task


@dataclass(frozen=True)
class SampleDocuments:
    paths: list[Path]
    task_ids: list[int]
    any_new: bool  # False: an earlier demo submitted the same contents (same idempotency keys)


def submit_sample_documents(ledger: Ledger, folder: Path, n: int = DEMO_DOCUMENTS) -> SampleDocuments:
    """Write `n` sample receipts to `folder` and submit them, left to the dispatch sensor (one batch)."""
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.local.sample_documents import write_sample_set

    paths = write_sample_set(folder, n=n)
    submitted = [submit_document(ledger, path) for path in paths]
    return SampleDocuments(
        paths=paths, task_ids=[t.id for t, _ in submitted], any_new=any(created for _, created in submitted)
    )

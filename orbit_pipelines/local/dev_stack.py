"""The local stack behind `orbit env`, `orbit up`, `orbit demo` and `orbit db stop`: the processes they
start, the sample work the demo submits, and running until Ctrl-C."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from orbit_pipelines.environment import Environment
from orbit_pipelines.ledger import Ledger, Task
from orbit_pipelines.settings import project_root

DEMO_DOCUMENTS = 4


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


def prepare_inbox() -> Path:
    """The document inbox folder (ORBIT_INBOX_DIR, or ORBIT_HOME/inbox), created if missing."""
    from orbit_pipelines.sensors.inbox import inbox_dir

    folder = inbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def start_dev_server(host: str, port: int, root: Path | None = None):
    """`dagster dev` on the project's workspace: webserver, daemon and code server (a ManagedProcess)."""
    from orbit_pipelines.local.processes import ManagedProcess, venv_bin

    root = root or project_root()
    return ManagedProcess(
        [venv_bin("dagster"), "dev", "-h", host, "-p", str(port), "-w", str(root / "workspace.yaml")], cwd=root
    )


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


def run_until_interrupted(wait: Callable[[], object] | None = None, *stops: Callable[[], object]) -> None:
    """Block in `wait()` (default: forever) until it returns or Ctrl-C, then call each of `stops`."""
    try:
        (wait or _forever)()
    except KeyboardInterrupt:
        pass
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

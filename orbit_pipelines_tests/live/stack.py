"""Helpers for tests against the live stack (see conftest.py): waiting, the `orbit` CLI, free ports."""

import contextlib
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.pauses import pause_request
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.local.services import start_local_services
from orbit_pipelines.local.stack import LocalStack
from orbit_pipelines.operations import DagsterApi
from orbit_pipelines_tests.support import ROOT

RUN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

# The live stack signs its task events with this (conftest.py sets ORBIT_WEBHOOK_SECRET).
WEBHOOK_SECRET = "live-stack-webhook-secret"

# Where the live stack keeps op outputs and compute logs, on the local S3 server.
IO_MANAGER_BUCKET, IO_MANAGER_PREFIX = "orbit-live-io", "dagster-io"
COMPUTE_LOGS_BUCKET, COMPUTE_LOGS_PREFIX = "orbit-live-compute-logs", "compute-logs"


def s3_client():
    import boto3

    return boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"], region_name=os.environ["AWS_REGION"])


def production_s3_settings() -> dict[str, str]:
    """The variables of deploy/single-host/dagster.yaml and the S3 IO manager, on the local S3 server
    (its buckets created, as an operator creates them before deploying)."""
    s3 = s3_client()
    for bucket in (IO_MANAGER_BUCKET, COMPUTE_LOGS_BUCKET):
        s3.create_bucket(Bucket=bucket)
    return {
        "ORBIT_IO_MANAGER_BUCKET": IO_MANAGER_BUCKET,
        "ORBIT_IO_MANAGER_PREFIX": IO_MANAGER_PREFIX,
        "ORBIT_COMPUTE_LOGS_BUCKET": COMPUTE_LOGS_BUCKET,
        "ORBIT_COMPUTE_LOGS_PREFIX": COMPUTE_LOGS_PREFIX,
        # deploy/ leaves S3ComputeLogManager's endpoint_url out (it cannot be empty on AWS), so boto3's
        # own variable points it at another server.
        "AWS_ENDPOINT_URL_S3": os.environ["ORBIT_S3_ENDPOINT_URL"],
    }


def wait_for(predicate, timeout, what, log_files=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in log_files if p.exists())
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def orbit(stack, *args, check=True, timeout=120, env=None):
    """The `orbit` command against the stack; `env` replaces the stack's environment (a setting of one call)."""
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", *args],
        env=env or stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def task_ids_of(stack, paths) -> list[int]:
    """The ledger tasks of these submitted files, in id order."""
    with stack.ledger.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT id FROM orbit.tasks WHERE payload->>'path' = ANY(:paths) ORDER BY id"),
                {"paths": [str(p.resolve()) for p in paths]},
            ).scalars()
        )


def finished(stack, task_id, timeout=120):
    wait_for(lambda: stack.ledger.get(task_id).status in TERMINAL, timeout, f"task {task_id} to finish", stack.logs)
    return stack.ledger.get(task_id)


def run_finished(stack, run_id, timeout=120):
    wait_for(
        lambda: stack.api.run(run_id)["status"] in ("SUCCESS", "FAILURE", "CANCELED"),
        timeout,
        f"run {run_id} to finish",
        stack.logs,
    )
    return stack.api.run(run_id)["status"]


def step_failures(stack, run_id) -> list[str]:
    """What failed in a run, for an assertion's message: each failed step and its error."""
    from dagster import DagsterEventType

    return [
        f"{record.step_key}: {record.dagster_event.event_specific_data.error.message[:800]}"
        for record in stack.instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    ]


@contextlib.contextmanager
def released_once_a_pause_is_asked(stack, model, run_id: str):
    """While inside: the model's held answers go out once someone asks `run_id` to pause."""
    ended = threading.Event()

    def release() -> None:
        while not ended.wait(0.2) and pause_request(stack.ledger, run_id) is None:
            pass
        model.release()

    threading.Thread(target=release, daemon=True).start()
    try:
        yield
    finally:
        ended.set()


@contextlib.contextmanager
def released_once_the_pause_is_seen(stack, emulator, run_id: str):
    """While inside: the Veryfi calls the emulator holds answer once `run_id`'s batch step says in its log
    that it has seen a pause (runtime/batch_pause.py): from then on it starts no call, so a pause lands
    between the documents in flight and the rest every time."""
    ended = threading.Event()

    def seen() -> bool:
        records = stack.instance.get_records_for_run(run_id).records
        return any("pause asked by" in (r.event_log_entry.user_message or "") for r in records)

    def release() -> None:
        while not ended.wait(0.2) and not seen():
            pass
        emulator.faults.release()

    threading.Thread(target=release, daemon=True).start()
    try:
        yield
    finally:
        ended.set()


class RestartableStack:
    """The live stack's processes on one database and DAGSTER_HOME, with local services that change
    ports on every start."""

    def __init__(self, url: str, folder, extra_env: dict[str, str] | None = None):
        self.url, self.folder, self.extra_env = url, folder, dict(extra_env or {})
        self.dagster_home = folder / "dagster_home"
        self.dagster_home.mkdir()
        shutil.copy(ROOT / "dagster.yaml", self.dagster_home / "dagster.yaml")
        self.ledger = Ledger(get_engine(url))
        self.services = self.processes = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.services = start_local_services(s3=True, veryfi=True)
        logs = self.folder / f"start-{self.starts}"
        logs.mkdir()
        env = {**os.environ, **self.services.variables, "DAGSTER_PG_URL": self.url, **self.extra_env}
        env.update(DAGSTER_HOME=str(self.dagster_home), ORBIT_INBOX_DIR=str(self.folder / "inbox"))
        env.update(ORBIT_VOICE_INBOX_DIR=str(self.folder / "voice-inbox"))
        self.processes = LocalStack(env, logs, ROOT)
        self.processes.wait_until_ready()
        self.env, self.logs, self.api = self.processes.env, self.processes.logs, DagsterApi(self.processes.url)

    def stop(self) -> None:
        if self.processes is not None:
            self.processes.stop()
        if self.services is not None:
            self.services.stop()
        self.processes = self.services = None

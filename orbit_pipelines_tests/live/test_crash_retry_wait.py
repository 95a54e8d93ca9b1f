"""`orbit doc submit DIR --wait` while the batch's run worker is SIGKILLed: Dagster's run retry
(deploy/single-host/dagster.yaml: run_retries, crashes only) finishes the work, and the command
follows it to the end. Nothing is reported FAILED on the way; each document is stored and paid once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
from dagster import RunsFilter
from sqlalchemy import text

from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.live.stack import task_ids_of, wait_for
from orbit_pipelines_tests.reliability.accounting import account
from orbit_pipelines_tests.support import ROOT, worker_pid

DOCUMENTS = 64


def submit_and_wait(stack, folder) -> subprocess.Popen:
    """`orbit doc submit FOLDER --wait 300` as the user runs it, in the background."""
    return subprocess.Popen(
        [sys.executable, "-m", "orbit_pipelines.cli", "doc", "submit", str(folder), "--wait", "300"],
        env=stack.env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def failures_recorded(stack, ids) -> int:
    with stack.ledger.engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM orbit.task_events WHERE task_id = ANY(:ids) AND to_status = 'FAILED'"),
            {"ids": ids},
        ).scalar()


def notes_of(stack, task_id) -> list[str]:
    with stack.ledger.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT note FROM orbit.task_events WHERE task_id = :id AND note IS NOT NULL ORDER BY id"),
                {"id": task_id},
            ).scalars()
        )


def test_doc_submit_wait_follows_a_crashed_batch_through_its_run_retry_to_completed(stack, emulator, tmp_path):
    # Four rounds of ORBIT_VERYFI_CONCURRENCY (16) calls of a second each: the kill lands mid-batch.
    emulator.faults.latency = 1.0
    paths = write_unique_sample_set(tmp_path / "docs", DOCUMENTS, salt=f"crash-retry-wait {time.time_ns()}")
    command = submit_and_wait(stack, tmp_path / "docs")
    try:
        wait_for(lambda: emulator.total_paid_calls >= 8, 120, "the batch to be mid-extraction", stack.logs)
        ids = task_ids_of(stack, paths)
        assert len(ids) == DOCUMENTS
        crashed_run = stack.ledger.get(ids[0]).run_id
        pid = worker_pid(stack, crashed_run)
        assert pid and psutil.pid_exists(pid)
        os.kill(pid, signal.SIGKILL)
        paid_before_kill = emulator.total_paid_calls
        out, err = command.communicate(timeout=300)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 0, out + err
    assert f"{DOCUMENTS} completed, 0 failed of {DOCUMENTS}" in out
    assert 0 < paid_before_kill < DOCUMENTS, "the worker died mid-batch"
    assert stack.instance.get_run_by_id(crashed_run).is_failure

    retries = stack.instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": crashed_run}))
    # Every document stored once, completed once, paid for once; none of them ever shown FAILED.
    account(stack.ledger, ids, "run worker SIGKILLed under `orbit doc submit --wait`", emulator=emulator).check()
    assert failures_recorded(stack, ids) == 0
    assert f"run {crashed_run} crashed; Dagster retries it" in " | ".join(notes_of(stack, ids[-1]))
    assert {t.run_id for t in stack.ledger.get_many(ids)} == {retries[0].run_id}

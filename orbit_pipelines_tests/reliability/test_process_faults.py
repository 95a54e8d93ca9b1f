"""Processes dying under load, with a real dagster-daemon on a Postgres of its own (so the suite can
restart that Postgres without disturbing anything else): a run worker killed mid-batch, the daemon
killed while tasks wait, a burst of 1,000 tasks from several processes, the instance's storage
restarting under the daemon. Every item ends COMPLETED once or FAILED with a reason, untouched by
an operator."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from types import SimpleNamespace

import psutil
import pytest
from dagster import RunsFilter
from sqlalchemy import text

from orbit_pipelines.db import get_engine, normalize_pg_url
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.local.postgres import start_embedded_postgres, stop_embedded_postgres
from orbit_pipelines.local.processes import ManagedProcess, venv_bin
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.runtime.tags import RUN_KEY_TAG
from orbit_pipelines_tests.reliability.accounting import account
from orbit_pipelines_tests.support import ROOT, create_database, drop_database, instance_for, worker_pid

pytestmark = pytest.mark.services

PG_DATA = ROOT / ".orbit" / "reliability-pgdata"


class Daemon:
    """dagster-daemon as the stack runs it; it can be killed like a crashed process and started again."""

    def __init__(self, env, log):
        self.env, self.log = env, log
        self.orphans: list[psutil.Process] = []
        self.process = self._start()

    def _start(self) -> ManagedProcess:
        return ManagedProcess(
            [venv_bin("dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT,
            log_file=self.log,
            env=self.env,
        )

    def kill(self) -> None:
        """SIGKILL, no goodbye: its code server lives on in its own session, as after a real crash."""
        self.orphans += psutil.Process(self.process.proc.pid).children(recursive=True)
        os.killpg(self.process.proc.pid, signal.SIGKILL)
        self.process.proc.wait(10)

    def restart(self) -> None:
        self.process = self._start()

    def stop(self) -> None:
        self.process.stop()
        alive = [p for p in self.orphans if p.is_running()]
        for process in alive:
            process.kill()
        psutil.wait_procs(alive, timeout=10)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = start_embedded_postgres(PG_DATA)
    url = create_database(normalize_pg_url(server.url), "orbit_faults")
    apply_migrations(get_engine(url))
    folder = tmp_path_factory.mktemp("faults")
    env = {
        **os.environ,
        "DAGSTER_PG_URL": url,
        "DAGSTER_HOME": str(ROOT),
        "ORBIT_INBOX_DIR": str(folder / "inbox"),
        "ORBIT_VOICE_INBOX_DIR": str(folder / "voice-inbox"),
        # Small in-run concurrency, so a batch is still extracting when the worker is killed.
        "ORBIT_VERYFI_CONCURRENCY": "4",
    }
    daemon = Daemon(env, folder / "daemon.log")
    instance = instance_for(url)
    yield SimpleNamespace(
        url=url, env=env, daemon=daemon, ledger=Ledger(get_engine(url)), instance=instance, folder=folder, server=server
    )
    daemon.stop()
    instance.dispose()
    drop_database(url)
    server.stop()


def wait_for(predicate, timeout: float, what: str, live, detail=lambda: "") -> float:
    """Seconds it took; fails with `detail()` and the daemon's log when it does not happen in time."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; {detail()}\n{live.daemon.log.read_text()[-5000:]}")


def settled(live, ids) -> bool:
    return all(t.status in TERMINAL for t in live.ledger.get_many(ids))


def open_tasks(live, ids) -> str:
    """The tasks not settled yet, with their state and run."""
    return "open: " + ", ".join(
        f"{t.id} {t.status.value} run {t.run_id}" for t in live.ledger.get_many(ids) if t.status not in TERMINAL
    )


@contextmanager
def intake_paused(live):
    """Work submitted inside waits, then is dispatched together (as after `orbit pause` / `orbit resume`)."""
    live.ledger.set_paused(True, reason="submitting a scenario")
    try:
        yield
    finally:
        live.ledger.set_paused(False)


def documents(live, n, salt) -> list[int]:
    from orbit_pipelines.jobs.document_processing.intake import submit_document

    paths = write_unique_sample_set(live.folder / salt, n, salt=f"{salt} {time.time_ns()}")
    return [submit_document(live.ledger, p)[0].id for p in paths]


def decompositions(live, n, salt, sample_payload) -> list[int]:
    from orbit_pipelines.runtime.intake import submit_task

    return [
        submit_task(live.ledger, "decomposition", {**sample_payload, "title": f"{salt} task {i}"})[0].id
        for i in range(n)
    ]


def first_runs_per_key(live, ids) -> Counter:
    """How many runs the dispatch sensor started for each dispatch key of these tasks."""
    # Tasks not claimed yet have no key (while the daemon is still dispatching): no run for them yet.
    keys = {t.dispatch_key for t in live.ledger.get_many(ids) if t.dispatch_key}
    runs = live.instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: sorted(keys)}))
    return Counter(run.tags[RUN_KEY_TAG] for run in runs if not run.parent_run_id)


def test_a_run_worker_killed_mid_batch_is_retried_and_nothing_is_paid_twice(live, emulator, scoreboard):
    emulator.faults.latency = 0.2
    with intake_paused(live):
        ids = documents(live, 40, "killed-worker")
    wait_for(lambda: emulator.total_paid_calls >= 8, 120, "the batch to be mid-extraction", live)
    run_id = live.ledger.get(ids[0]).run_id
    pid = worker_pid(live, run_id)
    assert pid and psutil.pid_exists(pid)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    paid_before_kill = emulator.total_paid_calls
    wait_for(lambda: live.instance.get_run_by_id(run_id).is_finished, 60, "the dead run to be marked failed", live)
    marked_failed_after = time.monotonic() - killed_at
    wait_for(
        lambda: settled(live, ids) and all(t.status == TaskStatus.COMPLETED for t in live.ledger.get_many(ids)),
        180,
        "the run retry to finish the batch",
        live,
    )
    outcome = scoreboard(
        account(
            live.ledger,
            ids,
            "run worker SIGKILLed mid-batch (run retry)",
            emulator=emulator,
            recover_seconds=time.monotonic() - killed_at,
            note=f"run marked failed {marked_failed_after:.1f} s after the kill",
        )
    )
    assert outcome.completed == 40 and 0 < paid_before_kill < 40
    assert live.instance.get_run_by_id(run_id).is_failure

    def retries():
        return live.instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": run_id}))

    # The tasks are complete once stored; the retry run still has its summary step to finish.
    wait_for(lambda: all(r.is_finished for r in retries()), 60, "the retry run to finish", live)
    assert len(retries()) == 1 and retries()[0].is_success


def test_a_daemon_killed_while_tasks_wait_dispatches_each_exactly_once_after_a_restart(
    live, emulator, scoreboard, sample_payload
):
    with intake_paused(live):
        ids = decompositions(live, 10, "daemon-kill", sample_payload) + documents(live, 30, "daemon-kill")
    # Killed in the middle of dispatching: after the first run exists, before the last.
    wait_for(lambda: sum(first_runs_per_key(live, ids).values()) >= 1, 120, "the first dispatched run", live)
    live.daemon.kill()
    time.sleep(2)
    live.daemon.restart()
    restarted_at = time.monotonic()
    wait_for(lambda: settled(live, ids), 240, "every task to finish after the restart", live)
    outcome = scoreboard(
        account(
            live.ledger,
            ids,
            "daemon SIGKILLed while dispatching, restarted 2 s later",
            emulator=emulator,
            recover_seconds=time.monotonic() - restarted_at,
        )
    )
    assert outcome.completed == len(ids)
    per_key = first_runs_per_key(live, ids)
    assert set(per_key.values()) == {1}, f"a dispatch key with more than one run: {per_key}"
    assert None not in {t.dispatch_key for t in live.ledger.get_many(ids)}


BURST_SUBMITTER = """
import sys, time
from pathlib import Path
from orbit_pipelines.db import get_engine, normalize_pg_url
from orbit_pipelines.jobs.document_processing.intake import submit_document
from orbit_pipelines.ledger import Ledger

ledger = Ledger(get_engine(sys.argv[1]))
start_at = float(sys.argv[2])
paths = sys.argv[3:]
time.sleep(max(0.0, start_at - time.time()))
for path in paths:
    submit_document(ledger, path)
"""


def test_a_burst_of_1000_tasks_from_four_processes_gives_each_exactly_one_batch_slot(live, emulator, scoreboard):
    paths = write_unique_sample_set(live.folder / "burst", 1000, salt=f"burst {time.time_ns()}")
    start_at = time.time() + 3  # every submitter is loaded and waiting before the first insert
    submitters = [
        subprocess.Popen(
            [sys.executable, "-c", BURST_SUBMITTER, live.url, str(start_at), *map(str, paths[i::4])],
            cwd=ROOT,
            env=live.env,
        )
        for i in range(4)
    ]
    assert all(p.wait(120) == 0 for p in submitters)
    with live.ledger.engine.connect() as conn:
        ids = list(
            conn.execute(
                text("SELECT id FROM orbit.tasks WHERE payload->>'path' = ANY(:paths)"),
                {"paths": [str(p.resolve()) for p in paths]},
            ).scalars()
        )
    assert len(ids) == 1000, "one task per submitted file"
    burst_done = time.monotonic()
    wait_for(lambda: settled(live, ids), 420, "the burst to be processed", live)
    outcome = scoreboard(
        account(
            live.ledger,
            ids,
            "burst: 1,000 tasks from 4 processes at once",
            emulator=emulator,
            recover_seconds=time.monotonic() - burst_done,
            note="time to process all",
        )
    )
    assert outcome.completed == 1000
    tasks = live.ledger.get_many(ids)
    per_key = first_runs_per_key(live, ids)
    assert set(per_key.values()) == {1}, "each batch slot has exactly one run"
    assert sum(Counter(t.dispatch_key for t in tasks).values()) == 1000
    counts = Counter(t.status for t in tasks)
    assert counts == {TaskStatus.COMPLETED: 1000}


# Room for the settle wait to fail by itself, with the daemon's log and the tasks still open.
@pytest.mark.timeout(480)
def test_the_instance_storage_restarting_under_the_daemon_needs_no_operator(live, emulator, scoreboard, sample_payload):
    with intake_paused(live):
        before = decompositions(live, 4, "pg-restart", sample_payload) + documents(live, 20, "pg-restart")
    wait_for(
        lambda: any(t.status == TaskStatus.RUNNING for t in live.ledger.get_many(before)), 120, "work in progress", live
    )
    stop_embedded_postgres(PG_DATA)
    time.sleep(3)
    start_embedded_postgres(PG_DATA)
    back_at = time.monotonic()
    after = decompositions(live, 3, "after-pg-restart", sample_payload)
    ids = before + after
    wait_for(
        lambda: settled(live, ids), 300, "every task to settle after the restart", live, lambda: open_tasks(live, ids)
    )
    outcome = scoreboard(
        account(
            live.ledger,
            ids,
            "instance Postgres restarted (3 s down) under the daemon",
            emulator=emulator,
            recover_seconds=time.monotonic() - back_at,
        )
    )
    assert live.daemon.process.alive(), "the daemon survived the outage"
    assert all(t.status == TaskStatus.COMPLETED for t in live.ledger.get_many(after)), "intake works again"
    assert outcome.lost == 0

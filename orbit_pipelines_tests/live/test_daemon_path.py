"""The path a user takes: a task enters the ledger, the daemon's sensor starts its run, the run
records the outcome. A real dagster-daemon (and the code server it spawns) on a fresh database."""

import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.local.processes import ManagedProcess, venv_bin
from orbit_pipelines_tests.support import ROOT, create_database, drop_database, instance_for

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def live(pg_server, tmp_path_factory):
    url = create_database(pg_server, "orbit_live")
    apply_migrations(get_engine(url))
    inbox = tmp_path_factory.mktemp("inbox")
    env = {**os.environ, "DAGSTER_PG_URL": url, "DAGSTER_HOME": str(ROOT), "ORBIT_INBOX_DIR": str(inbox)}
    env["ORBIT_VOICE_INBOX_DIR"] = str(inbox.parent / "no-voice-inbox")
    log = tmp_path_factory.mktemp("daemon") / "daemon.log"
    daemon = ManagedProcess(
        [venv_bin("dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")], cwd=ROOT, log_file=log, env=env
    )
    instance = instance_for(url)
    yield SimpleNamespace(url=url, env=env, ledger=Ledger(get_engine(url)), instance=instance, log=log, inbox=inbox)
    daemon.stop()
    instance.dispose()
    drop_database(url)


def wait_until_finished(live, task_id, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = live.ledger.get(task_id)
        if task.status in TERMINAL:
            return task
        time.sleep(0.5)
    pytest.fail(f"task {task_id} still {task.status.value}; daemon log:\n{live.log.read_text()[-4000:]}")


def test_orbit_task_submit_completes_through_the_sensor_and_daemon(live):
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "task", "submit", "--sample", "--no-launch", "--wait", "150"],
        env=live.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert result.returncode == 0, result.stdout + result.stderr + live.log.read_text()[-4000:]
    assert "is COMPLETED" in result.stdout
    task = live.ledger.list()[0]
    # The last step completes the task; the run itself ends a moment later.
    deadline = time.monotonic() + 30
    while not (run := live.instance.get_run_by_id(task.run_id)).is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.is_success
    assert run.tags["dagster/sensor_name"] == "task_dispatch_sensor"
    assert run.tags["dagster/run_key"] == f"task-{task.id}"
    assert run.tags["orbit/task_id"] == str(task.id)


def test_a_task_with_a_bad_payload_ends_failed_with_its_reason(live):
    task, _ = live.ledger.submit("decomposition", {"title": "x" * 500, "description": "too long a title"})
    failed = wait_until_finished(live, task.id)
    assert failed.status == TaskStatus.FAILED
    assert failed.error_step == "load_task" and failed.error_class == "InvalidPayload"
    assert "title: String should have at most 200 characters" in failed.error_message
    # The failure hook records the task before the run itself is marked failed.
    deadline = time.monotonic() + 30
    while not live.instance.get_run_by_id(failed.run_id).is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert live.instance.get_run_by_id(failed.run_id).is_failure


def test_documents_dropped_in_the_inbox_are_stored_in_one_batch(live, emulator, tmp_path):
    from orbit_pipelines.jobs.document_processing.store import documents_for_tasks
    from orbit_pipelines.local.sample_documents import write_sample_set

    staging = write_sample_set(tmp_path / "staging", n=4)
    for path in staging:  # as a user drops files: written elsewhere, then moved in
        path.rename(live.inbox / path.name)
    deadline = time.monotonic() + 120
    while len(live.ledger.list(kind="document")) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
    tasks = [wait_until_finished(live, t.id) for t in live.ledger.list(kind="document")]
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert len({t.run_id for t in tasks}) == 1, "documents that arrive together run as one batch"
    assert len(documents_for_tasks(live.ledger.engine, [t.id for t in tasks])) == 4
    assert all(emulator.paid_calls_for(t.payload["sha256"]) == 1 for t in tasks)


def _submit_concurrently(live, lane, n):
    import threading

    from orbit_pipelines.runtime.intake import submit_task

    barrier = threading.Barrier(n)

    def submit(i):
        barrier.wait()
        submit_task(live.ledger, "message", {"endpoint": "ops", "text": f"{lane} message {i}"}, lane=lane)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return sorted((t for t in live.ledger.list(kind="message", limit=100) if t.lane == lane), key=lambda t: t.id)


def test_sync_messages_are_delivered_one_at_a_time_in_submission_order(live, receiver):
    receiver.delay = 0.5
    # Three are enough to show order and one at a time; each is a run of its own, one after another.
    tasks = _submit_concurrently(live, "sync", 3)
    assert all(wait_until_finished(live, t.id, timeout=150).status == TaskStatus.COMPLETED for t in tasks)
    got = sorted(receiver.delivered(), key=lambda r: r["start"])
    assert [r["body"]["id"] for r in got] == [f"orbit-task-{t.id}" for t in tasks], "submission order"
    assert all(later["start"] >= earlier["end"] for earlier, later in zip(got, got[1:], strict=False)), "one at a time"


def test_async_messages_are_delivered_concurrently(live, receiver):
    receiver.delay = 6.0
    tasks = _submit_concurrently(live, "async", 4)
    assert all(wait_until_finished(live, t.id, timeout=150).status == TaskStatus.COMPLETED for t in tasks)
    got = receiver.delivered()
    overlapping = max(sum(1 for r in got if r["start"] < x["end"] and x["start"] < r["end"]) for x in got)
    assert overlapping > 1

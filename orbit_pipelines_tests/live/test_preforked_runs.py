"""Runs on the instance `orbit up` uses (the repository's dagster.yaml: PreforkedRunLauncher and
PromptRunCoordinator, orbit_pipelines/run_launcher.py), on a stack of its own: code server, webserver
and daemon as `orbit up` starts them, a fresh database. A run's worker is forked from the zygote the
daemon loaded when it started; the operator's doors work on it as on a worker the code server spawns:
Terminate through GraphQL cancels it, and a worker killed under its run fails the run at once, listed
by `orbit runs interrupted` as a dead worker."""

import json
import os
import signal
import uuid

import psutil
import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.run_launcher import WORKER_TAG
from orbit_pipelines_tests.live.stack import RestartableStack, orbit, run_finished, wait_for
from orbit_pipelines_tests.support import create_database, drop_database, instance_for, worker_pid

pytestmark = [pytest.mark.services, pytest.mark.timeout(600)]

NO_RUN_RETRY = {"dagster/max_retries": "0"}


@pytest.fixture(scope="module")
def stack(pg_server, tmp_path_factory):
    url = create_database(pg_server, "orbit_preforked")
    apply_migrations(get_engine(url))
    stack = RestartableStack(url, tmp_path_factory.mktemp("preforked"))
    stack.start()
    stack.instance = instance_for(url)
    yield stack
    stack.stop()
    drop_database(url)


def zygotes(stack) -> list[psutil.Process]:
    daemon = psutil.Process(stack.processes.processes[2].proc.pid)
    return [p for p in daemon.children(recursive=True) if "orbit_pipelines.run_worker_zygote" in " ".join(p.cmdline())]


def launch(stack, tmp_path, n: int = 1) -> tuple[str, list]:
    paths = write_unique_sample_set(tmp_path / uuid.uuid4().hex[:8], n=n, salt=f"preforked {uuid.uuid4()}")
    config = {"ops": {"load_documents": {"config": {"paths": [str(p) for p in paths]}}}}
    return stack.api.launch("document_processing", config, NO_RUN_RETRY), paths


@pytest.fixture
def slow_veryfi(stack):
    """Veryfi answers after 60 s: a run stays in its extraction step until the test ends it."""
    stack.services.veryfi.reset()
    stack.services.veryfi.faults.latency = 60.0
    yield stack.services.veryfi
    stack.services.veryfi.faults.latency = 0.0


def running_worker(stack, run_id) -> psutil.Process:
    wait_for(lambda: stack.services.veryfi.total_process_calls, 120, f"run {run_id} to call Veryfi", stack.logs)
    pid = worker_pid(stack, run_id)
    assert pid and psutil.pid_exists(pid)
    return psutil.Process(pid)


def test_the_daemon_loads_its_zygote_before_any_run(stack):
    (zygote,) = zygotes(stack)
    assert zygote.is_running()


def test_a_run_completes_in_a_worker_the_zygote_forked(stack, tmp_path):
    run_id, _ = launch(stack, tmp_path)
    assert run_finished(stack, run_id, timeout=120) == "SUCCESS"
    tag = stack.instance.get_run_by_id(run_id).tags[WORKER_TAG]
    assert tag.split(":")[1] == str(worker_pid(stack, run_id))


def test_terminate_through_graphql_cancels_a_run_in_a_forked_worker(stack, tmp_path, slow_veryfi):
    run_id, _ = launch(stack, tmp_path)
    worker = running_worker(stack, run_id)
    assert worker.parent().pid == zygotes(stack)[0].pid
    stack.api.terminate(run_id)
    assert run_finished(stack, run_id, timeout=90) == "CANCELED"


def test_a_killed_worker_fails_its_run_at_once_listed_as_a_dead_worker(stack, tmp_path, slow_veryfi):
    run_id, _ = launch(stack, tmp_path)
    os.kill(running_worker(stack, run_id).pid, signal.SIGKILL)
    # The zygote reports the exit: well within run monitoring's 10-s poll of the worker's pid.
    assert run_finished(stack, run_id, timeout=30) == "FAILURE"
    listed = {r["run_id"]: r for r in json.loads(orbit(stack, "runs", "interrupted", "--json").stdout)}
    assert listed[run_id]["why"] == "dead worker"
    assert "terminated by signal 9 (SIGKILL)" in listed[run_id]["message"]


def test_a_zygote_that_cannot_load_the_code_leaves_the_runs_to_the_code_server(pg_server, tmp_path):
    """An import that fails in the zygote (code broken after an edit, a module gone) starts no run worker
    of its own: the run's worker is the code server's, as with Dagster's launcher, and the run says why."""
    url = create_database(pg_server, "orbit_preforked_broken")
    apply_migrations(get_engine(url))
    stack = RestartableStack(url, tmp_path)
    config = stack.dagster_home / "dagster.yaml"
    launcher = "  class: PreforkedRunLauncher\n"
    assert launcher in config.read_text(), "dagster.yaml: the run launcher moved"
    config.write_text(
        config.read_text().replace(launcher, launcher + "  config:\n    preload: [orbit_pipelines.no_such_module]\n")
    )
    stack.start()
    try:
        stack.instance = instance_for(url)
        run_id, _ = launch(stack, tmp_path)
        assert run_finished(stack, run_id, timeout=120) == "SUCCESS"
        run = stack.instance.get_run_by_id(run_id)
        assert WORKER_TAG not in run.tags
        records = stack.instance.get_records_for_run(run_id).records
        said = [r.event_log_entry.dagster_event.message for r in records if r.event_log_entry.dagster_event]
        assert any("Could not fork this run's worker" in (m or "") for m in said), said
    finally:
        stack.stop()
        drop_database(url)

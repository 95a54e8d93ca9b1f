"""Recovering interrupted runs on the live stack (conftest.py), through the `orbit` CLI: a document batch
whose run worker is SIGKILLed while its Veryfi calls are in flight, and one canceled mid-extraction.
Both are launched as the Launchpad launches them, tagged dagster/max_retries=0 so that Dagster's run
retries leave the dead worker's run alone (the operator's to recover). `orbit runs interrupted` lists
them, `orbit recover --dry-run` launches nothing, `orbit recover RUN...` re-executes them from failure,
their documents complete paying Veryfi once each, and recovering again launches nothing.

`orbit up --recover` is tested with a stack of its own, as an operator meets it: `orbit up` on a fresh
database, a run canceled, the stack stopped, and `orbit up --recover` re-executing it as it starts."""

import json
import os
import signal
import sys
import time
import uuid

import psutil
import pytest
from dagster import DagsterEventType, RunsFilter

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.live.stack import RUN_ID, orbit, run_finished, step_failures, wait_for
from orbit_pipelines_tests.support import (
    ROOT,
    create_database,
    drop_database,
    fresh_clone_env,
    instance_for,
    worker_pid,
)

# The scenario waits on a stack and a dozen `orbit` commands: more than the suite's 300 s on a busy machine.
pytestmark = [pytest.mark.services, pytest.mark.timeout(900)]

# Veryfi bills a call as it starts and answers this many seconds later: the window to stop the run in.
ANSWER_AFTER_SECONDS = 4.0
NO_RUN_RETRY = {"dagster/max_retries": "0"}


def sha256_of(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def launch_batch(stack, folder, n: int) -> tuple[str, list]:
    """A document_processing run over `n` new documents, launched through GraphQL; (run id, their paths)."""
    paths = write_unique_sample_set(folder, n=n, salt=f"recovery {uuid.uuid4()}")
    run_id = stack.api.launch(
        "document_processing", {"ops": {"load_documents": {"config": {"paths": [str(p) for p in paths]}}}}, NO_RUN_RETRY
    )
    return run_id, paths


def paid(veryfi, paths) -> list[int]:
    return [veryfi.paid_calls_for(sha256_of(p)) for p in paths]


def task_ids(stack, paths) -> list[int]:
    return [stack.ledger.find_by_key(sha256_of(p)).id for p in paths]


def settled(stack, ids) -> bool:
    return all(t.status in TERMINAL for t in stack.ledger.get_many(ids))


def what_failed(stack, run_id) -> str:
    """The failed steps' errors and the run's failure message, for an assertion's message."""
    ended = stack.instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE).records
    said = [r.event_log_entry.dagster_event.message for r in ended]
    return "\n".join([*step_failures(stack, run_id), *said])


def children(stack, run_id) -> list[str]:
    return [r.run_id for r in stack.instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": run_id}))]


@pytest.fixture(scope="module")
def interrupted(stack, local_services, tmp_path_factory):
    """The two interrupted runs, ended, their tasks settled: (killed, canceled), each with run id, paths
    and task ids. Every call they made was billed before the run stopped; none was answered."""
    veryfi = local_services.veryfi
    veryfi.reset()
    veryfi.faults.latency = ANSWER_AFTER_SECONDS
    folder = tmp_path_factory.mktemp("recovery")
    try:
        canceled_run, canceled_paths = launch_batch(stack, folder / "canceled", 2)
        wait_for(lambda: paid(veryfi, canceled_paths) == [1, 1], 120, "the batch's calls to be billed", stack.logs)
        stack.api.terminate(canceled_run)
        assert run_finished(stack, canceled_run, timeout=60) == "CANCELED"

        killed_run, killed_paths = launch_batch(stack, folder / "killed", 3)
        wait_for(lambda: paid(veryfi, killed_paths) == [1, 1, 1], 120, "the batch's calls to be billed", stack.logs)
        pid = worker_pid(stack, killed_run)
        assert pid and psutil.pid_exists(pid)
        os.kill(pid, signal.SIGKILL)
        assert run_finished(stack, killed_run, timeout=60) == "FAILURE"
    finally:
        veryfi.faults.latency = 0.0
    killed = (killed_run, killed_paths, task_ids(stack, killed_paths))
    canceled = (canceled_run, canceled_paths, task_ids(stack, canceled_paths))
    wait_for(lambda: settled(stack, killed[2] + canceled[2]), 60, "the outcome sensors to settle the tasks", stack.logs)
    return killed, canceled


def listed(stack) -> dict[str, dict]:
    return {r["run_id"]: r for r in json.loads(orbit(stack, "runs", "interrupted", "--json").stdout)}


def test_runs_interrupted_lists_a_dead_workers_run_and_a_canceled_one_with_their_tasks_and_where_they_stopped(
    stack, interrupted
):
    (killed, _, killed_tasks), (canceled, _, canceled_tasks) = interrupted
    runs = listed(stack)
    assert runs[killed]["why"] == "dead worker" and runs[canceled]["why"] == "canceled"
    assert [(t["id"], t["status"]) for t in runs[killed]["tasks"]] == [(i, "FAILED") for i in killed_tasks]
    # A call in flight when the cancel came is answered and its document stored and completed.
    assert [t["id"] for t in runs[canceled]["tasks"]] == list(canceled_tasks)
    assert {t["status"] for t in runs[canceled]["tasks"]} <= {"CANCELED", "COMPLETED"}
    for run in (runs[killed], runs[canceled]):
        assert run["job"] == "document_processing"
        assert (run["last_completed_step"], run["stopped_in"]) == ("load_documents", ["upload_and_extract"])
        assert run["ended_at"] is not None
    assert "terminated by signal 9 (SIGKILL)" in runs[killed]["message"]

    table = orbit(stack, "runs", "interrupted").stdout.splitlines()
    row = next(line for line in table if line.startswith(killed))
    assert "document_processing" in row and "dead worker" in row
    assert f"{', '.join(map(str, killed_tasks))} (FAILED)" in row and row.endswith(
        "in upload_and_extract, after load_documents"
    )
    assert table[-1] == "`orbit recover RUN...` or `orbit recover --all` re-executes them from failure"


def test_recover_dry_run_says_what_it_would_re_execute_and_launches_nothing(stack, interrupted):
    (killed, _, _), (canceled, _, _) = interrupted
    # Every named run is checked before any is launched.
    refused = orbit(stack, "recover", killed, "no-such-run", check=False)
    assert refused.returncode == 1 and "run no-such-run does not exist" in refused.stderr
    out = orbit(stack, "recover", "--all", "--dry-run").stdout
    for run_id in (killed, canceled):
        line = next(line for line in out.splitlines() if line.startswith(f"run {run_id} "))
        assert line.endswith("would re-execute from failure (stopped in upload_and_extract, after load_documents)")
        assert children(stack, run_id) == []


def test_recover_re_executes_them_and_every_document_completes_paid_for_once(stack, interrupted, local_services):
    (killed, killed_paths, killed_tasks), (canceled, canceled_paths, canceled_tasks) = interrupted
    # Named runs: the stack is shared, and `--all` would also re-execute what other tests left interrupted
    # (their Veryfi calls would land in this test's counts). `--all` launching is `orbit up --recover`'s test.
    out = orbit(stack, "recover", killed, canceled).stdout.splitlines()
    new_runs = {}
    for run_id, why in ((killed, "dead worker"), (canceled, "canceled")):
        line = next(line for line in out if line.startswith(f"run {run_id} "))
        assert f"(document_processing, {why}, tasks " in line and ": re-executing from failure as run " in line
        new_runs[run_id] = RUN_ID.findall(line)[-1]
        assert children(stack, run_id) == [new_runs[run_id]]
    for run_id in new_runs.values():
        assert run_finished(stack, run_id, timeout=120) == "SUCCESS", what_failed(stack, run_id)
        executed = {s.step_key for s in stack.instance.get_run_step_stats(run_id)}
        assert "load_documents" not in executed and "upload_and_extract" in executed, "from failure"
    tasks = stack.ledger.get_many(killed_tasks + canceled_tasks)
    assert [t.status for t in tasks] == [TaskStatus.COMPLETED] * 5
    assert paid(local_services.veryfi, killed_paths + canceled_paths) == [1] * 5, "a document was paid for twice"
    assert f"recovered: run {killed} (dead worker) re-executed as {new_runs[killed]}" in [
        e["note"] for e in stack.ledger.events(killed_tasks[0])
    ]


def test_recovering_again_launches_nothing_and_a_recovered_run_is_refused(stack, interrupted):
    (killed, _, _), (canceled, _, _) = interrupted
    if not all(children(stack, r) for r in (killed, canceled)):  # this test on its own: recover them first
        orbit(stack, "recover", killed, canceled)
    again = orbit(stack, "recover", "--all", "--dry-run").stdout
    assert killed not in again and canceled not in again
    assert [len(children(stack, r)) for r in (killed, canceled)] == [1, 1]
    assert killed not in listed(stack)

    refused = orbit(stack, "recover", killed, check=False)
    assert refused.returncode == 1
    assert f"Error: run {killed} was re-executed already, as run {children(stack, killed)[0]}" in refused.stderr
    new_run = children(stack, killed)[0]
    run_finished(stack, new_run, timeout=120)
    refused = orbit(stack, "recover", new_run, check=False)
    assert (refused.returncode, refused.stderr.strip()) == (
        1,
        f"Error: run {new_run} succeeded: there is nothing to recover",
    )


def test_recover_refuses_a_run_that_does_not_exist_and_needs_runs_or_all(stack):
    refused = orbit(stack, "recover", "no-such-run", check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: run no-such-run does not exist on this instance")
    assert orbit(stack, "recover", check=False).returncode == 2
    # `orbit resume` is about intake; its help sends the operator here for runs.
    assert "`orbit recover` re-executes them" in " ".join(orbit(stack, "resume", "--help").stdout.split())
    # and `orbit recover`'s help says it is about runs, and what `orbit resume` is for.
    said = " ".join(orbit(stack, "recover", "--help").stdout.split())
    assert "Runs, not intake: `orbit resume` lets paused intake dispatch again" in said


# -- `orbit up --recover` ---------------------------------------------------------------------------------


class OrbitUp:
    """`orbit up` as an operator starts it, on the database `url`, its console in `console`."""

    def __init__(self, url: str, home, console, *args: str):
        from orbit_pipelines.local.processes import ManagedProcess
        from orbit_pipelines.local.stack import free_port

        self.console, self.port = console, free_port()
        env = fresh_clone_env(url, home)
        env["PYTHONUNBUFFERED"] = "1"  # the console is read while `orbit up` runs
        argv = [sys.executable, "-m", "orbit_pipelines.cli", "up", "--port", str(self.port), "--metrics-port", "0"]
        argv += ["--events-port", "0"]
        self.process = ManagedProcess([*argv, *args], cwd=ROOT, log_file=console, env=env)
        self.log = home / "logs" / "up.log"

    def tail(self) -> str:
        log = self.log.read_text()[-3000:] if self.log.exists() else ""
        return self.console.read_text()[-3000:] + "\n--- up.log\n" + log

    def lines(self) -> list[str]:
        return self.console.read_text().splitlines()

    def wait_until(self, condition, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.alive(), f"orbit up exited\n{self.tail()}"
            if time.monotonic() > deadline:
                pytest.fail(f"{what} did not happen in {timeout:.0f}s\n{self.tail()}")
            time.sleep(0.5)

    def api(self):
        from orbit_pipelines.operations import DagsterApi

        return DagsterApi(f"http://127.0.0.1:{self.port}")


def test_orbit_up_recover_re_executes_at_start_up_a_run_canceled_before_the_stack_stopped(pg_server, tmp_path):
    from orbit_pipelines.cli.recovery import _location_loaded
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.ledger.migrate import apply_migrations

    url = create_database(pg_server, "orbit_up_recover")
    apply_migrations(get_engine(url))
    instance, home = instance_for(url), tmp_path / "orbit_home"
    (path,) = write_unique_sample_set(tmp_path / "docs", n=1, salt=f"up --recover {uuid.uuid4()}")
    try:
        first = OrbitUp(url, home, tmp_path / "console-1.txt", "--recover")
        try:
            first.wait_until(lambda: "recover: no interrupted runs" in first.lines(), 180, "the first stack's recovery")
            assert _location_loaded(first.api())
            config = {"ops": {"load_documents": {"config": {"paths": [str(path)]}}}}
            canceled = first.api().launch("document_processing", config, NO_RUN_RETRY)
            first.api().terminate(canceled)
            first.wait_until(lambda: instance.get_run_by_id(canceled).is_finished, 60, "the run being canceled")
            assert instance.get_run_by_id(canceled).status.value == "CANCELED"
        finally:
            first.process.stop()

        second = OrbitUp(url, home, tmp_path / "console-2.txt", "--recover")
        try:
            second.wait_until(
                lambda: any(f"recover: run {canceled} " in line for line in second.lines()), 240, "recovery"
            )
            line = next(line for line in second.lines() if f"recover: run {canceled} " in line)
            assert f"recover: run {canceled} (document_processing, canceled, tasks " in line
            assert ": re-executing from failure as run " in line
            new_run = RUN_ID.findall(line)[-1]
            assert instance.get_run_by_id(new_run).parent_run_id == canceled
            second.wait_until(lambda: instance.get_run_by_id(new_run).is_finished, 120, "the re-execution ending")
            assert instance.get_run_by_id(new_run).is_success, second.tail()
            task = Ledger(get_engine(url)).find_by_key(sha256_of(path))
            assert task is not None and task.status == TaskStatus.COMPLETED
        finally:
            second.process.stop()
    finally:
        instance.dispose()
        drop_database(url)

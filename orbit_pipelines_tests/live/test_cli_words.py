"""What the `orbit` command says, run as an operator runs it against the live stack (conftest.py): every
refusal is one sentence on stderr that says what to do, with a non-zero exit and no traceback; `orbit
status` reports intake, lanes, runs, the webserver and the daemon; waiting says why it waits; a
document's task shows what was extracted."""

import os
import pty
import select
import subprocess
import sys
import time
import uuid

import pytest

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.live.stack import finished, orbit, run_finished, wait_for
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services

# Nothing listens here: the webserver as an operator finds it when it is down.
NO_WEBSERVER = "http://127.0.0.1:9"


def refusal(result) -> str:
    """The one line a refused command printed, after checking it was refused as a person should be."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def succeeded_run(stack) -> str:
    run_id = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": f"words-{uuid.uuid4()}"})
    assert run_finished(stack, run_id) == "SUCCESS"
    return run_id


def submitted_task_id(result) -> int:
    return int(result.stdout.split()[2])  # "submitted task 12 (decomposition, PENDING)"


@pytest.fixture
def slow_document_run(stack, emulator, tmp_path):
    """A document run caught in its Veryfi call: (task id, run id). Stopped at the end if still going."""
    emulator.faults.latency = 30.0
    (path,) = write_unique_sample_set(tmp_path, n=1, salt=str(uuid.uuid4()))
    orbit(stack, "doc", "submit", str(path))
    wait_for(lambda: emulator.total_process_calls > 0, 90, "the Veryfi call to start", stack.logs)
    task = [t for t in stack.ledger.list(kind="document") if t.payload["path"] == str(path.resolve())][0]
    wait_for(lambda: stack.ledger.get(task.id).run_id is not None, 30, "the run to be attached", stack.logs)
    run_id = stack.ledger.get(task.id).run_id
    yield task.id, run_id
    emulator.faults.latency = 0.0
    if stack.api.run(run_id)["status"] not in ("SUCCESS", "FAILURE", "CANCELED", "CANCELING"):
        stack.api.terminate(run_id)
    run_finished(stack, run_id)


# -- refusals ------------------------------------------------------------------------------------------


def test_cancel_of_a_task_that_does_not_exist_says_so_and_where_tasks_are_listed(stack):
    line = refusal(orbit(stack, "cancel", "99999", check=False))
    assert line == "Error: task 99999 does not exist; `orbit task list` shows the tasks there are"


def test_rerun_of_a_run_that_does_not_exist_says_so_and_where_runs_are_listed(stack):
    line = refusal(orbit(stack, "rerun", "no-such-run", check=False))
    assert line == (
        f"Error: run no-such-run does not exist on this instance; the Runs page ({stack.ui}/runs) lists its runs"
    )


def test_rerun_of_a_successful_run_says_there_is_no_failure_and_how_to_run_it_again(stack):
    run_id = succeeded_run(stack)
    line = refusal(orbit(stack, "rerun", run_id, check=False))
    assert line == (
        f"Error: run {run_id} succeeded: there is no failure to re-execute from; "
        f"`orbit rerun {run_id} --all-steps` or `--from-step STEP` runs it again"
    )


def test_rerun_from_a_step_the_job_does_not_have_names_the_steps_it_has(stack):
    run_id = succeeded_run(stack)
    line = refusal(orbit(stack, "rerun", run_id, "--from-step", "polish", check=False))
    assert line == (
        "Error: job task_decomposition has no step 'polish'; give --from-step one of: load_task, "
        "decompose_task, enrich_subtasks, generate_prompts, store_results"
    )


def test_cancel_of_a_run_that_does_not_exist_says_so(stack):
    line = refusal(orbit(stack, "cancel", "no-such-run", check=False))
    assert line.startswith("Error: run no-such-run does not exist on this instance;")


def test_cancel_of_a_finished_run_says_there_is_nothing_to_cancel(stack):
    run_id = succeeded_run(stack)
    line = refusal(orbit(stack, "cancel", run_id, check=False))
    assert line == f"Error: run {run_id} has already ended (SUCCESS): there is nothing to cancel"


def test_cancel_of_a_completed_task_says_it_has_ended(stack):
    task_id = submitted_task_id(orbit(stack, "task", "submit", "--sample"))
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    line = refusal(orbit(stack, "cancel", str(task_id), check=False))
    assert line == f"Error: task {task_id} is COMPLETED: it has ended, there is nothing to cancel"


def test_a_command_without_its_database_says_which_and_what_to_do(stack):
    env = {**stack.env, "DAGSTER_PG_URL": "postgresql://orbit@127.0.0.1:9/orbit"}
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "task", "list"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = refusal(result)
    assert line.startswith("Error: cannot use Postgres at postgresql+psycopg2://orbit@127.0.0.1:9/orbit (connection ")
    assert line.endswith("); start it, or set DAGSTER_PG_URL to a server that accepts connections")


def test_cancel_of_a_running_run_says_in_a_whole_sentence_what_becomes_of_its_tasks(stack, slow_document_run):
    task_id, run_id = slow_document_run
    result = orbit(stack, "cancel", run_id)
    assert result.stdout.strip() == (
        f"asked run {run_id} to stop; its tasks become CANCELED once it has stopped (`orbit task list` shows them)"
    )
    assert run_finished(stack, run_id) == "CANCELED"
    wait_for(lambda: stack.ledger.get(task_id).status == TaskStatus.CANCELED, 60, "the task to be CANCELED")


# -- a paused intake, and `orbit status` --------------------------------------------------------------


def test_waiting_for_a_task_behind_a_paused_intake_says_it_is_paused_and_why(stack):
    orbit(stack, "pause", "--reason", "deploying the new Veryfi key")
    try:
        result = orbit(stack, "task", "submit", "--sample", "--wait", "3", check=False)
    finally:
        orbit(stack, "resume")
    task_id = submitted_task_id(result)
    assert "intake is paused for all kinds since " in result.stdout
    assert "(deploying the new Veryfi key): it stays PENDING until `orbit resume`" in result.stdout
    line = refusal(result)
    assert line.startswith(f"Error: task {task_id} still PENDING after 3s: intake is paused for all kinds since ")
    assert line.endswith("(deploying the new Veryfi key); `orbit resume` lets it go on")
    assert finished(stack, task_id).status == TaskStatus.COMPLETED


def test_status_shows_a_paused_intake_with_its_reason_and_what_waits_in_each_lane(stack):
    orbit(stack, "pause", "--reason", "month-end close")
    try:
        task_id = submitted_task_id(orbit(stack, "task", "submit", "--sample", "--lane", "sync"))
        shown = orbit(stack, "status").stdout.splitlines()
    finally:
        orbit(stack, "resume")
    assert shown[0].startswith("intake: PAUSED for all kinds since ") and shown[0].endswith("(month-end close)")
    sync = next(line for line in shown if line.startswith("  lane sync:"))
    assert sync.startswith("  lane sync: 1 pending, ")
    assert any(line.startswith("waiting to start: ") for line in shown)
    assert finished(stack, task_id).status == TaskStatus.COMPLETED


def test_status_reports_the_webserver_up_and_the_daemon_healthy(stack):
    result = orbit(stack, "status")
    lines = result.stdout.splitlines()
    assert lines[0] == "intake: dispatching (not paused)"
    assert any(line.startswith(f"webserver: up at {stack.ui} (Dagster 1.") for line in lines), result.stdout
    assert lines[-1].startswith("daemon: healthy, "), result.stdout
    assert any(line.startswith("dead letters: ") for line in lines)
    for kind in ("document", "voice"):  # one line per kind with an inbox
        assert any(line.startswith(f"refused {kind} inbox files: ") for line in lines), result.stdout


def test_status_with_the_webserver_down_says_it_is_unreachable_and_reads_the_daemon_from_the_instance(stack):
    env = {**stack.env, "ORBIT_DAGSTER_URL": NO_WEBSERVER}
    down = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "status"], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert down.returncode == 0, down.stderr
    lines = down.stdout.splitlines()
    assert f"webserver: unreachable: no Dagster webserver at {NO_WEBSERVER}/graphql; start it with `orbit up` " in (
        down.stdout
    )
    assert lines[-1].startswith("daemon: healthy (read from the instance: the webserver does not answer), ")


def test_status_lists_a_running_run_with_its_tasks(stack, slow_document_run):
    task_id, run_id = slow_document_run
    lines = orbit(stack, "status").stdout.splitlines()
    [listed] = [line for line in lines if line.startswith(f"  {run_id} ")]
    assert listed.startswith(f"  {run_id} document_processing STARTED since ")
    assert listed.endswith(f", tasks {task_id}")
    assert any(line.startswith("runs: ") and " running, " in line for line in lines)


# -- documents ----------------------------------------------------------------------------------------


def in_a_terminal(stack, *args, timeout=240) -> tuple[int, str]:
    """Run `orbit` on a pseudo-terminal, as a person at a shell does (click draws its progress bars
    only there): exit code and everything it showed, line breaks normalised."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orbit_pipelines.cli", *args],
        env={**stack.env, "COLUMNS": "120"},
        cwd=ROOT,
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    shown = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    code = proc.wait(timeout=30)
    return code, shown.decode(errors="replace").replace("\r\n", "\n")


def test_doc_submit_wait_draws_a_bar_of_finished_documents_and_ends_with_the_totals(stack, emulator, tmp_path):
    paths = write_unique_sample_set(tmp_path, n=4, salt=str(uuid.uuid4()))
    emulator.faults.fail_next(1, 400)  # Veryfi refuses one document for good
    emulator.faults.timeout_next(1, seconds=4)  # and answers another 4 s after the rest
    code, shown = in_a_terminal(stack, "doc", "submit", *map(str, paths), "--wait", "180")
    frames = shown.split("\r")
    # The bar moved as documents finished: three of four drawn before the last one's answer came.
    assert any("finished  [" in f and "]  3/4" in f for f in frames), shown
    assert "finished  [####################################]  4/4" in shown, shown
    assert shown.strip().splitlines()[-1] == "3 completed, 1 failed of 4", shown
    assert code == 1, "not every document completed"


def test_task_show_of_a_document_gives_its_file_key_extraction_s3_object_and_history(stack, tmp_path):
    (path,) = write_unique_sample_set(tmp_path, n=1, salt=str(uuid.uuid4()))
    orbit(stack, "doc", "submit", str(path), "--wait", "180")
    task = [t for t in stack.ledger.list(kind="document") if t.payload["path"] == str(path.resolve())][0]
    shown = orbit(stack, "task", "show", str(task.id)).stdout
    assert shown.startswith(f"# Task {task.id}: {path.name}\n")
    document = shown.split("## Document\n", 1)[1].split("\n## ", 1)[0]
    assert f"- file: {path.name} ({path.resolve()}, {path.stat().st_size} bytes)" in document
    assert f"- key: {task.payload['sha256']} (SHA-256 of the content" in document
    assert "- extraction: receipt from Blue Fern Cafe, 2026-03-01; total 26.67 USD" in document
    s3_line = next(line for line in document.splitlines() if line.startswith("- S3 object: "))
    assert s3_line.startswith("- S3 object: s3://") and task.payload["sha256"] in s3_line
    history = shown.split("## History\n", 1)[1]
    rows = [line.split("|")[1:-1] for line in history.strip().splitlines()[2:]]
    # The phases it went through are lines of the history too (`phase EXTRACTING`), as the phase sensor
    # reads them (live/test_phases.py), and its checkpoints (`checkpoint store_documents: ...`,
    # live/test_task_control.py); here, the status changes.
    changes = [(r[2].strip(), r[4].strip()) for r in rows if not r[4].strip().startswith(("phase ", "checkpoint "))]
    # Queued by `orbit doc submit` itself, or by the dispatch sensor when no run told it the webserver is ours.
    assert changes[1] in (("QUEUED", "launched directly"), ("QUEUED", f"dispatched as task-{task.id}"))
    assert changes[:1] + changes[2:] == [
        ("PENDING", "submitted"),
        ("RUNNING", "run started"),
        ("COMPLETED", "document stored"),
    ]
    assert all(r[0].strip() for r in rows), "every change has its time"


def test_a_dead_letter_whose_run_was_purged_gets_a_new_run(stack):
    """The retention job purges old runs from Dagster's storage; their dead letters stay retryable."""
    stack.ledger.set_paused(True, "decomposition", "a failed task is being made")  # no sensor takes it meanwhile
    try:
        task_id = submitted_task_id(orbit(stack, "task", "submit", "--sample", "--no-launch"))
        stack.ledger.transition(task_id, TaskStatus.CANCELED)
        stack.ledger.move_along(  # its run failed, and the run is gone from Dagster's storage since
            task_id,
            TaskStatus.FAILED,
            run_id=f"purged-{uuid.uuid4()}",
            error=("OperationalError", "the database restarted", "store_results"),
        )
    finally:
        stack.ledger.set_paused(False, "decomposition")
    retried = orbit(stack, "dlq", "retry", str(task_id)).stdout.strip()
    assert retried.startswith(f"task {task_id}: new run ")
    assert run_finished(stack, retried.split()[-1]) == "SUCCESS"
    wait_for(lambda: stack.ledger.get(task_id).status == TaskStatus.COMPLETED, 60, "the task to complete", stack.logs)

"""Operating runs against the live stack (conftest.py: a gRPC code server, dagster-webserver and
dagster-daemon on a fresh database), driven only through GraphQL and the `orbit` CLI, asserting what
an operator sees."""

import hashlib
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines_tests.live.stack import finished, orbit, run_finished, wait_for
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services


def test_two_graphql_launches_with_one_idempotency_key_make_one_task(stack):
    tags = {"orbit/idempotency_key": "crm-ticket-991"}
    first = stack.api.launch("task_decomposition", {}, tags)
    assert run_finished(stack, first) == "SUCCESS"
    second = stack.api.launch("task_decomposition", {}, tags)
    assert run_finished(stack, second) == "SUCCESS"
    task = stack.ledger.find_by_key("crm-ticket-991")
    assert task.status == TaskStatus.COMPLETED and task.run_id == first
    assert stack.api.run(second)["tags"]["orbit/short_circuit"] == f"task {task.id} already completed"


def test_a_failed_run_is_a_dead_letter_until_it_is_re_executed_from_failure(stack, sample_payload):
    engine = stack.ledger.engine
    with engine.begin() as conn:  # the results table goes missing: store_results fails for good
        conn.execute(text("ALTER TABLE orbit.prompts RENAME TO prompts_away"))
    try:
        submitted = orbit(stack, "task", "submit", "--sample")
        task_id = int(submitted.stdout.split()[2])
        failed = finished(stack, task_id, timeout=180)
    finally:
        with engine.begin() as conn:  # the operator repairs the database
            conn.execute(text("ALTER TABLE orbit.prompts_away RENAME TO prompts"))
    assert (failed.status, failed.error_step) == (TaskStatus.FAILED, "store_results")
    assert (
        f"task {task_id} (decomposition) run {failed.run_id} step store_results" in orbit(stack, "dlq", "list").stdout
    )

    rerun = orbit(stack, "rerun", failed.run_id)
    new_run = rerun.stdout.split()[2]
    assert run_finished(stack, new_run) == "SUCCESS"
    done = finished(stack, task_id)
    assert done.run_id == new_run and stack.ledger.run_ids(task_id) == [failed.run_id, new_run]
    executed = {s.step_key for s in stack.instance.get_run_step_stats(new_run)}
    assert executed == {"store_results"}, "only the failed step ran again"
    assert f"task {task_id} " not in orbit(stack, "dlq", "list").stdout, "the task left the dead-letter list"
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM orbit.prompts WHERE task_id = :id"), {"id": task_id}).scalar() == 4
        )


_SENSOR_TICKS = """
query($selector: SensorSelector!) {
  sensorOrError(sensorSelector: $selector) {
    ... on Sensor { sensorState { ticks(limit: 5) { timestamp skipReason } } }
  }
}"""


def dispatch_ticks(stack) -> list[dict]:
    selector = {"repositoryLocationName": "orbit_pipelines", "repositoryName": "__repository__"}
    data = stack.api._call(_SENSOR_TICKS, {"selector": {**selector, "sensorName": "task_dispatch_sensor"}})
    return data["sensorOrError"]["sensorState"]["ticks"]


def test_paused_intake_keeps_tasks_pending_until_resumed(stack):
    orbit(stack, "pause", "--reason", "deploying")
    try:
        task_id = int(orbit(stack, "task", "submit", "--sample").stdout.split()[2])
        submitted_at = stack.ledger.get(task_id).created_at.timestamp()
        # The dispatch sensor has looked at the ledger since, and said why it left the task alone.
        wait_for(
            lambda: any(
                t["timestamp"] > submitted_at and "intake paused (deploying)" in (t["skipReason"] or "")
                for t in dispatch_ticks(stack)
            ),
            120,
            "a dispatch tick after the submission",
            stack.logs,
        )
        assert stack.ledger.get(task_id).status == TaskStatus.PENDING
    finally:
        orbit(stack, "resume")
    assert finished(stack, task_id).status == TaskStatus.COMPLETED


def test_a_canceled_document_run_resumes_by_re_execution_without_paying_twice(stack, emulator, tmp_path):
    from orbit_pipelines.local.sample_documents import write_sample_set

    emulator.faults.latency = 10.0  # slow enough to cancel mid-extraction
    try:
        paths = write_sample_set(tmp_path, n=3)
        orbit(stack, "doc", "submit", *map(str, paths))
        # This submission's tasks (the stack is shared: other tests' documents are in its ledger too).
        tasks = [stack.ledger.find_by_key(hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths]
        wait_for(lambda: emulator.total_process_calls > 0, 60, "Veryfi calls to start", stack.logs)
        run_id = stack.ledger.get(tasks[0].id).run_id
        orbit(stack, "cancel", str(tasks[0].id))
        assert run_finished(stack, run_id) == "CANCELED"
        wait_for(
            # A call in flight when the cancel came is answered, stored and its document completed (the
            # storer stores answers as they arrive); the others are CANCELED.
            lambda: (
                {t.status for t in stack.ledger.get_many([t.id for t in tasks])}
                <= {TaskStatus.CANCELED, TaskStatus.COMPLETED}
            ),
            30,
            "the tasks to be CANCELED or COMPLETED",
            stack.logs,
        )
    finally:
        emulator.faults.latency = 0.0
    new_run = orbit(stack, "rerun", run_id).stdout.split()[2]
    assert run_finished(stack, new_run) == "SUCCESS"
    for task in tasks:
        assert finished(stack, task.id).status == TaskStatus.COMPLETED
        assert emulator.paid_calls_for(task.payload["sha256"]) == 1


def test_rerun_from_a_chosen_step_reuses_the_outputs_before_it(stack):
    first = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": "from-step-example"})
    assert run_finished(stack, first) == "SUCCESS"
    new_run = orbit(stack, "rerun", first, "--from-step", "generate_prompts").stdout.split()[2]
    assert run_finished(stack, new_run) == "SUCCESS"
    assert {s.step_key for s in stack.instance.get_run_step_stats(new_run)} == {"generate_prompts", "store_results"}
    task = stack.ledger.find_by_key("from-step-example")
    assert task.status == TaskStatus.COMPLETED and stack.ledger.run_ids(task.id) == [first, new_run]


def example(stack, *args):
    """Run one of examples/ as an integrator would, against the live webserver."""
    command = ["bash"] if args[0].endswith(".sh") else [sys.executable]
    return subprocess.run(
        [*command, str(ROOT / "examples" / args[0]), *args[1:]],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_the_python_example_runs_a_task_and_says_when_a_second_launch_ran_nothing(stack):
    first = example(stack, "trigger_with_graphql.py", "Export invoices")
    assert first.returncode == 0, first.stderr
    assert ": SUCCESS" in first.stdout
    task = stack.ledger.find_by_key("example:Export invoices")
    assert task.status == TaskStatus.COMPLETED
    again = example(stack, "trigger_with_graphql.py", "Export invoices")
    assert again.returncode == 0, again.stderr
    assert f"SUCCESS, nothing run again: task {task.id} already completed (same idempotency key)" in again.stdout


def test_the_python_example_stops_on_a_failure_and_re_executes_once_it_is_fixed(stack):
    engine = stack.ledger.engine
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE orbit.prompts RENAME TO prompts_gone"))
    try:
        failed = example(stack, "trigger_with_graphql.py", "Export credit notes")
    finally:
        with engine.begin() as conn:  # the integrator fixes the cause
            conn.execute(text("ALTER TABLE orbit.prompts_gone RENAME TO prompts"))
    assert failed.returncode == 1, failed.stderr
    assert 'step store_results failed: relation "orbit.prompts" does not exist' in failed.stdout, failed.stdout
    run_id = failed.stdout.split()[1]
    assert f"fix the cause, then: python {ROOT / 'examples' / 'trigger_with_graphql.py'} --reexecute {run_id}" in (
        failed.stdout
    )
    fixed = example(stack, "trigger_with_graphql.py", "--reexecute", run_id)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    new_run = fixed.stdout.splitlines()[0].split()[-1]
    assert f"from failure as {new_run}" in fixed.stdout and f"run {new_run}: SUCCESS" in fixed.stdout
    assert stack.ledger.find_by_key("example:Export credit notes").status == TaskStatus.COMPLETED


def test_the_curl_example_stops_on_a_missing_file_and_re_executes_once_it_is_there(stack, emulator, tmp_path):
    from orbit_pipelines.local.sample_documents import write_text_receipt

    path = tmp_path / "receipt.txt"
    failed = example(stack, "trigger_with_curl.sh", str(path))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert f"step load_documents failed: {path}: file not found" in failed.stdout
    run_id = failed.stdout.split()[1]
    assert f"fix the cause, then: bash {ROOT / 'examples' / 'trigger_with_curl.sh'} --reexecute {run_id}" in (
        failed.stdout
    )

    write_text_receipt(path, f"Curl Deli {uuid.uuid4().hex[:8]}", "2026-03-04", [("Bagel", 2, "2.25")])
    fixed = example(stack, "trigger_with_curl.sh", "--reexecute", run_id)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    new_run = fixed.stdout.splitlines()[0].split()[-1]
    assert f"run {new_run}: SUCCESS" in fixed.stdout
    task = [t for t in stack.ledger.list(kind="document") if t.payload.get("path") == str(path.resolve())][0]
    assert (task.status, task.run_id) == (TaskStatus.COMPLETED, new_run)


def test_an_operator_re_executes_with_a_corrected_subtask_list_and_the_edit_is_recorded(stack, tmp_path):
    import json

    first = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": "needs-correction"})
    assert run_finished(stack, first) == "SUCCESS"
    corrected = [
        {
            "id": "data_model.invoice",
            "category": "DATA_MODEL",
            "title": "Invoice table with tax columns",
            "description": "Corrected by the operator",
            "requirements": ["tax_rate NUMERIC(5,4)"],
            "dependencies": [],
            "estimated_effort_hours": 2,
            "priority": "HIGH",
        },
        {
            "id": "service.invoice",
            "category": "SERVICE",
            "title": "Invoice tax service",
            "description": "d",
            "requirements": ["compute tax"],
            "dependencies": ["data_model.invoice"],
            "estimated_effort_hours": 3,
            "priority": "MEDIUM",
        },
        {
            "id": "http_api.invoice",
            "category": "HTTP_API",
            "title": "GET /invoices/{id}/tax",
            "description": "d",
            "requirements": ["route"],
            "dependencies": ["service.invoice"],
            "estimated_effort_hours": 1,
            "priority": "MEDIUM",
        },
        {
            "id": "testing.invoice",
            "category": "TESTING",
            "title": "Tax tests",
            "description": "d",
            "requirements": ["cases"],
            "dependencies": ["http_api.invoice"],
            "estimated_effort_hours": 1,
            "priority": "LOW",
        },
    ]
    edits = tmp_path / "edits.json"
    edits.write_text(
        json.dumps({"ops": {"decompose_task": {"config": {"corrected_subtasks_json": json.dumps(corrected)}}}})
    )
    new_run = orbit(stack, "rerun", first, "--from-step", "decompose_task", "--config", str(edits)).stdout.split()[2]
    assert run_finished(stack, new_run) == "SUCCESS"
    task = stack.ledger.find_by_key("needs-correction")
    shown = json.loads(orbit(stack, "task", "show", str(task.id), "--format", "json").stdout)
    assert [s["title"] for s in shown["subtasks"]][0] == "Invoice table with tax columns"
    assert len(shown["subtasks"]) == 4, "the corrected plan replaced the generated one"
    notes = [e["note"] for e in stack.ledger.events(task.id)]
    assert "subtasks corrected by an operator (4 subtasks)" in notes
    assert f"re-executed from decompose_task with edited config as run {new_run}" in notes

"""Run control on the live stack (conftest.py), as an operator meets it through the `orbit` command and
GraphQL: run budgets (a run that hangs ends FAILED with a Timeout, its task on the dead-letter list)."""

import json
import uuid

import pytest

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.runtime.step_budget import STEP_BUDGET_TAG
from orbit_pipelines.runtime.tags import MAX_RUNTIME_TAG
from orbit_pipelines_tests.live.stack import finished, orbit, run_finished, wait_for

pytestmark = pytest.mark.services

BUDGET_SECONDS = 15


def test_a_document_run_whose_veryfi_call_never_answers_fails_with_a_timeout_within_its_budget(
    stack, emulator, tmp_path
):
    # Silent for longer than the budget, for the run and for Dagster's retry of it (run_retries, max 1).
    emulator.faults.timeout_next(2, seconds=60)
    (path,) = write_unique_sample_set(tmp_path, n=1, salt=str(uuid.uuid4()))
    # As an operator launches it from the Launchpad with the job's tag set lower (the kind's budget is an hour).
    run_id = stack.api.launch(
        "document_processing",
        {"ops": {"load_documents": {"config": {"paths": [str(path)]}}}},
        {MAX_RUNTIME_TAG: str(BUDGET_SECONDS)},
    )
    wait_for(lambda: stack.ledger.find_by_key(sha256_of(path)) is not None, 120, "the task to be submitted", stack.logs)
    task = stack.ledger.find_by_key(sha256_of(path))

    # Run monitoring cancels the run, then marks it failed: it shows whichever Dagster stored last.
    assert run_finished(stack, run_id, timeout=60) in ("FAILURE", "CANCELED")
    failed = finished(stack, task.id, timeout=120)
    runs = stack.ledger.run_ids(task.id)
    assert runs[0] == run_id and len(runs) <= 2, runs  # the run, and Dagster's one retry of a FAILED one
    for run in runs:
        # Each stopped within its budget plus the monitoring interval (1 s on this stack), by Dagster's clock.
        assert run_finished(stack, run) in ("FAILURE", "CANCELED")
        record = stack.instance.get_run_record_by_id(run)
        assert record.end_time - record.start_time < BUDGET_SECONDS + 10
    assert failed.status == TaskStatus.FAILED
    assert failed.error_class == "Timeout"
    # The step it was stopped in: the Veryfi call's on a machine with time to spare, an earlier one on a busy one.
    assert failed.error_step == last_step_started(stack, runs[-1]) in ("load_documents", "upload_and_extract")
    assert f"budget of {BUDGET_SECONDS} seconds" in failed.error_message
    listed = [line for line in orbit(stack, "dlq", "list").stdout.splitlines() if line.startswith(f"task {task.id} ")]
    assert listed and f"step {failed.error_step}: Timeout: " in listed[0]


def test_a_step_that_never_returns_is_stopped_at_its_run_budget_and_listed_as_a_timeout(stack, model):
    # decompose_task waits on a model that holds its answer until the test ends: the step never returns.
    config = held_decomposition(model, "Never answered")
    try:
        run_id = stack.api.launch("task_decomposition", config, {MAX_RUNTIME_TAG: str(BUDGET_SECONDS)})
        wait_for(lambda: model.requests, 90, "the model to be asked", stack.logs)
        (task_id,) = [t.id for t in stack.ledger.tasks_for_run(run_id)]
        failed = finished(stack, task_id, timeout=120)
        runs = stack.ledger.run_ids(task_id)
        for run in runs:
            assert run_finished(stack, run) in ("FAILURE", "CANCELED")
            record = stack.instance.get_run_record_by_id(run)
            assert record.end_time - record.start_time < BUDGET_SECONDS + 10
    finally:
        model.release()
    assert (failed.status, failed.error_class, failed.error_step) == (TaskStatus.FAILED, "Timeout", "decompose_task")
    assert f"budget of {BUDGET_SECONDS} seconds" in failed.error_message
    listed = [line for line in orbit(stack, "dlq", "list").stdout.splitlines() if line.startswith(f"task {task_id} ")]
    assert listed and "step decompose_task: Timeout: " in listed[0]
    # `orbit runs interrupted` lists the last of its runs as a timeout, stopped in the step that hung.
    last = listed_as_interrupted(stack, task_id)
    assert (last["why"], last["stopped_in"]) == ("timeout", ["decompose_task"])
    assert [t["id"] for t in last["tasks"]] == [task_id]


def test_a_step_past_its_step_budget_stops_its_run_long_before_the_run_budget(stack, model):
    # decompose_task declares a step budget (900 s a task); this launch sets it to 8 s, as an operator can
    # in the Launchpad's tags. The run's own budget stays the kind's hour.
    config = held_decomposition(model, "Over its step budget")
    try:
        run_id = stack.api.launch("task_decomposition", config, {STEP_BUDGET_TAG: "8"})
        wait_for(lambda: model.requests, 90, "the model to be asked", stack.logs)
        (task_id,) = [t.id for t in stack.ledger.tasks_for_run(run_id)]
        failed = finished(stack, task_id, timeout=120)
        runs = stack.ledger.run_ids(task_id)
        for run in runs:
            assert run_finished(stack, run) in ("FAILURE", "CANCELED")
            record = stack.instance.get_run_record_by_id(run)
            assert record.end_time - record.start_time < 8 + 20  # the step's budget, not the run's hour
    finally:
        model.release()
    assert (failed.status, failed.error_class, failed.error_step) == (TaskStatus.FAILED, "Timeout", "decompose_task")
    assert "went past its step budget of 8 seconds" in failed.error_message
    listed = [line for line in orbit(stack, "dlq", "list").stdout.splitlines() if line.startswith(f"task {task_id} ")]
    assert listed and "step decompose_task: Timeout: " in listed[0]
    assert listed_as_interrupted(stack, task_id)["why"] == "timeout"


def listed_as_interrupted(stack, task_id: int) -> dict:
    """What `orbit runs interrupted --json` says of the task's run, once it lists one: the task's last run,
    after Dagster's run retry of the first (which comes a moment after the first run ends) has ended too."""
    found: list[dict] = []

    def listed() -> bool:
        runs = json.loads(orbit(stack, "runs", "interrupted", "--json").stdout)
        found[:] = [r for r in runs if task_id in [t["id"] for t in r["tasks"]]]
        return bool(found)

    wait_for(listed, 90, f"`orbit runs interrupted` to list a run of task {task_id}", stack.logs)
    (entry,) = found
    assert entry["run_id"] == stack.ledger.run_ids(task_id)[-1], "the run listed is the task's last"
    return entry


def held_decomposition(model, title: str) -> dict:
    """Run config of a decomposition whose decompose_task asks a model that holds its answer (for the run and
    Dagster's one retry of it) until the test calls `model.release()`: the step never returns by itself."""
    model.reset()
    model.next("held", "held")
    task = {"title": f"{title} {uuid.uuid4().hex[:8]}", "description": "Customers export Invoices as CSV."}
    return {
        "ops": {"load_task": {"config": {"task": task}}, "decompose_task": {"config": {"strategy": "llm"}}},
        # The call's own limit far past every budget: only a run or step budget can stop this step.
        "resources": {"llm": {"config": {"base_url": model.base_url, "model": "emulator", "read_timeout": 600}}},
    }


def last_step_started(stack, run_id) -> str:
    from dagster import DagsterEventType

    records = stack.instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return records[-1].event_log_entry.step_key


def sha256_of(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()

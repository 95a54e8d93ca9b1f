"""task_decomposition end to end on the Postgres-backed instance (execute_job, in-process executor)."""

from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.intake import submit_task
from orbit_pipelines.jobs.common import task_tags
from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines_tests.support import recon_job, run_config_for


def run_task(instance, ledger, task_id, **kwargs):
    task = ledger.get(task_id)
    return execute_job(
        recon_job("task_decomposition"), instance=instance, run_config=run_config_for(task_id),
        tags=task_tags(task), raise_on_error=False, **kwargs,
    )


def dispatched(ledger, payload, **kw):
    task, _ = submit_task(ledger, "decomposition", payload, **kw)
    ledger.claim_pending(limit=10)
    return task


def test_a_task_becomes_subtasks_and_prompts_and_completes(instance, ledger, sample_payload):
    task = dispatched(ledger, sample_payload)
    result = run_task(instance, ledger, task.id)
    assert result.success
    done = ledger.get(task.id)
    assert done.status == TaskStatus.COMPLETED and done.run_id == result.run_id and done.attempts == 1
    subtasks, prompts = load_plan(ledger.engine, task.id)
    assert {s.category.value for s in subtasks} == {"DATA_MODEL", "SERVICE", "HTTP_API", "TESTING"}
    assert [p.category.value for p in prompts] == ["DATA_MODEL", "SERVICE", "HTTP_API", "TESTING"]
    assert any("Invoice" in s.title for s in subtasks)


def test_the_run_shows_the_subtask_table_to_operators(instance, ledger, sample_payload):
    task = dispatched(ledger, sample_payload)
    result = run_task(instance, ledger, task.id)
    store = next(e for e in result.all_events
                 if e.event_type == DagsterEventType.STEP_OUTPUT and e.step_key == "store_results")
    metadata = store.step_output_data.metadata
    assert "| " in metadata["subtasks"].value and "data_model." in metadata["subtasks"].value
    assert metadata["task_id"].value == task.id


def test_re_executing_the_store_step_writes_the_same_rows_once(instance, ledger, sample_payload):
    task = dispatched(ledger, sample_payload)
    first = run_task(instance, ledger, task.id)
    before = load_plan(ledger.engine, task.id)
    again = execute_job(
        recon_job("task_decomposition"), instance=instance, raise_on_error=False,
        reexecution_options=ReexecutionOptions(parent_run_id=first.run_id, step_selection=["store_results"]),
    )
    assert again.success
    assert load_plan(ledger.engine, task.id) == before
    assert ledger.get(task.id).status == TaskStatus.COMPLETED
    assert ledger.run_ids(task.id) == [first.run_id, again.run_id]


def test_a_bad_payload_that_reached_a_run_fails_at_load_task_without_retries(instance, ledger):
    # Bypasses intake, as a hand-written SQL insert would.
    task, _ = ledger.submit("decomposition", {"description": "no title here"})
    ledger.claim_pending(limit=1)
    result = run_task(instance, ledger, task.id)
    assert not result.success
    assert [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE] == ["load_task"]
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    failed = ledger.get(task.id)
    assert failed.status == TaskStatus.FAILED
    assert (failed.error_class, failed.error_step) == ("InvalidPayload", "load_task")
    assert "title: Field required" in failed.error_message


def test_running_a_completed_task_again_does_no_work_and_says_so(instance, ledger, sample_payload):
    task = dispatched(ledger, sample_payload)
    first = run_task(instance, ledger, task.id)
    second = run_task(instance, ledger, task.id)
    assert second.success
    assert [e.step_key for e in second.all_events if e.event_type == DagsterEventType.STEP_SKIPPED] == [
        "decompose_task", "enrich_subtasks", "generate_prompts", "store_results"]
    assert instance.get_run_by_id(second.run_id).tags["orbit/short_circuit"] == f"task {task.id} already completed"
    kept = ledger.get(task.id)
    assert kept.status == TaskStatus.COMPLETED and kept.run_id == first.run_id


def test_two_launches_with_one_idempotency_key_make_one_task(instance, ledger):
    tags = {"orbit/idempotency_key": "ticket-4711"}
    first = execute_job(recon_job("task_decomposition"), instance=instance, tags=tags, raise_on_error=False)
    second = execute_job(recon_job("task_decomposition"), instance=instance, tags=tags, raise_on_error=False)
    assert first.success and second.success
    task = ledger.find_by_key("ticket-4711")
    assert len(ledger.list()) == 1 and task.status == TaskStatus.COMPLETED and task.run_id == first.run_id
    assert "orbit/short_circuit" in instance.get_run_by_id(second.run_id).tags


def test_an_unknown_task_id_fails_visibly(instance, ledger):
    result = execute_job(recon_job("task_decomposition"), instance=instance, run_config=run_config_for(10**9),
                         raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert f"task {10**9} does not exist" in failure.step_failure_data.user_failure_data.description


def test_a_launchpad_launch_with_an_inline_task_records_and_completes_it(instance, ledger):
    result = execute_job(recon_job("task_decomposition"), instance=instance, raise_on_error=False)
    assert result.success
    task = ledger.find_by_key(f"run:{result.run_id}")
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert instance.get_run_by_id(result.run_id).tags["orbit/task_id"] == str(task.id)
    assert load_plan(ledger.engine, task.id)[0], "the inline task's subtasks are stored"

"""task_decomposition end to end on the Postgres-backed instance (execute_job, in-process executor)."""

from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines_tests.support import recon_job, run_config_for


def run_task(instance, ledger, task_id, **kwargs):
    task = ledger.get(task_id)
    return execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=run_config_for(task_id),
        tags=task_tags(task),
        raise_on_error=False,
        **kwargs,
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
    store = next(
        e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT and e.step_key == "store_results"
    )
    metadata = store.step_output_data.metadata
    subtasks, _ = load_plan(ledger.engine, task.id)
    lines = metadata["subtasks"].value.splitlines()
    assert lines[0] == "| id | category | title | effort (h) | priority | depends on |"
    rows = [line for line in lines[2:] if line.startswith("| ")]
    # One row per stored subtask, in order, naming it as the ledger does.
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [s.id for s in subtasks]
    assert [row.split(" | ")[2] for row in rows] == [s.title for s in subtasks]
    assert f"{len(subtasks)} subtasks, " in metadata["subtasks"].value
    assert metadata["task_id"].value == task.id


def test_re_executing_the_store_step_writes_the_same_rows_once(instance, ledger, sample_payload):
    task = dispatched(ledger, sample_payload)
    first = run_task(instance, ledger, task.id)
    before = load_plan(ledger.engine, task.id)
    again = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
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
        "decompose_task",
        "enrich_subtasks",
        "generate_prompts",
        "store_results",
    ]
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
    result = execute_job(
        recon_job("task_decomposition"), instance=instance, run_config=run_config_for(10**9), raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert f"task {10**9} does not exist" in failure.step_failure_data.user_failure_data.description


def test_a_launchpad_launch_with_an_inline_task_records_and_completes_it(instance, ledger):
    result = execute_job(recon_job("task_decomposition"), instance=instance, raise_on_error=False)
    assert result.success
    task = ledger.find_by_key(f"run:{result.run_id}")
    assert task is not None and task.status == TaskStatus.COMPLETED
    assert instance.get_run_by_id(result.run_id).tags["orbit/task_id"] == str(task.id)
    assert load_plan(ledger.engine, task.id)[0], "the inline task's subtasks are stored"


def run_batch(instance, ledger, payloads, **kwargs):
    tasks = [submit_task(ledger, "decomposition", p)[0] for p in payloads]
    claimed = ledger.claim_pending(limit=len(tasks), kinds=["decomposition"], batch_size=len(tasks))
    from orbit_pipelines.jobs.registry import get_kind

    kind = get_kind("decomposition")
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=kind.run_config(claimed),
        tags=kind.tags_for(claimed),
        raise_on_error=False,
        **kwargs,
    )
    return [ledger.get(t.id) for t in tasks], result


def test_a_batch_run_gives_each_task_its_own_plan(instance, ledger, sample_payload):
    payloads = [{**sample_payload, "title": f"Export {what}", "entities": [what]} for what in ("Invoice", "Order")]
    tasks, result = run_batch(instance, ledger, payloads)
    assert result.success and {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert all(t.run_id == result.run_id for t in tasks)
    plans = [load_plan(ledger.engine, t.id)[0] for t in tasks]
    assert any("Invoice" in s.title for s in plans[0]) and any("Order" in s.title for s in plans[1])
    assert instance.get_run_by_id(result.run_id).tags["orbit/batch_size"] == "2"


def invalid_task(ledger, title=None):
    """A task with a bad payload, as a hand-written SQL insert would make (intake would refuse it)."""
    payload = {"description": "no title here"} if title is None else {"title": title}
    return ledger.submit("decomposition", payload)[0]


def test_a_bad_task_in_a_batch_fails_alone_and_the_others_complete(instance, ledger, sample_payload):
    good, _ = submit_task(ledger, "decomposition", sample_payload)
    bad = invalid_task(ledger)
    claimed = ledger.claim_pending(limit=2, kinds=["decomposition"], batch_size=2)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_task": {"config": {"task_ids": [t.id for t in claimed]}}}},
    )
    assert result.success, "one bad task must not sink the batch"
    assert ledger.get(good.id).status == TaskStatus.COMPLETED
    failed = ledger.get(bad.id)
    assert (failed.status, failed.error_class, failed.error_step) == (TaskStatus.FAILED, "InvalidPayload", "load_task")
    assert [row["id"] for row in ledger.dead_letters()] == [bad.id]


def test_a_batch_in_which_every_task_fails_fails_the_run_at_that_step(instance, ledger):
    bad = [invalid_task(ledger), invalid_task(ledger, title="no description")]
    claimed = ledger.claim_pending(limit=2, kinds=["decomposition"], batch_size=2)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_task": {"config": {"task_ids": [t.id for t in claimed]}}}},
    )
    assert not result.success
    assert [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE] == ["load_task"]
    assert {(ledger.get(t.id).status, ledger.get(t.id).error_class) for t in bad} == {
        (TaskStatus.FAILED, "InvalidPayload")
    }


def test_a_correction_applies_to_a_run_of_one_task_only(instance, ledger, sample_payload):
    tasks, result = run_batch(instance, ledger, [sample_payload, {**sample_payload, "title": "another"}])
    again = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config={
            **result.dagster_run.run_config,
            "ops": {
                **result.dagster_run.run_config["ops"],
                "decompose_task": {"config": {"corrected_subtasks_json": "[]"}},
            },
        },
        reexecution_options=ReexecutionOptions(parent_run_id=result.run_id, step_selection=["decompose_task*"]),
    )
    failure = next(e for e in again.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    assert "corrects the plan of a run of one task; this run has 2" in (
        failure.step_failure_data.user_failure_data.description
    )

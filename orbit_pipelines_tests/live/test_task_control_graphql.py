"""task_control through Dagster's GraphQL API on the live stack, as an integrator (or the Launchpad)
launches it: `submit_job_execution` of `task_control` with the request in its config. The same requests
as `orbit task ...` (live/test_task_control.py), carried out by the same functions; what each did is
on its run's page, a refusal is its run's failure."""

import pytest
from dagster import DagsterEventType

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines_tests.live.stack import finished, run_finished, step_failures, wait_for
from orbit_pipelines_tests.live.test_task_control import history_notes, step_starts

pytestmark = pytest.mark.services


def control(stack, task_id: int, action: str, **config) -> str:
    """Launch task_control through GraphQL and wait for its run; its id."""
    run_id = stack.api.client.submit_job_execution(
        "task_control",
        run_config={"ops": {"control_task": {"config": {"task_id": task_id, "action": action, **config}}}},
    )
    run_finished(stack, run_id)
    return run_id


def output_metadata(stack, run_id: str) -> dict:
    (record,) = stack.instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_OUTPUT).records
    return {
        k: getattr(v, "value", v) for k, v in record.event_log_entry.dagster_event.step_output_data.metadata.items()
    }


def test_a_rollback_through_graphql_reexecutes_the_later_steps_and_names_the_new_run(stack, completed_decomposition):
    task_id, first = completed_decomposition
    run_id = control(stack, task_id, "rollback", to_step="decompose_task", reason="new rules", by="integrator")
    assert stack.api.run(run_id)["status"] == "SUCCESS", step_failures(stack, run_id)
    metadata = output_metadata(stack, run_id)
    second = metadata["run_id"]
    assert metadata["steps"] == "enrich_subtasks, generate_prompts, store_results"
    assert run_finished(stack, second) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    assert step_starts(stack, second) == ["enrich_subtasks", "generate_prompts", "store_results"]
    assert any(
        n.startswith("rolled back to decompose_task by integrator: new rules") for n in history_notes(stack, task_id)
    )


def test_the_checkpoints_through_graphql_are_a_table_on_the_run_page(stack, completed_decomposition):
    task_id, first = completed_decomposition
    metadata = output_metadata(stack, control(stack, task_id, "checkpoints"))
    assert (metadata["count"], metadata["current"]) == (5, 5)
    assert f"| decompose_task | {first} |" in metadata["checkpoints"]


def test_a_refused_request_fails_its_run_saying_why_and_changes_nothing(stack, completed_decomposition):
    task_id, first = completed_decomposition
    run_id = control(stack, task_id, "rollback", to_step="no_such_step")
    assert stack.api.run(run_id)["status"] == "FAILURE"
    (failure,) = step_failures(stack, run_id)
    assert failure.startswith("control_task: ") and "no_such_step" in failure
    assert stack.ledger.get(task_id).run_id == first
    (unknown,) = step_failures(stack, control(stack, 10**9, "reset", reason="r"))
    assert "task_id: " in unknown


def test_pause_and_resume_through_graphql(stack, slow_model_decomposition):
    task_id, first = slow_model_decomposition
    paused = control(stack, task_id, "pause", by="integrator")
    assert stack.api.run(paused)["status"] == "SUCCESS", step_failures(stack, paused)
    assert output_metadata(stack, paused)["said"].startswith(f"task {task_id} is PAUSED after decompose_task")
    assert stack.ledger.get(task_id).status == TaskStatus.PAUSED
    resumed = control(stack, task_id, "resume", by="integrator")
    second = output_metadata(stack, resumed)["run_id"]
    assert run_finished(stack, second) == "SUCCESS"
    wait_for(lambda: stack.ledger.get(task_id).status == TaskStatus.COMPLETED, 60, "the resumed task", stack.logs)
    assert step_starts(stack, second) == ["enrich_subtasks", "generate_prompts", "store_results"]


def test_a_reset_through_graphql_runs_the_completed_task_again_from_the_start(stack, completed_decomposition):
    task_id, first = completed_decomposition
    run_id = control(stack, task_id, "reset", reason="new standards", by="integrator")
    assert stack.api.run(run_id)["status"] == "SUCCESS", step_failures(stack, run_id)
    second = output_metadata(stack, run_id)["run_id"]
    assert second != first
    assert run_finished(stack, second) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    assert step_starts(stack, second)[0] == "load_task"
    assert stack.ledger.get(task_id).run_id == second
    assert any(n.startswith("reset by integrator: new standards") for n in history_notes(stack, task_id))

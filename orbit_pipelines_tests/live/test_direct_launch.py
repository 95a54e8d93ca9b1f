"""`orbit task submit` and `orbit doc submit` launch their runs at once through the webserver; the
dispatch sensor is the catch-all for what they do not launch. Against the live stack (code server,
webserver, daemon)."""

import re

import pytest
from dagster import RunsFilter, execute_job

from orbit_pipelines.launch import launch_now
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import BATCH_SIZE_TAG, RUN_KEY_TAG, TASK_ID_TAG
from orbit_pipelines_tests.live.stack import finished, orbit, run_finished
from orbit_pipelines_tests.support import recon_job

pytestmark = pytest.mark.services


@pytest.fixture
def stack_with_a_run(stack):
    """Direct launch needs proof the webserver serves this instance: a run it knows."""
    run_id = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": "direct-launch-first-run"})
    run_finished(stack, run_id)
    return stack


def runs_of(stack, task_id):
    return stack.instance.get_runs(RunsFilter(tags={TASK_ID_TAG: str(task_id)}))


def test_a_submitted_task_is_launched_at_once_not_by_the_sensor(stack_with_a_run):
    stack = stack_with_a_run
    result = orbit(stack, "task", "submit", "--sample", "--wait", "60")
    task_id = int(re.search(r"submitted task (\d+)", result.stdout).group(1))
    run_id = re.search(r"launched run (\S+)", result.stdout).group(1)
    assert f"task {task_id} is COMPLETED" in result.stdout
    [run] = runs_of(stack, task_id)
    assert run.run_id == run_id and "dagster/sensor_name" not in run.tags
    assert run.tags["dagster/run_key"] == f"task-{task_id}", "the sensor's recovery can find it"


def test_submitted_documents_are_launched_at_once_as_one_batch(stack_with_a_run, tmp_path):
    from orbit_pipelines.local.sample_documents import write_unique_sample_set

    stack = stack_with_a_run
    write_unique_sample_set(tmp_path / "docs", n=3, salt="direct-launch-documents")
    result = orbit(stack, "doc", "submit", str(tmp_path / "docs"))
    assert "3 submitted, 0 already known, 0 refused" in result.stdout
    [(run_id, key)] = re.findall(r"launched run (\S+) for 3 document\(s\) \((batch-\d+-\d+)\)", result.stdout)
    # At once, in the command itself: every document is on that run when it returns, no sensor tick needed.
    tasks = stack.ledger.tasks_with_dispatch_key(key)
    assert len(tasks) == 3 and {t.run_id for t in tasks} == {run_id}
    assert {t.status for t in tasks} <= {TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.COMPLETED}
    [run] = stack.instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: key}))
    assert run.run_id == run_id and "dagster/sensor_name" not in run.tags
    assert run.tags[BATCH_SIZE_TAG] == "3"
    assert [finished(stack, t.id).status for t in tasks] == [TaskStatus.COMPLETED] * 3


def test_a_sync_lane_task_keeps_its_order_through_the_sensor(stack_with_a_run):
    stack = stack_with_a_run
    result = orbit(stack, "task", "submit", "--sample", "--lane", "sync", "--wait", "90")
    assert "launched run" not in result.stdout and "is COMPLETED" in result.stdout
    task_id = int(re.search(r"submitted task (\d+)", result.stdout).group(1))
    [run] = runs_of(stack, task_id)
    assert run.tags["dagster/sensor_name"] == "task_dispatch_sensor"


def test_a_webserver_of_another_instance_is_never_asked_to_run_a_task(stack, instance, ledger, sample_payload):
    # The session's own database (not the stack's) holds a run the stack's webserver does not know.
    execute_job(recon_job("task_decomposition"), instance=instance, raise_on_error=False)
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    assert launch_now(ledger, task, url=stack.ui) is None
    assert ledger.get(task.id).status == TaskStatus.PENDING, "left to this instance's own dispatch sensor"


def test_without_a_webserver_the_task_is_left_pending_for_the_sensor(ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    assert launch_now(ledger, task, url="http://127.0.0.1:9") is None
    after = ledger.get(task.id)
    assert after.status == TaskStatus.PENDING and after.dispatch_key is None


def test_a_task_already_finished_by_the_stack_is_reported_once(stack_with_a_run):
    stack = stack_with_a_run
    result = orbit(stack, "task", "submit", "--sample", "--idempotency-key", "direct-launch-twice", "--wait", "60")
    again = orbit(stack, "task", "submit", "--sample", "--idempotency-key", "direct-launch-twice", "--wait", "60")
    task_id = int(re.search(r"submitted task (\d+)", result.stdout).group(1))
    assert "already submitted as task" in again.stdout and "launched run" not in again.stdout
    assert len(runs_of(stack, task_id)) == 1
    assert finished(stack, task_id).status == TaskStatus.COMPLETED

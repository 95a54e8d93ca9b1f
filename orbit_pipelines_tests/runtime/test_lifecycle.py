"""The lifecycle every job's items share, on the Postgres-backed instance: which tasks a run starts,
skips, takes over or takes up again, for one task and for a batch."""

from dagster import DagsterRunStatus, OpExecutionContext, job, op

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.lifecycle import start_items
from orbit_pipelines.runtime.tags import SHORT_CIRCUIT_TAG, TASK_ID_TAG

STARTED: dict[str, list[int]] = {}


def _run_start_items(instance, ledger, task_ids):
    """One run whose only step calls start_items on `task_ids`; returns (run id, ids it started)."""

    @op
    def start(context: OpExecutionContext):
        started = start_items(context, ledger, ledger.get_many(task_ids))
        STARTED[context.run_id] = [t.id for t in started]

    @job
    def lifecycle_probe():
        start()

    result = lifecycle_probe.execute_in_process(instance=instance)
    return result.run_id, STARTED.pop(result.run_id)


def _task(ledger, title):
    task, _ = ledger.submit("decomposition", {"title": title})
    return task


def _finished_run(instance, status=DagsterRunStatus.SUCCESS):
    @job
    def other_run():
        pass

    return instance.create_run_for_job(other_run, status=status).run_id


def test_a_queued_task_is_started_under_the_run_and_the_run_is_tagged_with_it(instance, ledger):
    task = _task(ledger, "a")
    run_id, started = _run_start_items(instance, ledger, [task.id])
    assert started == [task.id]
    assert (ledger.get(task.id).status, ledger.get(task.id).run_id) == (TaskStatus.RUNNING, run_id)
    assert instance.get_run_by_id(run_id).tags[TASK_ID_TAG] == str(task.id)


def test_a_completed_task_is_skipped_and_the_run_says_so(instance, ledger):
    task = _task(ledger, "done")
    first, _ = _run_start_items(instance, ledger, [task.id])
    ledger.move_along(task.id, TaskStatus.COMPLETED, run_id=first)
    run_id, started = _run_start_items(instance, ledger, [task.id])
    assert started == []
    assert instance.get_run_by_id(run_id).tags[SHORT_CIRCUIT_TAG] == f"task {task.id} already completed"
    assert ledger.get(task.id).run_id == first


def test_a_task_another_live_run_works_on_is_left_to_it(instance, ledger):
    task = _task(ledger, "busy")
    live = _finished_run(instance, status=DagsterRunStatus.STARTED)
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id=live)
    run_id, started = _run_start_items(instance, ledger, [task.id])
    assert started == []
    assert instance.get_run_by_id(run_id).tags[SHORT_CIRCUIT_TAG] == f"task {task.id} in progress"
    assert ledger.get(task.id).run_id == live


def test_a_task_left_running_by_a_finished_run_is_taken_over(instance, ledger):
    task = _task(ledger, "orphan")
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id=_finished_run(instance, DagsterRunStatus.FAILURE))
    run_id, started = _run_start_items(instance, ledger, [task.id])
    assert started == [task.id] and ledger.get(task.id).run_id == run_id


def test_a_batch_starts_what_it_may_and_leaves_the_rest(instance, ledger):
    fresh, done, failed, busy = (_task(ledger, t) for t in ("fresh", "done", "failed", "busy"))
    earlier = _finished_run(instance)
    ledger.move_along(done.id, TaskStatus.COMPLETED, run_id=earlier)
    ledger.move_along(failed.id, TaskStatus.FAILED, run_id=earlier, error=("Boom", "boom", "step"))
    ledger.move_along(busy.id, TaskStatus.RUNNING, run_id=_finished_run(instance, DagsterRunStatus.STARTED))
    run_id, started = _run_start_items(instance, ledger, [fresh.id, done.id, failed.id, busy.id])
    assert started == [fresh.id, failed.id]  # a FAILED task is taken up again: a re-execution
    assert [ledger.get(i).status for i in started] == [TaskStatus.RUNNING, TaskStatus.RUNNING]
    assert ledger.get(done.id).status == TaskStatus.COMPLETED and ledger.get(busy.id).run_id != run_id

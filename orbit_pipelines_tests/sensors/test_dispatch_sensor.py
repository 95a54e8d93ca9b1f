"""The dispatch sensor, evaluated with build_sensor_context against the real ledger and instance."""

import json

from dagster import SensorResult, SkipReason, build_sensor_context
from sqlalchemy import text

from orbit_pipelines.jobs.task_decomposition.job import task_decomposition
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.sensors.dispatch import LOST_DISPATCH_AFTER_SECONDS, task_dispatch_sensor


def tick(instance, ledger_resource, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"ledger": ledger_resource})
    return task_dispatch_sensor(context)


def test_each_pending_task_gets_one_run_request_keyed_by_its_id(instance, ledger, ledger_resource, sample_payload):
    a, _ = submit_task(ledger, "decomposition", sample_payload)
    b, _ = submit_task(ledger, "decomposition", sample_payload, lane="sync", priority=5)
    result = tick(instance, ledger_resource)
    assert isinstance(result, SensorResult)
    requests = {r.run_key: r for r in result.run_requests}
    assert set(requests) == {f"task-{a.id}", f"task-{b.id}"}
    sync = requests[f"task-{b.id}"]
    assert sync.job_name == "task_decomposition"
    assert sync.run_config == {"ops": {"load_task": {"config": {"task_id": b.id}}}}
    assert sync.tags == {
        "orbit/task_id": str(b.id),
        "orbit/kind": "decomposition",
        "orbit/lane": "sync",
        "dagster/priority": "5",
        "dagster/max_runtime": "3600",  # the kind's run budget
    }


def test_dispatched_tasks_are_queued(instance, ledger, ledger_resource, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    tick(instance, ledger_resource)
    assert ledger.get(task.id).status == TaskStatus.QUEUED


def test_higher_priority_is_requested_first(instance, ledger, ledger_resource, sample_payload, monkeypatch):
    monkeypatch.setenv("ORBIT_DECOMPOSITION_BATCH_SIZE", "1")
    low, _ = submit_task(ledger, "decomposition", sample_payload, priority=-1)
    high, _ = submit_task(ledger, "decomposition", sample_payload, priority=9)
    result = tick(instance, ledger_resource)
    assert [r.run_key for r in result.run_requests] == [f"task-{high.id}", f"task-{low.id}"]


def test_a_second_tick_dispatches_nothing_again(instance, ledger, ledger_resource, sample_payload):
    submit_task(ledger, "decomposition", sample_payload)
    first = tick(instance, ledger_resource)
    second = tick(instance, ledger_resource, cursor=first.cursor)
    assert isinstance(second, SkipReason)
    assert "no pending tasks" in second.skip_message


def test_the_cursor_counts_dispatched_tasks_and_the_newest_id(instance, ledger, ledger_resource, sample_payload):
    first_task, _ = submit_task(ledger, "decomposition", sample_payload)
    first = tick(instance, ledger_resource)
    second_task, _ = submit_task(ledger, "decomposition", sample_payload)
    second = tick(instance, ledger_resource, cursor=first.cursor)
    assert json.loads(first.cursor) == {"last_task_id": first_task.id, "dispatched": 1}
    assert json.loads(second.cursor) == {"last_task_id": second_task.id, "dispatched": 2}


def _age_queued_task(ledger, task_id):
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE orbit.tasks SET updated_at = now() - make_interval(secs => :s) WHERE id = :id"),
            {"s": LOST_DISPATCH_AFTER_SECONDS + 5, "id": task_id},
        )


def test_a_claimed_task_whose_run_was_never_created_is_requested_again(
    instance, ledger, ledger_resource, sample_payload
):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    tick(instance, ledger_resource)  # claimed; pretend the daemon died before creating the run
    _age_queued_task(ledger, task.id)
    again = tick(instance, ledger_resource)
    assert [r.run_key for r in again.run_requests] == [f"task-{task.id}"]


def test_a_claimed_task_whose_run_exists_is_linked_to_it_not_requested_again(
    instance, ledger, ledger_resource, sample_payload
):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    request = tick(instance, ledger_resource).run_requests[0]
    # As the daemon creates it: the request's tags plus the run key.
    run = instance.create_run_for_job(
        job_def=task_decomposition,
        run_config=request.run_config,
        tags={**request.tags, "dagster/run_key": request.run_key},
    )
    _age_queued_task(ledger, task.id)
    assert isinstance(tick(instance, ledger_resource), SkipReason)
    assert ledger.get(task.id).run_id == run.run_id


def test_pending_documents_are_batched_up_to_the_batch_size(instance, ledger, ledger_resource, tmp_path, monkeypatch):
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.local.sample_documents import write_sample_set

    monkeypatch.setenv("ORBIT_DOCUMENT_BATCH_SIZE", "3")
    ids = [submit_document(ledger, p)[0].id for p in write_sample_set(tmp_path, n=5)]
    result = tick(instance, ledger_resource)
    requests = result.run_requests
    assert [r.run_config["ops"]["load_documents"]["config"]["task_ids"] for r in requests] == [ids[:3], ids[3:]]
    assert [r.run_key for r in requests] == [f"batch-{ids[0]}-{ids[2]}", f"batch-{ids[3]}-{ids[4]}"]
    assert requests[0].tags["orbit/batch_size"] == "3" and requests[0].job_name == "document_processing"


def test_a_backlog_of_decompositions_is_packed_into_evenly_filled_runs(
    instance, ledger, ledger_resource, sample_payload, monkeypatch
):
    monkeypatch.setenv("ORBIT_DECOMPOSITION_BATCH_SIZE", "25")
    ids = [submit_task(ledger, "decomposition", {**sample_payload, "title": f"task {i}"})[0].id for i in range(30)]
    requests = tick(instance, ledger_resource).run_requests
    batches = [r.run_config["ops"]["load_task"]["config"]["task_ids"] for r in requests]
    assert batches == [ids[:15], ids[15:]], "two runs of 15, not 25 and 5"
    assert [r.run_key for r in requests] == [f"batch-{ids[0]}-{ids[14]}", f"batch-{ids[15]}-{ids[29]}"]


def test_a_lone_document_starts_a_run_of_one_at_once(instance, ledger, ledger_resource, tmp_path):
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.local.sample_documents import write_sample_set

    (path,) = write_sample_set(tmp_path, n=1)
    task, _ = submit_document(ledger, path)
    (request,) = tick(instance, ledger_resource).run_requests
    assert request.run_key == f"task-{task.id}"
    assert request.run_config["ops"]["load_documents"]["config"]["task_ids"] == [task.id]


def test_paused_intake_dispatches_nothing_and_says_why(instance, ledger, ledger_resource, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.set_paused(True, reason="database maintenance")
    result = tick(instance, ledger_resource)
    assert isinstance(result, SkipReason) and "intake paused (database maintenance)" in result.skip_message
    assert ledger.get(task.id).status == TaskStatus.PENDING
    ledger.set_paused(False)
    assert [r.run_key for r in tick(instance, ledger_resource).run_requests] == [f"task-{task.id}"]


def test_pausing_one_kind_leaves_the_others_flowing(instance, ledger, ledger_resource, sample_payload, tmp_path):
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.local.sample_documents import write_sample_set

    doc, _ = submit_document(ledger, write_sample_set(tmp_path, n=1)[0])
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.set_paused(True, kind="document")
    assert [r.run_key for r in tick(instance, ledger_resource).run_requests] == [f"task-{task.id}"]
    assert ledger.get(doc.id).status == TaskStatus.PENDING

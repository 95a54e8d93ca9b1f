"""A run whose worker crashed, on the real instance (dagster.yaml: run_retries, max_retries 1): Dagster
decides whether it retries the run (`dagster/will_retry`), and a task of a run it retries is not failed
but follows the retry to its end. If the retry never comes, the sweep fails the task, saying why.

The retry run is created here as Dagster's retry daemon creates it (auto_run_reexecution.retry_run):
`dagster/parent_run_id`, `root_run_id` and `retry_number` on the retry, `auto_retry_run_id` on the failed
run. live/test_crash_retry_wait.py runs the whole path with the real daemon."""

from dagster import DagsterEvent, DagsterEventType, build_run_status_sensor_context
from dagster._core.storage.tags import TAGS_TO_MAYBE_OMIT_ON_RETRY
from sqlalchemy import text

from orbit_pipelines.jobs.housekeeping.stale import stale_tasks
from orbit_pipelines.jobs.task_decomposition.job import task_decomposition
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.outcomes import reconcile_task
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines.sensors.outcome import task_failure_sensor, task_started_sensor, task_success_sensor
from orbit_pipelines_tests.support import run_config_for


def crashed_run(instance, ledger, payload, **tags):
    """A task RUNNING under a run whose worker died: the run marked failed from outside, as run
    monitoring marks it, and Dagster deciding as it stores that failure whether it retries the run."""
    task, _ = submit_task(ledger, "decomposition", payload)
    ledger.claim_pending(limit=1)
    run = instance.create_run_for_job(
        job_def=task_decomposition,
        run_config=run_config_for(task.id),
        tags={**task_tags(ledger.get(task.id)), **tags},
    )
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id=run.run_id, note="run started")
    instance.report_run_failed(run)
    return task.id, instance.get_run_by_id(run.run_id)


def retry_of(instance, failed):
    """The retry Dagster's daemon launches for a failed run it retries (instance.create_reexecuted_run)."""
    root = failed.root_run_id or failed.run_id
    inherited = {k: v for k, v in failed.tags.items() if k not in TAGS_TO_MAYBE_OMIT_ON_RETRY}
    retry = instance.create_run_for_job(
        job_def=task_decomposition,
        run_config=failed.run_config,
        tags={
            **inherited,
            "dagster/retry_number": "1",
            "dagster/parent_run_id": failed.run_id,
            "dagster/root_run_id": root,
        },
        parent_run_id=failed.run_id,
        root_run_id=root,
    )
    instance.add_run_tags(failed.run_id, {"dagster/auto_retry_run_id": retry.run_id})
    return retry


def report(instance, run, event_type):
    instance.report_dagster_event(DagsterEvent(event_type.value, job_name=run.job_name), run_id=run.run_id)
    return instance.get_run_by_id(run.run_id)


def sense(sensor, instance, ledger_resource, run, event_type):
    event = instance.get_records_for_run(run.run_id, of_type=event_type).records[-1].event_log_entry.dagster_event
    context = build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        resources={"ledger": ledger_resource},
    )
    return sensor(context.for_run_failure() if event_type == DagsterEventType.RUN_FAILURE else context)


def notes(ledger, task_id):
    return [e["note"] for e in ledger.events(task_id)]


def an_hour_without_change(ledger, task_id):
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE orbit.tasks SET updated_at = now() - interval '1 hour' WHERE id = :id"), {"id": task_id}
        )


def stale_ids(ledger, instance, **bound):
    return {t.id for t in stale_tasks(ledger, instance, older_than_seconds=60, **bound)}


def test_a_crashed_run_dagster_retries_leaves_its_task_running_with_a_note(
    instance, ledger, ledger_resource, sample_payload
):
    task_id, run = crashed_run(instance, ledger, sample_payload)
    assert run.tags["dagster/will_retry"] == "true", "Dagster retries a crash (run_retries in dagster.yaml)"
    sense(task_failure_sensor, instance, ledger_resource, run, DagsterEventType.RUN_FAILURE)
    task = ledger.get(task_id)
    assert (task.status, task.run_id) == (TaskStatus.RUNNING, run.run_id)
    assert f"run {run.run_id} crashed; Dagster retries it" in notes(ledger, task_id)


def test_a_crashed_run_dagster_does_not_retry_fails_its_task(instance, ledger, ledger_resource, sample_payload):
    task_id, run = crashed_run(instance, ledger, sample_payload, **{"dagster/max_retries": "0"})
    assert run.tags["dagster/will_retry"] == "false"
    sense(task_failure_sensor, instance, ledger_resource, run, DagsterEventType.RUN_FAILURE)
    task = ledger.get(task_id)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "RunFailure")
    assert "marked as failed from outside the execution context" in task.error_message


def test_the_retry_takes_the_task_over_when_it_starts_and_completes_it(
    instance, ledger, ledger_resource, sample_payload
):
    task_id, run = crashed_run(instance, ledger, sample_payload)
    sense(task_failure_sensor, instance, ledger_resource, run, DagsterEventType.RUN_FAILURE)
    retry = report(instance, retry_of(instance, run), DagsterEventType.RUN_START)
    sense(task_started_sensor, instance, ledger_resource, retry, DagsterEventType.RUN_START)
    task = ledger.get(task_id)
    assert (task.status, task.run_id) == (TaskStatus.RUNNING, retry.run_id)
    assert f"run {retry.run_id}, Dagster's retry of run {run.run_id}, took it over" in notes(ledger, task_id)
    retry = report(instance, retry, DagsterEventType.RUN_SUCCESS)
    sense(task_success_sensor, instance, ledger_resource, retry, DagsterEventType.RUN_SUCCESS)
    task = ledger.get(task_id)
    assert (task.status, task.run_id) == (TaskStatus.COMPLETED, retry.run_id)
    assert [e["to_status"] for e in ledger.events(task_id)].count("FAILED") == 0


def test_a_retry_that_crashes_too_with_no_retry_left_fails_the_task(instance, ledger, ledger_resource, sample_payload):
    task_id, run = crashed_run(instance, ledger, sample_payload)
    sense(task_failure_sensor, instance, ledger_resource, run, DagsterEventType.RUN_FAILURE)
    retry = retry_of(instance, run)
    instance.report_run_failed(retry)  # before it ever started: the task is still with the first run
    retry = instance.get_run_by_id(retry.run_id)
    assert retry.tags["dagster/will_retry"] == "false", "max_retries: 1"
    sense(task_failure_sensor, instance, ledger_resource, retry, DagsterEventType.RUN_FAILURE)
    task = ledger.get(task_id)
    assert (task.status, task.run_id, task.error_class) == (TaskStatus.FAILED, retry.run_id, "RunFailure")


def test_the_sweep_leaves_a_task_alone_while_its_crashed_run_awaits_its_retry(instance, ledger, sample_payload):
    task_id, _ = crashed_run(instance, ledger, sample_payload)
    an_hour_without_change(ledger, task_id)
    assert task_id not in stale_ids(ledger, instance)
    assert reconcile_task(ledger, instance, ledger.get(task_id)) is None
    assert ledger.get(task_id).status == TaskStatus.RUNNING


def test_the_sweep_fails_a_task_whose_promised_retry_never_came(instance, ledger, sample_payload):
    task_id, run = crashed_run(instance, ledger, sample_payload)
    an_hour_without_change(ledger, task_id)
    assert task_id in stale_ids(ledger, instance, retry_within=0)
    settled = reconcile_task(ledger, instance, ledger.get(task_id), retry_within=0)
    assert settled is not None and settled.after == TaskStatus.FAILED
    task = ledger.get(task_id)
    assert task.error_class == "RunFailure"
    assert f"Dagster was to retry run {run.run_id}; no retry had started 0 s after it ended" in task.error_message


def test_the_sweep_follows_a_task_to_its_retry_and_settles_it_by_the_retry(instance, ledger, sample_payload):
    task_id, run = crashed_run(instance, ledger, sample_payload)
    retry = report(instance, retry_of(instance, run), DagsterEventType.RUN_START)
    an_hour_without_change(ledger, task_id)
    assert task_id not in stale_ids(ledger, instance, retry_within=0), "its retry is running"
    report(instance, retry, DagsterEventType.RUN_SUCCESS)
    assert task_id in stale_ids(ledger, instance)
    reconcile_task(ledger, instance, ledger.get(task_id))
    task = ledger.get(task_id)
    assert (task.status, task.run_id) == (TaskStatus.COMPLETED, retry.run_id)

"""The stuck-task sweep sensor, evaluated with build_sensor_context on the real instance and ledger: it
starts the housekeeping sweep only when a task is stale, and the run it requests settles that task."""

from dagster import RunRequest, SkipReason, build_sensor_context, execute_job
from sqlalchemy import text

from orbit_pipelines.jobs.housekeeping.job import housekeeping
from orbit_pipelines.jobs.housekeeping.sensor import stuck_task_sweep_sensor
from orbit_pipelines.jobs.task_decomposition.job import task_decomposition
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines_tests.support import recon_job, run_config_for


def tick(instance, ledger_resource):
    return stuck_task_sweep_sensor(build_sensor_context(instance=instance, resources={"ledger": ledger_resource}))


def queued_task(ledger, payload):
    task, _ = submit_task(ledger, "decomposition", payload)
    ledger.claim_pending(limit=1)
    return ledger.get(task.id)


def run_for(instance, ledger, task, **tags):
    return instance.create_run_for_job(
        job_def=task_decomposition, run_config=run_config_for(task.id), tags={**task_tags(task), **tags}
    )


def running_for_an_hour(ledger, task_id, run_id):
    """The ledger as a run worker that died before its ops could report leaves it, an hour ago."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.tasks SET status = 'RUNNING', run_id = :run, "
                "updated_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": task_id, "run": run_id},
        )


def test_it_checks_the_ledger_every_ten_minutes_by_default():
    assert stuck_task_sweep_sensor.minimum_interval_seconds == 600


def test_it_skips_with_nothing_stale_when_every_task_is_recent(instance, ledger, ledger_resource, sample_payload):
    queued_task(ledger, sample_payload)
    result = tick(instance, ledger_resource)
    assert isinstance(result, SkipReason)
    assert result.skip_message.startswith("nothing stale")


def test_a_task_whose_run_is_still_going_after_an_hour_is_not_stale(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    run = run_for(instance, ledger, task)
    running_for_an_hour(ledger, task.id, run.run_id)
    try:
        result = tick(instance, ledger_resource)
    finally:
        instance.delete_run(run.run_id)
    assert isinstance(result, SkipReason)
    assert result.skip_message.startswith("nothing stale")


def test_a_task_whose_run_ended_unseen_gets_one_sweep_run(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    # A run Dagster retries is not stale until its retry ends (test_crash_retry_outcome.py); this one it does not.
    run = run_for(instance, ledger, task, **{"dagster/max_retries": "0"})
    instance.report_run_failed(run)
    running_for_an_hour(ledger, task.id, run.run_id)
    result = tick(instance, ledger_resource)
    assert isinstance(result, RunRequest)
    assert result.tags["orbit/stale_tasks"] == "1"


def test_a_task_whose_run_no_longer_exists_gets_a_sweep_run(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    running_for_an_hour(ledger, task.id, "a-run-that-was-purged")
    assert isinstance(tick(instance, ledger_resource), RunRequest)


def test_the_requested_run_settles_the_stale_task(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    run = run_for(instance, ledger, task)
    instance.report_run_canceled(run)
    running_for_an_hour(ledger, task.id, run.run_id)
    request = tick(instance, ledger_resource)
    assert execute_job(recon_job("housekeeping"), instance=instance, run_config=request.run_config).success
    assert ledger.get(task.id).status == TaskStatus.CANCELED
    assert isinstance(tick(instance, ledger_resource), SkipReason), "once settled, nothing is stale"


def test_no_second_sweep_is_requested_while_one_is_queued(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    running_for_an_hour(ledger, task.id, "a-run-that-was-purged")
    waiting = instance.create_run_for_job(job_def=housekeeping)
    try:
        result = tick(instance, ledger_resource)
    finally:
        instance.delete_run(waiting.run_id)
    assert isinstance(result, SkipReason)
    assert "already queued or running" in result.skip_message


def test_a_task_waiting_for_a_person_for_a_day_is_not_stale(instance, ledger, ledger_resource, sample_payload):
    task = queued_task(ledger, sample_payload)
    run = run_for(instance, ledger, task, **{"dagster/max_retries": "0"})
    instance.report_run_failed(run)  # the run that parked it ended long ago
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.tasks SET status = 'WAITING_MANUAL', run_id = :run, "
                "updated_at = now() - interval '1 day' WHERE id = :id"
            ),
            {"id": task.id, "run": run.run_id},
        )
    result = tick(instance, ledger_resource)
    assert isinstance(result, SkipReason) and result.skip_message.startswith("nothing stale")
    assert ledger.get(task.id).status == TaskStatus.WAITING_MANUAL

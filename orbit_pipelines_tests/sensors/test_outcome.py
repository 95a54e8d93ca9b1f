"""Outcome reconciliation: run-status sensors and the stuck-task sweep settle what ops could not."""

from dagster import DagsterEventType, build_run_status_sensor_context, execute_job
from sqlalchemy import text

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines.sensors.outcome import task_canceled_sensor, task_failure_sensor, task_success_sensor
from orbit_pipelines_tests.support import recon_job, run_config_for


def finished_run(instance, ledger, payload):
    task, _ = ledger.submit("decomposition", payload)
    ledger.claim_pending(limit=1)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=run_config_for(task.id),
        tags=task_tags(ledger.get(task.id)),
        raise_on_error=False,
    )
    return task, result.run_id


def pretend_still_running(ledger, task_id, run_id):
    """What the ledger looks like when the run worker died before its ops could report."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.tasks SET status = 'RUNNING', run_id = :run, error_class = NULL, "
                "error_message = NULL, error_step = NULL, updated_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": task_id, "run": run_id},
        )


def sensor_context(instance, ledger_resource, run_id, event_type):
    event = instance.get_records_for_run(run_id, of_type=event_type).records[-1].event_log_entry.dagster_event
    return build_run_status_sensor_context(
        sensor_name="test",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run_id),
        resources={"ledger": ledger_resource},
    )


def test_the_failure_sensor_records_class_message_and_step(instance, ledger, ledger_resource):
    task, run_id = finished_run(instance, ledger, {"description": "no title"})
    pretend_still_running(ledger, task.id, run_id)
    context = sensor_context(instance, ledger_resource, run_id, DagsterEventType.RUN_FAILURE).for_run_failure()
    task_failure_sensor(context)
    failed = ledger.get(task.id)
    assert failed.status == TaskStatus.FAILED
    assert (failed.error_class, failed.error_step) == ("InvalidPayload", "load_task")
    assert "title: Field required" in failed.error_message


def test_the_success_sensor_completes_a_task_its_run_finished(instance, ledger, ledger_resource, sample_payload):
    task, run_id = finished_run(instance, ledger, sample_payload)
    pretend_still_running(ledger, task.id, run_id)
    task_success_sensor(sensor_context(instance, ledger_resource, run_id, DagsterEventType.RUN_SUCCESS))
    assert ledger.get(task.id).status == TaskStatus.COMPLETED


def test_the_canceled_sensor_cancels_the_task(instance, ledger, ledger_resource, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.claim_pending(limit=1)
    from orbit_pipelines.jobs.task_decomposition.job import task_decomposition

    run = instance.create_run_for_job(
        job_def=task_decomposition, run_config=run_config_for(task.id), tags=task_tags(ledger.get(task.id))
    )
    instance.report_run_canceled(run)
    task_canceled_sensor(sensor_context(instance, ledger_resource, run.run_id, DagsterEventType.RUN_CANCELED))
    assert ledger.get(task.id).status == TaskStatus.CANCELED


def test_an_outcome_for_a_run_that_is_not_the_tasks_current_one_changes_nothing(
    instance, ledger, ledger_resource, sample_payload
):
    task, run_id = finished_run(instance, ledger, {"description": "no title"})
    pretend_still_running(ledger, task.id, "a-newer-run")
    result = task_failure_sensor(
        sensor_context(instance, ledger_resource, run_id, DagsterEventType.RUN_FAILURE).for_run_failure()
    )
    assert "no longer the current run" in result.skip_message
    assert ledger.get(task.id).status == TaskStatus.RUNNING


def sweep(instance):
    return execute_job(
        recon_job("housekeeping"),
        instance=instance,
        run_config={"ops": {"sweep_stuck_tasks": {"config": {"older_than_seconds": 60}}}},
    )


def test_the_sweep_settles_a_task_whose_run_finished_unseen(instance, ledger, sample_payload):
    task, run_id = finished_run(instance, ledger, sample_payload)
    pretend_still_running(ledger, task.id, run_id)
    assert sweep(instance).success
    assert ledger.get(task.id).status == TaskStatus.COMPLETED


def test_the_sweep_fails_a_task_whose_run_no_longer_exists(instance, ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.claim_pending(limit=1)
    pretend_still_running(ledger, task.id, "run-that-was-purged")
    sweep(instance)
    lost = ledger.get(task.id)
    assert (lost.status, lost.error_class) == (TaskStatus.FAILED, "RunLost")
    assert "run-that-was-purged no longer exists" in lost.error_message


def test_the_sweep_leaves_recent_and_healthy_tasks_alone(instance, ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.claim_pending(limit=1)
    sweep(instance)
    assert ledger.get(task.id).status == TaskStatus.QUEUED

"""The pause gate between steps (runtime/pause_gate.py), on the Postgres-backed instance: a pause asked for
while a step runs lets that step finish, no later step starts, the run's tasks are PAUSED, and a
re-execution of the remaining steps finishes the work from the stored output."""

import os

import pytest
from dagster import DagsterEventType, Definitions, EnvVar, ReexecutionOptions, execute_job, op, reconstructable

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.pauses import pause_request, request_pause
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.jobs import task_job
from orbit_pipelines.runtime.lifecycle import start_items

KIND = "pause_gate_test"


def _ledger() -> Ledger:
    return Ledger(get_engine(os.environ["DAGSTER_PG_URL"]))


@op
def first_step(context) -> list[int]:
    """Starts the run's task, and an operator asks for a pause while it is still working."""
    led = _ledger()
    task_id = int(context.run.tags["test/task_id"])
    start_items(context, led, led.get_many([task_id]))
    request_pause(led, context.run_id, "ana")
    return [task_id]


@op
def second_step(task_ids: list[int]) -> list[int]:
    return task_ids


@op
def last_step(context, task_ids: list[int]) -> None:
    led = _ledger()
    for task_id in task_ids:
        led.move_along(task_id, TaskStatus.COMPLETED, run_id=context.run_id, only_if_current_run=False)


@task_job(KIND, "Three steps, the first of which asks for a pause.")
def three_steps():
    last_step(second_step(first_step()))


def three_steps_with_ledger():
    """The job with the ledger its failure hook needs, as Definitions gives it to every job."""
    return Definitions(
        jobs=[three_steps], resources={"ledger": LedgerResource(database_url=EnvVar("DAGSTER_PG_URL"))}
    ).get_job_def("three_steps")


def step_starts(instance, run_id) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return [r.event_log_entry.step_key for r in records]


@pytest.fixture
def paused_run(instance, ledger):
    task, _ = ledger.submit(KIND, {"title": "pause me"})
    result = execute_job(
        reconstructable(three_steps_with_ledger), instance=instance, tags={"test/task_id": str(task.id)}
    )
    return task.id, result


def test_the_step_running_when_a_pause_is_asked_finishes_and_the_next_never_starts(instance, paused_run):
    _, result = paused_run
    assert result.success
    assert step_starts(instance, result.run_id) == ["first_step"]
    assert [e.step_key for e in result.all_events if e.is_step_success] == ["first_step"]


def test_a_paused_run_leaves_its_task_paused_saying_after_which_step_and_who_asked(instance, ledger, paused_run):
    task_id, result = paused_run
    assert ledger.get(task_id).status == TaskStatus.PAUSED
    assert ledger.events(task_id)[-1]["note"] == "paused after first_step by ana"
    assert pause_request(ledger, result.run_id).paused_after == "first_step"
    said = [r.event_log_entry.user_message for r in instance.get_records_for_run(result.run_id).records]
    assert any("paused after first_step at the request of ana" in m for m in said)


def test_each_completed_step_is_a_checkpoint_in_its_tasks_history(ledger, paused_run):
    task_id, result = paused_run
    notes = [e["note"] for e in ledger.events(task_id) if e["run_id"] == result.run_id]
    assert [n for n in notes if n.startswith("checkpoint ")] == [
        'checkpoint first_step: Handled output "result" using IO manager "io_manager"'
    ]


def test_resuming_runs_only_the_remaining_steps_from_the_stored_output(instance, ledger, paused_run):
    task_id, result = paused_run
    ledger.transition(task_id, TaskStatus.QUEUED, note="resumed")
    resumed = execute_job(
        reconstructable(three_steps_with_ledger),
        instance=instance,
        reexecution_options=ReexecutionOptions(result.run_id, step_selection=["second_step", "last_step"]),
    )
    assert resumed.success
    assert step_starts(instance, resumed.run_id) == ["second_step", "last_step"]
    assert ledger.get(task_id).status == TaskStatus.COMPLETED


def test_the_outcome_sensor_leaves_a_paused_task_parked_when_its_run_succeeds(instance, ledger, paused_run):
    from dagster import build_run_status_sensor_context

    from orbit_pipelines.sensors.outcome import task_success_sensor

    task_id, result = paused_run
    event = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_SUCCESS).records[-1]
    task_success_sensor(
        build_run_status_sensor_context(
            sensor_name="test",
            dagster_event=event.event_log_entry.dagster_event,
            dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            resources={"ledger": LedgerResource(database_url=os.environ["DAGSTER_PG_URL"])},
        )
    )
    assert ledger.get(task_id).status == TaskStatus.PAUSED


def test_a_paused_task_can_be_canceled_with_no_run_to_stop(ledger, paused_run):
    from orbit_pipelines.run_control import cancel

    task_id, _ = paused_run
    done = cancel(ledger, None, str(task_id))  # no webserver is asked: no run is working on the task
    assert (done.run_id, done.when) == (None, "while paused")
    assert ledger.get(task_id).status == TaskStatus.CANCELED


@op
def starts_the_task(context) -> list[int]:
    led = _ledger()
    task_id = int(context.run.tags["test/task_id"])
    start_items(context, led, led.get_many([task_id]))
    return [task_id]


@op
def breaks(task_ids: list[int]) -> None:
    raise ValueError("the disk is full")


@task_job(KIND, "Two steps, the second of which fails.")
def fails_in_its_second_step():
    breaks(starts_the_task())


def fails_in_its_second_step_with_ledger():
    return Definitions(
        jobs=[fails_in_its_second_step], resources={"ledger": LedgerResource(database_url=EnvVar("DAGSTER_PG_URL"))}
    ).get_job_def("fails_in_its_second_step")


def test_a_failed_step_is_a_fact_in_its_tasks_history_after_the_checkpoints_before_it(instance, ledger):
    from sqlalchemy import text

    task, _ = ledger.submit(KIND, {"title": "break me"})
    result = execute_job(
        reconstructable(fails_in_its_second_step_with_ledger),
        instance=instance,
        tags={"test/task_id": str(task.id)},
        raise_on_error=False,
    )
    assert not result.success
    with ledger.engine.connect() as conn:
        facts = conn.execute(
            text(
                "SELECT event, step, note FROM orbit.task_events WHERE task_id = :id AND event IS NOT NULL ORDER BY id"
            ),
            {"id": task.id},
        ).all()
    assert [(f.event, f.step) for f in facts] == [("checkpoint", "starts_the_task"), ("step_failed", "breaks")]
    assert facts[-1].note.startswith("step breaks failed: ") and "the disk is full" in facts[-1].note

"""A running task's phase: its kind's name for the step its run is executing, moved by the phase sensor
from Dagster's step-start events. Real runs on the Postgres-backed instance and the real ledger; the live
stack's daemon doing the same is in live/test_phases.py."""

import json
from datetime import datetime, timedelta, timezone

import pytest
from dagster import build_sensor_context, execute_job
from sqlalchemy import text

from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.observability.webhooks.cursor import IdCursor
from orbit_pipelines.observability.webhooks.events import events_for_change
from orbit_pipelines.observability.webhooks.outbox import Outbox
from orbit_pipelines.reports import task_lines, task_report_json, task_report_markdown
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines.sensors.phases import task_phase_sensor
from orbit_pipelines_tests.support import recon_job, run_config_for

DECOMPOSITION_PHASES = ["LOADING", "DECOMPOSING", "ENRICHING", "GENERATING_PROMPTS", "STORING"]


def tick(instance, ledger_resource, cursor=None):
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"ledger": ledger_resource})
    task_phase_sensor(context)
    return context.cursor


def phases_entered(ledger, task_id) -> list[str]:
    with ledger.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT phase FROM orbit.task_events WHERE task_id = :id AND phase IS NOT NULL ORDER BY id"),
                {"id": task_id},
            ).scalars()
        )


def still_running(ledger, task_id, run_id) -> None:
    """The task as the daemon's sensor sees it while the run goes on (here the run is over before the tick)."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.tasks SET status = 'RUNNING', run_id = :run, phase = NULL, phase_at = NULL WHERE id = :id"
            ),
            {"id": task_id, "run": run_id},
        )


@pytest.fixture
def decomposition_run(instance, ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", sample_payload)
    ledger.claim_pending(limit=10)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=run_config_for(task.id),
        tags=task_tags(ledger.get(task.id)),
        raise_on_error=False,
    )
    assert result.success
    return task.id, result.run_id


def test_a_decomposition_task_enters_each_phase_of_its_run_in_order(
    instance, ledger, ledger_resource, decomposition_run
):
    task_id, run_id = decomposition_run
    still_running(ledger, task_id, run_id)
    cursor = tick(instance, ledger_resource)
    assert phases_entered(ledger, task_id) == DECOMPOSITION_PHASES
    assert ledger.get(task_id).phase == "STORING"
    tick(instance, ledger_resource, cursor)
    tick(instance, ledger_resource)  # a tick replayed from the start (its cursor lost) changes nothing
    assert phases_entered(ledger, task_id) == DECOMPOSITION_PHASES


def test_step_starts_read_after_the_task_has_completed_still_make_its_history(
    instance, ledger, ledger_resource, decomposition_run
):
    task_id, _ = decomposition_run
    tick(instance, ledger_resource)  # the run is over: its last step completed the task before this tick
    assert ledger.get(task_id).status == TaskStatus.COMPLETED
    assert phases_entered(ledger, task_id) == DECOMPOSITION_PHASES
    assert ledger.get(task_id).phase == "STORING"


def test_a_task_that_ended_before_a_step_started_does_not_enter_its_phase(ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "failed before storing"})
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id="run-3")
    ledger.move_along(task.id, TaskStatus.FAILED, run_id="run-3", error=("Refused", "bad input", "decompose_task"))
    later = datetime.now(timezone.utc) + timedelta(seconds=5)
    assert ledger.enter_phase("run-3", "STORING", later) == []
    assert phases_entered(ledger, task.id) == []


def test_an_older_step_start_does_not_move_a_task_back(ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "phases out of order"})
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id="run-1")
    now = datetime.now(timezone.utc)
    assert ledger.enter_phase("run-1", "STORING", now) == [task.id]
    assert ledger.enter_phase("run-1", "DECOMPOSING", now - timedelta(seconds=5)) == []
    assert ledger.enter_phase("run-1", "STORING", now + timedelta(seconds=1)) == [], "already in it"
    assert ledger.get(task.id).phase == "STORING"
    assert phases_entered(ledger, task.id) == ["STORING"]


def test_the_phase_shows_in_task_list_and_show_and_goes_to_webhook_receivers(ledger, sample_payload):
    task, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "phase shown"})
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id="run-2")
    ledger.enter_phase("run-2", "ENRICHING", datetime.now(timezone.utc))
    shown = ledger.get(task.id)
    assert "RUNNING (ENRICHING)" in task_lines([shown])[0]
    assert "status: **RUNNING (ENRICHING)**" in task_report_markdown(ledger, task.id)
    assert json.loads(task_report_json(ledger, task.id))["task"]["phase"] == "ENRICHING"
    events = [e for row in Outbox(ledger.engine).changes(IdCursor(), 100) for e in events_for_change(row)]
    phase_events = [e for e in events if e.type == "task.phase_started"]
    assert [(e.task.id, e.phase, e.run_id) for e in phase_events] == [(task.id, "ENRICHING", "run-2")]


@pytest.mark.parametrize("kind", sorted(all_kinds()))
def test_every_phase_a_kind_names_is_a_step_of_its_job(kind):
    job_kind = all_kinds()[kind]
    steps = {node.name for node in job_kind.job.graph.nodes}
    assert job_kind.phases, f"{kind} names no phases"
    assert set(job_kind.phases) <= steps, f"{kind}: phases name steps its job does not have"

"""A running task's phase where an operator and a receiver see it: `orbit task show` and `orbit task list`
print it while the run is in that step, and the webhook receiver gets task.phase_started for each phase,
on the live stack (its daemon ticks the phase sensor)."""

import time

import pytest

from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.observability.webhooks.events import WebhookEvent
from orbit_pipelines_tests.live.stack import finished, orbit, task_ids_of, wait_for

pytestmark = pytest.mark.services


def test_a_document_being_extracted_shows_its_phase_and_each_phase_is_sent_to_webhooks(stack, emulator, tmp_path):
    # Every Veryfi call answers after 12 s: the batch is in EXTRACTING for a few of the daemon's 5 s loops.
    emulator.faults.latency = 12.0
    (path,) = write_unique_sample_set(tmp_path / "docs", 1, salt=f"phases {time.time_ns()}")
    orbit(stack, "doc", "submit", str(path))
    (task_id,) = task_ids_of(stack, [path])
    wait_for(
        lambda: "RUNNING (EXTRACTING)" in orbit(stack, "task", "show", str(task_id)).stdout,
        90,
        f"`orbit task show {task_id}` to say RUNNING (EXTRACTING)",
        stack.logs,
    )
    listed = orbit(stack, "task", "list", "--kind", "document").stdout
    assert any(line.split()[0] == str(task_id) and "RUNNING (EXTRACTING)" in line for line in listed.splitlines())
    emulator.faults.latency = 0.0
    assert finished(stack, task_id, timeout=120).status.value == "COMPLETED"

    def phases_sent():
        events = [WebhookEvent.model_validate_json(r["raw"]) for r in stack.webhooks.received]
        return [e.phase for e in events if e.task.id == task_id and e.type == "task.phase_started"]

    # The document is stored and completed as its answer arrives, inside EXTRACTING: it never enters STORING.
    wait_for(lambda: "EXTRACTING" in phases_sent(), 60, "task.phase_started EXTRACTING at the receiver", stack.logs)
    sent = phases_sent()
    # LOADING too, unless the sensor ticked in the instant between the run's first step starting and the
    # task being claimed by it; the phases that do work are always told, in order.
    assert [p for p in sent if p != "LOADING"] == ["EXTRACTING"]

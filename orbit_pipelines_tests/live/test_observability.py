"""What integrators see of the live stack: the daemon's webhook sensor tells a receiver about a task
the dispatch sensor ran."""

import hashlib
import hmac

import pytest

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.observability.webhooks.events import WebhookEvent
from orbit_pipelines_tests.live.stack import WEBHOOK_SECRET, finished, orbit, wait_for

pytestmark = pytest.mark.services


def events_of(stack, task_id):
    found = []
    for request in stack.webhooks.delivered():
        timestamp = request["headers"]["Orbit-Timestamp"].encode()
        expected = hmac.new(WEBHOOK_SECRET.encode(), timestamp + b"." + request["raw"], hashlib.sha256).hexdigest()
        assert request["headers"]["Orbit-Signature"] == f"sha256={expected}"
        event = WebhookEvent.model_validate_json(request["raw"])
        if event.task.id == task_id:
            found.append(event)
    return found


def test_a_task_run_by_the_daemon_is_told_to_the_webhook_receiver(stack):
    task_id = int(orbit(stack, "task", "submit", "--sample").stdout.split()[2])
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    wait_for(
        lambda: any(e.type == "task.step_completed" and e.step == "store_results" for e in events_of(stack, task_id)),
        60,
        "the last step's event",
        stack.logs,
    )
    events = events_of(stack, task_id)
    # Phases entered are events too (task.phase_started, live/test_phases.py); here the status and step events.
    assert [e.type for e in events if e.type != "task.phase_started"][:2] == ["task.queued", "task.started"]
    assert [e.step for e in events if e.type == "task.step_completed"] == [
        "load_task",
        "decompose_task",
        "enrich_subtasks",
        "generate_prompts",
        "store_results",
    ]
    assert [e.type for e in events].count("task.completed") == 1
    assert len({e.id for e in events}) == len(events), "no event delivered twice"

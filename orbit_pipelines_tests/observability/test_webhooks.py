"""Task events reach other systems: the webhook sensor against the real ledger, a real run on the
Postgres-backed instance, and a local HTTP receiver (up, failing, down and back)."""

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest
from dagster import build_sensor_context

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.observability.webhooks.delivery import deliver_due
from orbit_pipelines.observability.webhooks.events import WebhookEvent
from orbit_pipelines.observability.webhooks.outbox import Outbox
from orbit_pipelines.resources.webhooks import WebhookResource, parse_urls
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.sensors.webhooks import webhook_delivery_sensor
from orbit_pipelines_tests.support import MessageReceiver

SECRET = "receiver-shared-secret"


class Sensor:
    """Ticks the sensor like the daemon does, keeping its cursor between ticks."""

    def __init__(self, instance, ledger_resource, urls):
        self.instance, self.ledger_resource, self.urls, self.cursor = instance, ledger_resource, urls, None
        self.tick()  # the first tick looks back 10 minutes: the ledger is emptied for each test

    def tick(self):
        context = build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            resources={
                "ledger": self.ledger_resource,
                "webhooks": WebhookResource(urls=",".join(self.urls), secret=SECRET),
            },
        )
        result = webhook_delivery_sensor(context)
        self.cursor = context.cursor
        return result


def verified(request) -> WebhookEvent:
    """What a receiver does: check the signature over "<timestamp>.<raw body>", then parse the body."""
    timestamp = request["headers"]["Orbit-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + request["raw"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"]["Orbit-Signature"], f"sha256={expected}")
    event = WebhookEvent.model_validate_json(request["raw"])
    assert request["headers"]["Orbit-Event-Id"] == request["idempotency_key"] == event.id
    return event


def dispatched(ledger, payload):
    task, _ = submit_task(ledger, "decomposition", payload)
    ledger.claim_pending(limit=10)
    return task


def test_a_task_run_is_told_as_signed_events_in_order(instance, ledger, ledger_resource, receiver, sample_payload):
    from dagster import execute_job

    from orbit_pipelines.runtime.tags import task_tags
    from orbit_pipelines_tests.support import recon_job, run_config_for

    sensor = Sensor(instance, ledger_resource, [receiver.url("/events")])
    task = dispatched(ledger, sample_payload)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=run_config_for(task.id),
        tags=task_tags(ledger.get(task.id)),
        raise_on_error=False,
    )
    assert result.success
    sensor.tick()
    events = [verified(r) for r in receiver.delivered()]
    assert [(e.type, e.step) for e in events] == [
        ("task.queued", None),
        ("task.started", None),
        ("task.step_completed", "load_task"),
        ("task.step_completed", "decompose_task"),
        ("task.step_completed", "enrich_subtasks"),
        ("task.step_completed", "generate_prompts"),
        ("task.completed", None),
        ("task.step_completed", "store_results"),
    ]
    assert {e.task.id for e in events} == {task.id}
    assert events[-2].run_id == result.run_id and events[-2].task.kind == "decomposition"
    assert [r["path"] for r in receiver.delivered()] == ["/events"] * len(events)


def test_a_failed_task_is_announced_with_its_error_and_as_a_new_dead_letter(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    sensor = Sensor(instance, ledger_resource, [receiver.url()])
    task = dispatched(ledger, sample_payload)
    ledger.move_along(task.id, TaskStatus.RUNNING, run_id="run-1")
    ledger.move_along(
        task.id, TaskStatus.FAILED, run_id="run-1", error=("InvalidPlan", "no TESTING subtask", "decompose_task")
    )
    sensor.tick()
    events = [verified(r) for r in receiver.delivered()]
    assert [e.type for e in events] == ["task.queued", "task.started", "task.failed", "dlq.added"]
    failed = events[2]
    assert (failed.error.error_class, failed.error.message, failed.error.step) == (
        "InvalidPlan",
        "no TESTING subtask",
        "decompose_task",
    )
    assert "re-execute from decompose_task" in failed.error.remediation
    assert events[3].task.status == "FAILED" and events[3].id != failed.id


def test_every_receiver_gets_every_event(instance, ledger, ledger_resource, receiver, sample_payload):
    sensor = Sensor(instance, ledger_resource, [receiver.url("/a"), receiver.url("/b")])
    dispatched(ledger, sample_payload)
    sensor.tick()
    assert sorted(r["path"] for r in receiver.delivered()) == ["/a", "/b"]


def test_a_receiver_that_is_down_gets_every_event_once_back_in_order_and_once(
    instance, ledger, ledger_resource, sample_payload
):
    down = MessageReceiver()
    port = down.port
    down.stop()
    sensor = Sensor(instance, ledger_resource, [f"http://127.0.0.1:{port}/hook"])
    first, second = dispatched(ledger, sample_payload), dispatched(ledger, {**sample_payload, "title": "Other"})
    for task in (first, second):
        ledger.move_along(task.id, TaskStatus.COMPLETED, run_id=f"run-{task.id}")
    assert "1 receiver(s) unreachable" in sensor.tick().skip_message
    outbox = Outbox(ledger.engine)
    log = outbox.log()
    assert len(log) == 6 and {d["status"] for d in log} == {"pending"}
    assert sum(d["attempts"] for d in log) == 1, "an unreachable receiver is tried once per tick"
    assert "ConnectionError" in next(d["last_error"] for d in log if d["attempts"])

    back = MessageReceiver(port=port)
    try:
        # The task not tried yet goes first; the receiver answering releases the other from its backoff.
        assert sensor.tick().skip_message.endswith("3 delivered, 0 failed attempt(s)")
        assert sensor.tick().skip_message.endswith("3 delivered, 0 failed attempt(s)")
        per_task = {}
        for request in back.delivered():
            event = verified(request)
            per_task.setdefault(event.task.id, []).append(event.type)
        assert per_task == {t.id: ["task.queued", "task.started", "task.completed"] for t in (first, second)}
        sensor.tick()
        assert len(back.received) == 6, "nothing is sent again after a 2xx"
        assert {d["status"] for d in outbox.log()} == {"delivered"}
    finally:
        back.stop()


def test_a_refusing_receiver_is_retried_with_growing_backoff_and_given_up_after_a_day(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    sensor = Sensor(instance, ledger_resource, [receiver.url()])
    dispatched(ledger, sample_payload)
    receiver.answers.extend([(503, {})] * 3)
    before = datetime.now(timezone.utc)
    sensor.tick()
    after = datetime.now(timezone.utc)
    outbox = Outbox(ledger.engine)
    (entry,) = outbox.log()
    assert (entry["attempts"], entry["last_status"], entry["status"]) == (1, 503, "pending")
    assert "HTTP 503" in entry["last_error"]
    # The first backoff (5 s) counts from the attempt, made somewhere between `before` and `after`
    # however slow this machine is: these bounds hold whatever the tick took.
    assert entry["next_attempt_at"] - before >= timedelta(seconds=5)
    assert entry["next_attempt_at"] - after <= timedelta(seconds=5)
    deliver_due(outbox, SECRET, entry["next_attempt_at"])
    (entry,) = outbox.log()
    assert entry["attempts"] == 2

    deliver_due(outbox, SECRET, datetime.now(timezone.utc) + timedelta(hours=25))
    (entry,) = outbox.log()
    assert (entry["status"], entry["attempts"]) == ("failed", 3)
    assert outbox.retry(datetime.now(timezone.utc), all_failed=True) == 1
    sensor.tick()
    assert outbox.log()[0]["status"] == "delivered"
    assert len(receiver.delivered()) == 1


def test_without_receivers_nothing_is_logged_and_the_past_is_not_replayed_later(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    quiet = Sensor(instance, ledger_resource, [])
    dispatched(ledger, sample_payload)
    assert "set ORBIT_WEBHOOK_URL" in quiet.tick().skip_message
    quiet.urls = [receiver.url()]
    quiet.tick()
    assert Outbox(ledger.engine).log() == [] and receiver.received == []
    dispatched(ledger, {**sample_payload, "title": "After"})
    quiet.tick()
    assert [verified(r).type for r in receiver.delivered()] == ["task.queued"]


def test_a_change_committed_after_a_later_one_is_still_sent(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    from sqlalchemy import text

    sensor = Sensor(instance, ledger_resource, [receiver.url()])
    late, _ = submit_task(ledger, "decomposition", sample_payload)
    early, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "Early"})
    with ledger.engine.connect() as slow:
        slow.begin()  # takes an event id now, commits only after a later change has been read
        slow.execute(
            text("INSERT INTO orbit.task_events (task_id, from_status, to_status) VALUES (:id, 'PENDING', 'QUEUED')"),
            {"id": late.id},
        )
        ledger.transition(early.id, TaskStatus.CANCELED)
        sensor.tick()
        assert [(verified(r).type, verified(r).task.id) for r in receiver.delivered()] == [("task.canceled", early.id)]
        slow.commit()
    sensor.tick()
    assert [(verified(r).type, verified(r).task.id) for r in receiver.delivered()] == [
        ("task.canceled", early.id),
        ("task.queued", late.id),
    ]


@pytest.mark.parametrize("raw", ["ftp://example.com/hook", "not a url", "http:///path"])
def test_a_bad_receiver_url_is_refused_naming_the_variable(raw):
    with pytest.raises(ValueError, match="ORBIT_WEBHOOK_URL"):
        parse_urls(raw)


def test_several_receivers_are_separated_by_commas_or_spaces():
    assert parse_urls(" https://a.example/h, http://b.example:8080/x  https://c.example ") == (
        "https://a.example/h",
        "http://b.example:8080/x",
        "https://c.example",
    )


def test_the_delivery_log_shows_each_attempt_and_given_up_deliveries_can_be_sent_again(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    from click.testing import CliRunner

    from orbit_pipelines.cli import main

    sensor = Sensor(instance, ledger_resource, [receiver.url("/in")])
    task = dispatched(ledger, sample_payload)
    receiver.answers.append((500, {}))
    sensor.tick()
    shown = CliRunner().invoke(main, ["webhooks", "log", "--task", str(task.id)]).output
    assert f"task.queued          task {task.id}" in shown
    assert "pending   attempts 1" in shown and receiver.url("/in") in shown and "last: HTTP 500" in shown
    receiver.answers.append((500, {}))
    deliver_due(Outbox(ledger.engine), SECRET, datetime.now(timezone.utc) + timedelta(days=2))  # still refused
    assert "given up" in CliRunner().invoke(main, ["webhooks", "log", "--status", "failed"]).output
    assert "1 delivery(ies) will be sent" in CliRunner().invoke(main, ["webhooks", "retry", "--failed"]).output
    sensor.tick()
    assert "delivered" in CliRunner().invoke(main, ["webhooks", "log"]).output
    assert [verified(r).type for r in receiver.delivered()] == ["task.queued"]


def test_an_id_that_never_commits_is_looked_for_only_for_a_while():
    from orbit_pipelines.observability.webhooks.cursor import GAP_WAIT_SECONDS, IdCursor, WebhookCursor

    cursor = IdCursor(10).advance([11, 13, 14], now=1000.0)
    assert (cursor.last_id, cursor.gaps) == (14, {12: 1000.0})
    assert cursor.advance([], now=1000.0 + GAP_WAIT_SECONDS - 1).gaps == {12: 1000.0}
    assert cursor.advance([], now=1000.0 + GAP_WAIT_SECONDS).gaps == {}
    assert cursor.advance([12], now=1001.0) == IdCursor(14, {})
    saved = WebhookCursor(cursor, dagster=77)
    assert WebhookCursor.loads(saved.dumps()) == saved


def test_the_first_tick_ever_tells_the_last_ten_minutes_and_nothing_older(
    instance, ledger, ledger_resource, receiver, sample_payload
):
    from sqlalchemy import text

    old = dispatched(ledger, sample_payload)
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE orbit.task_events SET at = now() - interval '20 minutes' WHERE task_id = :id"), {"id": old.id}
        )
    recent = dispatched(ledger, {**sample_payload, "title": "While the daemon was starting"})
    Sensor(instance, ledger_resource, [receiver.url()])
    assert [(verified(r).type, verified(r).task.id) for r in receiver.delivered()] == [("task.queued", recent.id)]

"""The webhook sensor: new ledger changes and step successes become deliveries, then due deliveries
are POSTed. The outbox is the ledger's task_events table (written in the same transaction as each
change), so no event is lost when a process dies; delivery happens here, never inside a run."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    EventRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from orbit_pipelines.observability.webhooks.cursor import IdCursor, WebhookCursor
from orbit_pipelines.observability.webhooks.delivery import deliver_due
from orbit_pipelines.observability.webhooks.events import (
    WebhookEvent,
    events_for_change,
    step_completed,
    step_concerns_task,
)
from orbit_pipelines.observability.webhooks.outbox import Outbox
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.webhooks import WebhookResource
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP

# Read per tick; the rest waits for the next tick (every 5 s). A step of a batch run is one event per
# document, so step records are read until EVENTS_PER_TICK events are made.
CHANGES_PER_TICK = 1000
STEP_RECORDS_PER_TICK = 500
EVENTS_PER_TICK = 3000
FIRST_TICK_LOOKBACK_SECONDS = 600


def _head(context: SensorEvaluationContext, outbox: Outbox) -> WebhookCursor:
    newest_record = context.instance.event_log_storage.get_maximum_record_id() or 0
    return WebhookCursor(IdCursor(outbox.newest_change_id()), newest_record)


def _recent(context: SensorEvaluationContext, outbox: Outbox) -> WebhookCursor:
    """Where a sensor that has never ticked starts: FIRST_TICK_LOOKBACK_SECONDS back, so the tasks that
    ran while the daemon was starting are told, and an existing history is not replayed."""
    older = context.instance.event_log_storage.get_event_records(
        EventRecordsFilter(
            event_type=DagsterEventType.STEP_SUCCESS, before_timestamp=time.time() - FIRST_TICK_LOOKBACK_SECONDS
        ),
        limit=1,
        ascending=False,
    )
    return WebhookCursor(
        IdCursor(outbox.last_change_id_before(FIRST_TICK_LOOKBACK_SECONDS)), older[0].storage_id if older else 0
    )


def collect_events(
    context: SensorEvaluationContext, outbox: Outbox, cursor: WebhookCursor, now: float
) -> tuple[list[WebhookEvent], WebhookCursor]:
    """New events from both sources, merged in time order (a task's events reach receivers in order)."""
    changes = outbox.changes(cursor.ledger, CHANGES_PER_TICK)
    events = [e for row in changes for e in events_for_change(row)]
    records = context.instance.event_log_storage.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.STEP_SUCCESS, after_cursor=cursor.dagster),
        limit=STEP_RECORDS_PER_TICK,
        ascending=True,
    )
    tasks = outbox.tasks_of_runs(sorted({r.event_log_entry.run_id for r in records}))
    last_record = cursor.dagster
    for record in records:
        if len(events) >= EVENTS_PER_TICK:
            break
        entry = record.event_log_entry
        at = datetime.fromtimestamp(entry.timestamp, tz=timezone.utc)
        for task in tasks.get(entry.run_id, []):
            # Always true (a STEP_SUCCESS event names its step); the check narrows step_key to str.
            if entry.step_key is not None and step_concerns_task(task, entry.run_id, at):
                events.append(step_completed(task, entry.run_id, entry.step_key, at, record.storage_id))
        last_record = record.storage_id
    events.sort(key=lambda e: e.occurred_at)
    return events, WebhookCursor(cursor.ledger.advance((r["id"] for r in changes), now), last_record)


@sensor(
    name="webhook_delivery_sensor",
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Sends task events (task.queued/started/phase_started/step_completed/completed/failed/canceled, "
    "dlq.added) "
    "to ORBIT_WEBHOOK_URL, signed, with retries; `orbit webhooks log` shows the deliveries.",
)
def webhook_delivery_sensor(context: SensorEvaluationContext, ledger: LedgerResource, webhooks: WebhookResource):
    urls = webhooks.receivers()
    outbox = Outbox(ledger.get().engine)
    if not urls:
        # Follow the newest events: receivers configured later get what happens from then on, not
        # the whole history.
        context.update_cursor(_head(context, outbox).dumps())
        return SkipReason("no receivers: set ORBIT_WEBHOOK_URL to send task events")
    cursor = WebhookCursor.loads(context.cursor) or _recent(context, outbox)
    now = datetime.now(timezone.utc)
    events, cursor = collect_events(context, outbox, cursor, time.time())
    added = outbox.enqueue(events, urls, now)
    # The cursor is saved only when the tick returns; enqueue is idempotent, so a lost tick re-reads safely.
    context.update_cursor(cursor.dumps())
    report = deliver_due(outbox, webhooks.secret or None, now)
    outbox.prune(now)
    for url in report.unreachable:
        context.log.warning(f"webhook receiver unreachable, retrying with backoff: {url}")
    return SkipReason(f"{added} delivery(ies) logged; {report.describe()}")

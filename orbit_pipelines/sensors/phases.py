"""The phase sensor: a step starting in a run moves that run's RUNNING tasks into their kind's phase for
the step (JobKind.phases; ledger/phases.py). Dagster's event log is the source: the ops write nothing for
it, so a new job gets phases by naming them in its kind."""

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

from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP

# Step starts read per tick (a tick every daemon loop, 5 s): far more than a busy instance starts.
STARTS_PER_TICK = 1000
# A sensor that has never ticked starts this far back, so runs that began while the daemon was starting
# get their phase; an older history is not replayed.
FIRST_TICK_LOOKBACK_SECONDS = 600


def phase_of(phases_by_job: dict[str, dict[str, str]], job_name: str | None, step_key: str | None) -> str | None:
    """The phase of a step of a job; None for a job or step without one. A mapped step (`op[key]`) is its op's."""
    if not job_name or not step_key:
        return None
    return phases_by_job.get(job_name, {}).get(step_key.split("[", 1)[0])


def _start_cursor(context: SensorEvaluationContext) -> int:
    older = context.instance.event_log_storage.get_event_records(
        EventRecordsFilter(
            event_type=DagsterEventType.STEP_START, before_timestamp=time.time() - FIRST_TICK_LOOKBACK_SECONDS
        ),
        limit=1,
        ascending=False,
    )
    return older[0].storage_id if older else 0


@sensor(
    name="task_phase_sensor",
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Moves running tasks into their kind's phase (DECOMPOSING, EXTRACTING, ...) as their run's "
    "steps start; `orbit task show/list` and webhooks (task.phase_started) carry it.",
)
def task_phase_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    cursor = int(context.cursor) if context.cursor else _start_cursor(context)
    records = context.instance.event_log_storage.get_event_records(
        EventRecordsFilter(event_type=DagsterEventType.STEP_START, after_cursor=cursor),
        limit=STARTS_PER_TICK,
        ascending=True,
    )
    phases_by_job = {kind.job_name: dict(kind.phases) for kind in all_kinds().values()}
    store = ledger.get()
    moved = 0
    for record in records:
        entry = record.event_log_entry
        phase = phase_of(phases_by_job, entry.job_name, entry.step_key)
        if phase:
            at = datetime.fromtimestamp(entry.timestamp, tz=timezone.utc)
            moved += len(store.enter_phase(entry.run_id, phase, at))
        cursor = record.storage_id
    # Saved when the tick returns; entering a phase is idempotent, so a lost tick re-reads safely.
    context.update_cursor(str(cursor))
    return SkipReason(f"{moved} task(s) entered a phase from {len(records)} step start(s)")

"""Launching a task's run the moment it is submitted, through the webserver's GraphQL API, so one
task does not wait for the dispatch sensor's next tick (the sensor daemon loops every 5 s).

The dispatch sensor stays the catch-all: a task this cannot launch (no webserver, intake paused, the
sync lane, a webserver of another instance) is left PENDING for it. The ledger's atomic PENDING ->
QUEUED claim decides who launches, so a task is never launched twice; a claim whose launch fails is
released back to PENDING.
"""

from __future__ import annotations

import logging

from sqlalchemy import text

from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.ledger import Ledger, Task, TaskStatus
from orbit_pipelines.operations import DagsterApi, OperationError
from orbit_pipelines.runtime.tags import RUN_KEY_TAG

log = logging.getLogger(__name__)

# Connect quickly or give up (the sensor will run the task); a launch itself takes well under a second.
TIMEOUT = (2.0, 30.0)


def serves_this_instance(api: DagsterApi, ledger: Ledger) -> bool:
    """Whether the webserver behind `api` uses this ledger's Dagster storage: it must know a run this
    database holds. (A webserver of another instance would run the task id of *its* ledger.) False for
    a database with no run yet: its first task goes through the sensor."""
    with ledger.engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass('runs')")).scalar() is None:
            return False  # Dagster has not used this database yet
        latest = conn.execute(text("SELECT run_id FROM runs ORDER BY id DESC LIMIT 1")).scalar()
    if latest is None:
        return False
    try:
        api.run(latest)
    except OperationError:
        return False
    return True


def launch_now(ledger: Ledger, task: Task, url: str | None = None) -> str | None:
    """The run id launched for `task`, or None when the task is left to the dispatch sensor."""
    if task.status != TaskStatus.PENDING or task.lane == "sync":
        return None  # the sync lane keeps its order through the sensor, which claims oldest first
    paused = ledger.paused_kinds()
    if "*" in paused or task.kind in paused:
        return None
    api = DagsterApi(url, timeout=TIMEOUT)
    try:
        if not serves_this_instance(api, ledger):
            return None
    except OperationError as exc:
        log.info("no direct launch (%s); the dispatch sensor will start task %s", exc, task.id)
        return None
    key = f"task-{task.id}"
    claimed = ledger.claim([task.id], key)
    if not claimed:
        return None  # someone else dispatched or canceled it meanwhile
    kind = get_kind(task.kind)
    try:
        # The run key tag is what the sensor's lost-dispatch recovery looks for.
        run_id = api.launch(kind.job_name, kind.run_config(claimed), {**kind.tags_for(claimed), RUN_KEY_TAG: key})
    except OperationError as exc:
        ledger.release([task.id], key, note=f"direct launch failed, left to the dispatch sensor: {exc}"[:500])
        return None
    ledger.attach_run(task.id, run_id)
    return run_id

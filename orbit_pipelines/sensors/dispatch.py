"""The dispatch sensor: every PENDING task becomes exactly one run."""

from __future__ import annotations

import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orbit_pipelines.jobs.common import TASK_ID_TAG, task_tags
from orbit_pipelines.jobs.registry import all_kinds, get_kind
from orbit_pipelines.ledger import Ledger, Task
from orbit_pipelines.resources import LedgerResource

MAX_RUNS_PER_TICK = 50
# A claimed task whose run no op has reported after this long is checked for a lost run request
# (e.g. the daemon died between claiming and submitting).
LOST_DISPATCH_AFTER_SECONDS = 60


def run_key_for(task: Task) -> str:
    return f"task-{task.id}"


def run_request_for(task: Task) -> RunRequest:
    kind = get_kind(task.kind)
    return RunRequest(
        run_key=run_key_for(task),
        job_name=kind.job_name,
        run_config=kind.run_config(task),
        tags=task_tags(task),
    )


def _recover_lost_dispatches(context: SensorEvaluationContext, ledger: Ledger) -> list[Task]:
    """QUEUED tasks with no known run: record the run if it exists, else request it again.

    Re-requesting is safe: the run key makes Dagster skip a request whose run already exists.
    """
    stale = ledger.queued_without_run(LOST_DISPATCH_AFTER_SECONDS, MAX_RUNS_PER_TICK)
    if not stale:
        return []
    runs = context.instance.get_runs(RunsFilter(tags={TASK_ID_TAG: [str(t.id) for t in stale]}))
    run_for_task = {int(r.tags[TASK_ID_TAG]): r.run_id for r in runs}
    lost = []
    for task in stale:
        if task.id in run_for_task:
            ledger.attach_run(task.id, run_for_task[task.id])
        else:
            lost.append(task)
    return lost


@sensor(
    name="task_dispatch_sensor",
    jobs=[k.job for k in all_kinds().values()],
    minimum_interval_seconds=5,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts one run per PENDING ledger task (run key = task id) and marks the task QUEUED.",
)
def task_dispatch_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    led = ledger.get()
    lost = _recover_lost_dispatches(context, led)
    claimed = led.claim_pending(MAX_RUNS_PER_TICK)
    tasks = lost + claimed
    if not tasks:
        return SkipReason("no pending tasks")
    for task in lost:
        context.log.warning(f"task {task.id} was QUEUED without a run; requesting it again")
    cursor = json.loads(context.cursor) if context.cursor else {"last_task_id": 0, "dispatched": 0}
    cursor = {
        "last_task_id": max([cursor["last_task_id"]] + [t.id for t in claimed]),
        "dispatched": cursor["dispatched"] + len(claimed),
    }
    context.log.info(f"dispatching {len(claimed)} new task(s): {[t.id for t in claimed]}")
    return SensorResult(run_requests=[run_request_for(t) for t in tasks], cursor=json.dumps(cursor))

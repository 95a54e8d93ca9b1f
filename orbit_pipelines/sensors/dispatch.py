"""The dispatch sensor: every PENDING task gets exactly one run (alone, or in a batch of its kind)."""

from __future__ import annotations

import json
from itertools import groupby

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from orbit_pipelines.jobs.registry import all_kinds, get_kind
from orbit_pipelines.ledger import Ledger, Task
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.tags import RUN_KEY_TAG
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP

MAX_RUNS_PER_TICK = 50
# A claimed task whose run no op has reported after this long is checked for a lost run request
# (e.g. the daemon died between claiming and submitting).
LOST_DISPATCH_AFTER_SECONDS = 60


def run_request_for(tasks: list[Task]) -> RunRequest:
    """One run for tasks that share a dispatch key; the key is the run key, so it is never doubled."""
    kind = get_kind(tasks[0].kind)
    return RunRequest(
        run_key=tasks[0].dispatch_key or f"task-{tasks[0].id}",
        job_name=kind.job_name,
        run_config=kind.run_config(tasks),
        tags=kind.tags_for(tasks),
    )


def _groups(tasks: list[Task]) -> list[list[Task]]:
    keyed = sorted(tasks, key=lambda t: (t.dispatch_key or f"task-{t.id}", t.id))
    groups = [list(g) for _, g in groupby(keyed, key=lambda t: t.dispatch_key or f"task-{t.id}")]
    # Keep the claim order (priority, then age) across groups.
    order = {t.id: i for i, t in enumerate(tasks)}
    return sorted(groups, key=lambda g: min(order[t.id] for t in g))


def _recover_lost_dispatches(context: SensorEvaluationContext, ledger: Ledger) -> list[list[Task]]:
    """QUEUED tasks no run has reported on: link them to their run if it exists, else request it again.

    Re-requesting is safe: Dagster skips a run key it has already seen.
    """
    stale = ledger.queued_without_run(LOST_DISPATCH_AFTER_SECONDS, MAX_RUNS_PER_TICK * 10)
    if not stale:
        return []
    groups = _groups(stale)
    keys = [g[0].dispatch_key or f"task-{g[0].id}" for g in groups]
    runs = {r.tags[RUN_KEY_TAG]: r.run_id for r in context.instance.get_runs(RunsFilter(tags={RUN_KEY_TAG: keys}))}
    lost = []
    for key, group in zip(keys, groups, strict=True):
        if key in runs:
            ledger.attach_runs([t.id for t in group], runs[key])
        else:
            lost.append(group)
    return lost[:MAX_RUNS_PER_TICK]


def claim_runs(ledger: Ledger, kinds: list[str], max_runs: int) -> list[list[Task]]:
    """Claim PENDING tasks of `kinds` for at most `max_runs` runs, packed per kind and lane; each list is
    one run's tasks. The claim is atomic, so whichever sensor claims a task is the only one to run it."""
    groups: list[list[Task]] = []
    for name in kinds:
        budget = max_runs - len(groups)
        if budget <= 0:
            break
        batch_size = max(1, get_kind(name).batch_size())
        groups += _groups(ledger.claim_pending(budget * batch_size, kinds=[name], batch_size=batch_size))
    return groups


@sensor(
    name="task_dispatch_sensor",
    jobs=[k.job for k in all_kinds().values()],
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Starts runs for PENDING ledger tasks (run key = dispatch key) and marks them QUEUED.",
)
def task_dispatch_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    led = ledger.get()
    paused = led.paused_kinds()
    if "*" in paused:
        return SkipReason(f"intake paused ({paused['*'] or 'no reason given'}); `orbit resume` to continue")
    lost = [g for g in _recover_lost_dispatches(context, led) if g[0].kind not in paused]
    for group in lost:
        context.log.warning(f"tasks {[t.id for t in group]} were QUEUED without a run; requesting it again")
    new_groups = claim_runs(led, [k for k in all_kinds() if k not in paused], MAX_RUNS_PER_TICK - len(lost))
    if not lost and not new_groups:
        note = f"; paused: {', '.join(sorted(paused))}" if paused else ""
        return SkipReason(f"no pending tasks{note}")
    claimed = [t for g in new_groups for t in g]
    cursor = json.loads(context.cursor) if context.cursor else {"last_task_id": 0, "dispatched": 0}
    cursor = {
        "last_task_id": max([cursor["last_task_id"]] + [t.id for t in claimed]),
        "dispatched": cursor["dispatched"] + len(claimed),
    }
    if claimed:
        context.log.info(f"dispatching {len(claimed)} task(s) in {len(new_groups)} run(s)")
    return SensorResult(run_requests=[run_request_for(g) for g in lost + new_groups], cursor=json.dumps(cursor))

"""Launching runs the moment their tasks are submitted (`orbit task submit`, `orbit doc submit`), through
the webserver's GraphQL API, so they do not wait for the dispatch sensor's next tick (the sensor daemon
loops every 5 s). A set of tasks is launched as its kind batches (`JobKind.batches`), as the sensor would.

The dispatch sensor stays the catch-all: a task this cannot launch (no webserver, intake paused, the
sync lane, a webserver of another instance) is left PENDING for it. The ledger's atomic PENDING ->
QUEUED claim decides who launches, so a task is never launched twice; a claim whose launch fails is
released back to PENDING.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import text

from orbit_pipelines.jobs.registry import JobKind, get_kind
from orbit_pipelines.ledger import Ledger, Task, TaskStatus
from orbit_pipelines.operations import DagsterApi, OperationError
from orbit_pipelines.runtime.tags import RUN_KEY_TAG

log = logging.getLogger(__name__)

# Connect quickly or give up (the sensor will run the task); a launch itself takes well under a second.
TIMEOUT = (2.0, 30.0)


def serves_this_instance(api: DagsterApi, ledger: Ledger) -> bool:
    """Whether the webserver behind `api` uses this ledger's Dagster storage: it must know the run this
    ledger recorded last. (A webserver of another instance would run the task id of *its* ledger.) False
    for a ledger with no run yet, or whose last run the retention purge removed (a ledger idle that
    long): that task goes through the sensor, and the next one is launched here again.

    The ledger's own table, not Dagster's: a DagsterInstance (or its run storage) would answer "the
    newest run" too, but only after importing Dagster, which `orbit task submit` otherwise never does.
    Measured in a fresh process with the stack up (median of 7 calls): this check 13 ms, as the SQL over
    Dagster's `runs` table it replaces; with DagsterInstance.get() + get_run_records(limit=1) 2.2 s; with
    PostgresRunStorage(...).get_run_records(limit=1) 1.1 s. The webserver is asked with our own query
    (`DagsterApi.run`) for the same reason: the client's get_run_status imports Dagster (0.6 s)."""
    with ledger.engine.connect() as conn:
        latest = conn.execute(
            text("SELECT run_id FROM orbit.tasks WHERE run_id IS NOT NULL ORDER BY id DESC LIMIT 1")
        ).scalar()
    if latest is None:
        return False
    try:
        api.run(latest)
    except OperationError:
        return False
    return True


@dataclass(frozen=True)
class LaunchedRun:
    run_id: str
    dispatch_key: str
    task_ids: list[int]


def dispatch_key_for(task_ids: Sequence[int]) -> str:
    """The key the dispatch sensor's claim would give these tasks: `task-<id>` or `batch-<first>-<last>`."""
    return f"task-{task_ids[0]}" if len(task_ids) == 1 else f"batch-{min(task_ids)}-{max(task_ids)}"


def launchable(ledger: Ledger, tasks: Sequence[Task]) -> list[Task]:
    """The tasks a direct launch may take: PENDING, not of the sync lane (it keeps its order through the
    sensor), of a kind whose intake is not paused; once each, highest priority first, then oldest."""
    paused = ledger.paused_kinds()
    if "*" in paused:
        return []
    unique = {t.id: t for t in tasks}.values()
    return sorted(
        (t for t in unique if t.status == TaskStatus.PENDING and t.lane != "sync" and t.kind not in paused),
        key=lambda t: (-t.priority, t.id),
    )


def launch_now(ledger: Ledger, task: Task, url: str | None = None) -> str | None:
    """The run id launched for `task` (already submitted), or None when it is left to the dispatch sensor."""
    launcher = DirectLauncher.connect(ledger, url)
    launched = launcher.launch([task]) if launcher is not None else []
    return launched[0].run_id if launched else None


@dataclass(frozen=True)
class DirectLauncher:
    """A webserver that serves this ledger's instance, found before the tasks it launches are submitted.

    Submitting first and asking the webserver after would leave the new tasks PENDING for that round trip
    (seconds on a busy machine), and the dispatch sensor, ticking every second, would often claim them first:
    right, but not the launch at once the command promises. Connected first, the claim follows the insert
    within milliseconds."""

    ledger: Ledger
    api: DagsterApi

    @classmethod
    def connect(cls, ledger: Ledger, url: str | None = None) -> DirectLauncher | None:
        """The launcher, or None (logged) when no webserver at ORBIT_DAGSTER_URL (or `url`) serves this
        instance: then the dispatch sensor starts every task."""
        api = DagsterApi(url, timeout=TIMEOUT)
        try:
            if serves_this_instance(api, ledger):
                return cls(ledger, api)
            log.info("no direct launch: the webserver at %s does not know this ledger's last run", api.base_url)
        except OperationError as exc:
            log.info("no direct launch (%s); the dispatch sensor will start the tasks", exc)
        return None

    def launch(self, tasks: Sequence[Task]) -> list[LaunchedRun]:
        """Runs for the launchable ones of `tasks`: per kind, split into runs by `JobKind.batches`. After a
        failed launch the rest are left to the sensor too (the webserver is unlikely to take them)."""
        candidates = launchable(self.ledger, tasks)
        launched: list[LaunchedRun] = []
        for kind_name in dict.fromkeys(t.kind for t in candidates):
            kind = get_kind(kind_name)
            for batch in kind.batches([t for t in candidates if t.kind == kind_name]):
                try:
                    run = _claim_and_launch(self.ledger, self.api, kind, batch)
                except OperationError:
                    return launched
                if run is not None:
                    launched.append(run)
        return launched


def _claim_and_launch(ledger: Ledger, api: DagsterApi, kind: JobKind, batch: list[Task]) -> LaunchedRun | None:
    """One run over `batch`, as launch_now launches one task's: claim, launch, release on failure
    (re-raised), attach the run. None when every task was claimed by someone else first."""
    key = dispatch_key_for([t.id for t in batch])
    claimed = ledger.claim([t.id for t in batch], key)
    if not claimed:
        return None
    ids = [t.id for t in claimed]
    try:
        # The run key tag is what the sensor's lost-dispatch recovery looks for; launch_light, as
        # launch_now: Dagster's own client would import Dagster into the command.
        run_id = api.launch_light(kind.job_name, kind.run_config(claimed), {**kind.tags_for(claimed), RUN_KEY_TAG: key})
    except OperationError as exc:
        ledger.release(ids, key, note=f"direct launch failed, left to the dispatch sensor: {exc}"[:500])
        raise
    ledger.attach_runs(ids, run_id)
    return LaunchedRun(run_id=run_id, dispatch_key=key, task_ids=ids)

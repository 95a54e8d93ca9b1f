"""Interrupted runs (`orbit runs interrupted`, `orbit recover`, `orbit up --recover`): which runs of this
project's jobs a dead run worker, a timeout or a cancel stopped, where each stopped, and re-executing them
from failure through run_control.reexecute.

A run is interrupted when it ended
- FAILURE because its run worker died: the code server saw the worker's process exit ("Run execution
  process for R was terminated by signal 9 (SIGKILL)."), run monitoring found the worker gone ("Detected
  run worker status ..."), or the worker was stopped under the run (Dagster's failure reasons
  UNEXPECTED_TERMINATION, RUN_WORKER_RESTART, START_TIMEOUT);
- past its budget (`dagster/max_runtime`: outcomes.timeout_of), FAILURE or CANCELED;
- CANCELED (by a person, `orbit cancel`, the UI's Terminate);
and nobody has re-executed it since: no run names it as its parent (`orbit recover`, `orbit rerun`,
`orbit dlq retry`, Dagster's run retries) and Dagster does not owe it a retry (outcomes.settling_run).
A run that failed in a step (bad input, a permanent error) is not interrupted: its tasks are dead letters
(`orbit dlq`). The classification is pure (why_interrupted, stopping_point); the rest reads the instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

from orbit_pipelines.ledger import Ledger, Task

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun, RunRecord

# How many of the newest failed and canceled runs a listing looks at: far more than a day's interruptions,
# and run_retention purges old runs anyway.
MAX_RUNS_SCANNED = 2000
# The end of a run's event log that says how it ended (the code server's and run monitoring's words come last).
LAST_EVENTS_READ = 50

PARENT_RUN_TAG = "dagster/parent_run_id"
FAILURE_REASON_TAG = "dagster/failure_reason"

# Dagster's RunFailureReason values that mean the worker, not the work, gave out.
WORKER_FAILURE_REASONS = frozenset({"UNEXPECTED_TERMINATION", "RUN_WORKER_RESTART", "START_TIMEOUT"})
# What Dagster says when a worker's process is gone: the code server (dagster/_grpc/server.py,
# _check_for_orphaned_runs) and run monitoring (dagster/_daemon/monitoring/run_monitoring.py).
WORKER_DEATH_WORDS = ("Run execution process for", "Detected run worker status")


class Why(str, Enum):
    DEAD_WORKER = "dead worker"
    TIMEOUT = "timeout"
    CANCELED = "canceled"


@dataclass(frozen=True)
class RunEnding:
    """How a finished run ended, as Dagster recorded it: the inputs of why_interrupted."""

    status: str  # DagsterRunStatus value: SUCCESS, FAILURE, CANCELED
    failure_reason: str | None = None  # the run's dagster/failure_reason tag
    over_budget: bool = False  # run monitoring stopped it at its dagster/max_runtime
    messages: tuple[str, ...] = ()  # the last engine events' and the run failure's messages


def why_interrupted(ending: RunEnding) -> Why | None:
    """Why the run was interrupted, or None when it was not (it succeeded, or its work failed)."""
    if ending.over_budget:
        return Why.TIMEOUT
    if ending.status == "CANCELED":
        return Why.CANCELED
    if ending.status != "FAILURE":
        return None
    if ending.failure_reason in WORKER_FAILURE_REASONS:
        return Why.DEAD_WORKER
    if ending.failure_reason is None and any(w in m for m in ending.messages for w in WORKER_DEATH_WORDS):
        return Why.DEAD_WORKER
    return None  # a step failure (dead letters), a run exception, a failed initialisation


@dataclass(frozen=True)
class StoppingPoint:
    last_completed: str | None  # the last step that succeeded in this run
    stopped_in: tuple[str, ...]  # the steps started and never succeeded: what was running

    def describe(self) -> str:
        where = f"in {', '.join(self.stopped_in)}" if self.stopped_in else "between steps"
        if self.last_completed is None:
            return f"{where}, before any step completed" if self.stopped_in else "before any step started"
        return f"{where}, after {self.last_completed}"


def stopping_point(step_events: Iterable[tuple[str, str]]) -> StoppingPoint:
    """Where a run stopped, from its step events in order: (event type value, step key)."""
    started: dict[str, None] = {}
    last_completed = None
    for event_type, step in step_events:
        if event_type == "STEP_START":
            started[step] = None
        elif event_type == "STEP_SUCCESS":
            started.pop(step, None)
            last_completed = step
    return StoppingPoint(last_completed, tuple(started))


@dataclass(frozen=True)
class InterruptedRun:
    run_id: str
    job_name: str
    why: Why
    ended_at: datetime | None
    tasks: list[Task]
    stopped: StoppingPoint
    message: str = ""  # what Dagster said as the run ended (first line)

    def as_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "job": self.job_name,
            "why": self.why.value,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "tasks": [{"id": t.id, "kind": t.kind, "status": t.status.value} for t in self.tasks],
            "last_completed_step": self.stopped.last_completed,
            "stopped_in": list(self.stopped.stopped_in),
            "message": self.message,
        }


class NotInterrupted(ValueError):
    """A run `orbit recover` refuses, with what it is instead and what to do."""


class UnknownRun(ValueError):
    pass


@dataclass(frozen=True)
class Verdict:
    why: Why | None  # None: not an interrupted run
    refusal: str = ""  # what the run is instead, for `orbit recover RUN`
    message: str = ""  # what Dagster said as it stopped the run (first line)


def task_job_names() -> set[str]:
    """The jobs that run ledger tasks, one per kind (housekeeping and run_retention are not among them)."""
    from orbit_pipelines.jobs.registry import all_kinds

    return {kind.job_name for kind in all_kinds().values()}


def find_interruptions(
    instance: DagsterInstance, jobs: set[str] | None = None, limit: int = MAX_RUNS_SCANNED
) -> list[tuple[RunRecord, Verdict]]:
    """The interrupted runs of `jobs` (default: task_job_names) nobody has re-executed, newest first."""
    from dagster import DagsterRunStatus, RunsFilter

    jobs = task_job_names() if jobs is None else jobs
    records = [
        r
        for r in instance.get_run_records(
            RunsFilter(statuses=[DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]), limit=limit
        )
        # A step failure is a dead letter whatever else happened: left out before any of its events is read.
        if r.dagster_run.job_name in jobs and r.dagster_run.tags.get(FAILURE_REASON_TAG) != "STEP_FAILURE"
    ]
    children = re_executions(instance, [r.dagster_run.run_id for r in records])
    verdicts = [(record, assess(instance, record, children)) for record in records]
    return [(record, verdict) for record, verdict in verdicts if verdict.why is not None]


def interrupted_runs(instance: DagsterInstance, ledger: Ledger, limit: int = MAX_RUNS_SCANNED) -> list[InterruptedRun]:
    """Every interrupted run of this project's jobs nobody has re-executed, newest first, with its tasks."""
    return [
        describe(instance, ledger, record, verdict) for record, verdict in find_interruptions(instance, None, limit)
    ]


def interruption_of(instance: DagsterInstance, ledger: Ledger, run_id: str) -> InterruptedRun:
    """The run `run_id` as an interrupted run; NotInterrupted (saying what it is) or UnknownRun otherwise."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise UnknownRun(
            f"run {run_id} does not exist on this instance; `orbit runs interrupted` lists the runs to recover"
        )
    run = record.dagster_run
    if run.job_name not in task_job_names():
        raise NotInterrupted(
            f"run {run_id} is a {run.job_name} run, which works on no tasks: there is nothing to recover "
            f"(`orbit rerun {run_id}` re-executes it)"
        )
    if not run.is_finished:
        raise NotInterrupted(f"run {run_id} is {run.status.value}, not finished: nothing has interrupted it")
    if run.status.value == "SUCCESS":
        raise NotInterrupted(f"run {run_id} succeeded: there is nothing to recover")
    verdict = assess(instance, record, re_executions(instance, [run_id]))
    if verdict.why is None:
        raise NotInterrupted(verdict.refusal)
    return describe(instance, ledger, record, verdict)


def re_executions(instance: DagsterInstance, run_ids: Sequence[str]) -> dict[str, str]:
    """{run id: the newest run re-executing it} for those of `run_ids` some run names as its parent (a
    re-execution from the UI or `orbit`, or Dagster's run retry)."""
    from dagster import RunsFilter

    if not run_ids:
        return {}
    children: dict[str, str] = {}
    # Oldest first, so the newest child of each parent is the one kept.
    for child in reversed(instance.get_runs(RunsFilter(tags={PARENT_RUN_TAG: list(run_ids)}))):
        children[child.tags[PARENT_RUN_TAG]] = child.run_id
    return children


def assess(instance: DagsterInstance, record: RunRecord, children: Mapping[str, str]) -> Verdict:
    """Whether a finished run is interrupted and why; if not, what it is (`children`: re_executions)."""
    from orbit_pipelines.outcomes import RETRY_EXPECTED_WITHIN_SECONDS, run_failure_details, settling_run

    run = record.dagster_run
    if run.run_id in children:
        return Verdict(
            None,
            f"run {run.run_id} was re-executed already, as run {children[run.run_id]}: there is nothing to "
            "recover (`orbit runs interrupted` lists the runs there are)",
        )
    settling = settling_run(instance, run)
    if settling is None:
        return Verdict(
            None,
            f"Dagster is to retry run {run.run_id} (run_retries), which re-executes it; `orbit runs interrupted` "
            f"lists it if no retry has come {RETRY_EXPECTED_WITHIN_SECONDS} s after it ended",
        )
    if settling.run_id != run.run_id:
        return Verdict(None, f"run {run.run_id} was retried by Dagster as run {settling.run_id}: nothing to recover")
    ending, said = run_ending(instance, record)
    why = why_interrupted(ending)
    if why is not None:
        return Verdict(why, message=said)
    failure = run_failure_details(instance, run.run_id)
    if failure.step is not None:
        return Verdict(
            None,
            f"run {run.run_id} failed in step {failure.step} ({failure.error_class}: {failure.message[:200]}), "
            "not by a dead worker, a timeout or a cancel: its tasks are dead letters; `orbit dlq list` shows them "
            f"and `orbit dlq retry` or `orbit rerun {run.run_id}` runs them again",
        )
    return Verdict(
        None,
        f"run {run.run_id} failed ({failure.message[:200]}), not by a dead worker, a timeout or a cancel: "
        f"`orbit rerun {run.run_id}` re-executes it once its cause is fixed",
    )


def run_ending(instance: DagsterInstance, record: RunRecord) -> tuple[RunEnding, str]:
    """How the run ended as Dagster recorded it, and the first line of what Dagster said as it stopped it."""
    from dagster import DagsterEventType

    from orbit_pipelines.outcomes import timeout_of

    run = record.dagster_run
    timeout = timeout_of(instance, run.run_id)
    last = instance.get_records_for_run(
        run.run_id,
        of_type={DagsterEventType.ENGINE_EVENT, DagsterEventType.RUN_FAILURE},
        ascending=False,
        limit=LAST_EVENTS_READ,
    ).records
    messages = tuple(r.event_log_entry.get_dagster_event().message or "" for r in last)
    ending = RunEnding(run.status.value, run.tags.get(FAILURE_REASON_TAG), timeout is not None, messages)
    said = timeout.message if timeout else next((m for m in messages if any(w in m for w in WORKER_DEATH_WORDS)), "")
    if not said and run.status.value == "CANCELED":
        canceled = instance.get_records_for_run(
            run.run_id, of_type=DagsterEventType.RUN_CANCELING, ascending=False, limit=1
        ).records
        said = canceled[0].event_log_entry.get_dagster_event().message or "" if canceled else ""
    said = said or next((m for m in messages if m), "")
    return ending, (said.strip().splitlines() or [""])[0]


def step_events(instance: DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """The run's step starts and successes in order, as stopping_point takes them."""
    from dagster import DagsterEventType

    records = instance.get_records_for_run(
        run_id, of_type={DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS}
    ).records
    return [(r.event_log_entry.get_dagster_event().event_type_value, r.event_log_entry.step_key or "") for r in records]


def describe(instance: DagsterInstance, ledger: Ledger, record: RunRecord, verdict: Verdict) -> InterruptedRun:
    """An interrupted run as `orbit runs interrupted` shows it: with its tasks and where it stopped."""
    run = record.dagster_run
    assert verdict.why is not None, "only an interrupted run is described"
    return InterruptedRun(
        run_id=run.run_id,
        job_name=run.job_name,
        why=verdict.why,
        ended_at=datetime.fromtimestamp(record.end_time, timezone.utc) if record.end_time else None,
        tasks=tasks_of_run(ledger, run),
        stopped=stopping_point(step_events(instance, run.run_id)),
        message=verdict.message,
    )


def tasks_of_run(ledger: Ledger, run: DagsterRun) -> list[Task]:
    """The tasks a run was working on, as the outcome sensors find them (lifecycle.tasks_of_run: its tasks
    in the ledger, its task tag, its dispatch), else those the ledger saw it or the run it re-executes
    work on (a Launchpad launch's re-execution that stopped before its first op reported)."""
    from orbit_pipelines.runtime import lifecycle

    return (
        lifecycle.tasks_of_run(ledger, run)
        or ledger.tasks_ever_in_run(run.run_id)
        or (ledger.tasks_ever_in_run(run.parent_run_id) if run.parent_run_id else [])
    )


@dataclass(frozen=True)
class Recovery:
    run: InterruptedRun
    new_run: str | None  # None on a dry run


def recover(api, ledger: Ledger, runs: Sequence[InterruptedRun], dry_run: bool = False) -> Iterator[Recovery]:
    """Re-execute each run from failure through `api` (an operations.DagsterApi), yielding each as it is
    launched, so a caller can report what was done before an error stops the rest; a note in each task's
    history says so. With `dry_run`, launch nothing."""
    from orbit_pipelines.run_control import reexecute

    for run in runs:
        if dry_run:
            yield Recovery(run, None)
            continue
        new_run = reexecute(api, run.run_id)
        for task in run.tasks:
            note = f"recovered: run {run.run_id} ({run.why.value}) re-executed as {new_run}"
            ledger.record_note(task.id, note, new_run)
        yield Recovery(run, new_run)


def describe_tasks(tasks: Sequence[Task]) -> str:
    """`2, 3, 4 (FAILED)`, or `2 (FAILED), 3 (COMPLETED)` when they differ; `none` for no task."""
    if not tasks:
        return "none"
    statuses = {t.status for t in tasks}
    if len(statuses) == 1:
        return f"{', '.join(str(t.id) for t in tasks)} ({tasks[0].status.value})"
    return ", ".join(f"{t.id} ({t.status.value})" for t in tasks)


def interrupted_table(runs: Sequence[InterruptedRun]) -> list[str]:
    """`orbit runs interrupted`: one row per run, and what to do."""
    if not runs:
        return ["no interrupted runs: every run a dead worker, a timeout or a cancel stopped has been re-executed"]
    rows = [("RUN", "JOB", "WHY", "ENDED (UTC)", "TASKS", "STOPPED")]
    rows += [
        (
            r.run_id,
            r.job_name,
            r.why.value,
            f"{r.ended_at:%Y-%m-%d %H:%M:%S}" if r.ended_at else "-",
            describe_tasks(r.tasks),
            r.stopped.describe(),
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = [
        "  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip() for row in rows
    ]
    return [*lines, "`orbit recover RUN...` or `orbit recover --all` re-executes them from failure"]


def recovery_line(recovery: Recovery) -> str:
    run = recovery.run
    what = f"run {run.run_id} ({run.job_name}, {run.why.value}, tasks {describe_tasks(run.tasks)})"
    if recovery.new_run is None:
        return f"{what}: would re-execute from failure (stopped {run.stopped.describe()})"
    return f"{what}: re-executing from failure as run {recovery.new_run}"

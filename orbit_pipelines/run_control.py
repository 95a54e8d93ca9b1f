"""Operating runs from the command line: re-execute (`orbit rerun`), cancel (`orbit cancel`), pause
and resume intake (`orbit pause`, `orbit resume`) and say why intake waits. The GraphQL calls are
operations.DagsterApi's."""

from __future__ import annotations

from dataclasses import dataclass

from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.states import TERMINAL

ALL_KINDS = "*"


class CannotReexecute(ValueError):
    pass


def reexecute(
    api, run_id: str, *, from_step: str | None = None, all_steps: bool = False, config_edits: dict | None = None
) -> str:
    """Re-execute `run_id` through `api` (an operations.DagsterApi); the new run's id.

    From `from_step`: that step and every step after it in the run's job, with `config_edits` merged
    over the parent's config; otherwise every step (`all_steps`) or the failed ones. The run is looked
    up first, so a run that does not exist (operations.RunNotFound) or has no failure to resume from
    (CannotReexecute) is refused in words rather than by the webserver's exception.
    """
    parent = api.run(run_id)
    if from_step:
        import warnings

        from dagster import BetaWarning

        from orbit_pipelines.operations import steps_from

        # Dagster warns about its own beta parameters as the definitions resolve: nothing the operator can act
        # on, and it would bury this command's one line of answer or error.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BetaWarning)
            from orbit_pipelines.definitions import defs

            job = defs.get_job_def(parent["jobName"])
        steps = steps_from(job, from_step)
        return api.reexecute_steps(run_id, steps, config_edits)
    if not all_steps:
        _check_resumable(run_id, parent["status"])
    return api.reexecute(run_id, "ALL_STEPS" if all_steps else "FROM_FAILURE")


def _check_resumable(run_id: str, status: str) -> None:
    """A re-execution from failure needs a run that failed or was canceled."""
    if status in ("FAILURE", "CANCELED"):
        return
    if status == "SUCCESS":
        raise CannotReexecute(
            f"run {run_id} succeeded: there is no failure to re-execute from; "
            f"`orbit rerun {run_id} --all-steps` or `--from-step STEP` runs it again"
        )
    raise CannotReexecute(
        f"run {run_id} is {status}, not finished: re-execute it once it has failed or been canceled "
        f"(`orbit cancel {run_id}` stops it)"
    )


def record_config_edit(ledger: Ledger, parent_run: str, new_run: str, step: str) -> list[int]:
    """An operator's corrected config is part of the task's history: a note on every task the parent run
    worked on. Returns their ids."""
    tasks = ledger.tasks_ever_in_run(parent_run)
    for task in tasks:
        ledger.record_note(task.id, f"re-executed from {step} with edited config as run {new_run}", new_run)
    return [t.id for t in tasks]


class NothingToCancel(ValueError):
    pass


@dataclass(frozen=True)
class Cancellation:
    task_id: int | None
    run_id: str | None  # the run asked to stop; None when no run was working on the task
    # How the task stood when canceled with no run to stop: "before it was dispatched", "while waiting for a person".
    when: str = "before it was dispatched"


def cancel(ledger: Ledger, api, target: str) -> Cancellation:
    """Cancel a task (`target` all digits: a task id) or a run (a run id).

    A PENDING task is canceled in the ledger (no run exists yet); otherwise its current run is asked to
    stop, and the outcome sensor marks its tasks CANCELED when it has. Raises TaskNotFound,
    operations.RunNotFound, and NothingToCancel for a task or run that has ended or has no run yet.
    """
    if not target.isdigit():
        _terminate(api, target)
        return Cancellation(task_id=None, run_id=target)
    task = ledger.get(int(target))
    if task.status == TaskStatus.PENDING:
        ledger.transition(task.id, TaskStatus.CANCELED, note="canceled before dispatch")
        return Cancellation(task_id=task.id, run_id=None)
    if task.status == TaskStatus.WAITING_MANUAL:  # no run is working on it: nothing to stop
        ledger.transition(task.id, TaskStatus.CANCELED, note="canceled while waiting for a person")
        return Cancellation(task_id=task.id, run_id=None, when="while waiting for a person")
    if task.status == TaskStatus.PAUSED:  # its run stopped at a step boundary: nothing to stop
        ledger.transition(task.id, TaskStatus.CANCELED, note="canceled while paused")
        return Cancellation(task_id=task.id, run_id=None, when="while paused")
    if task.status in TERMINAL:
        after = (
            f"; `orbit dlq discard {task.id} --reason ...` takes it off the dead-letter list"
            if task.status == TaskStatus.FAILED and task.discarded_at is None
            else ""
        )
        raise NothingToCancel(f"task {task.id} is {task.status.value}: it has ended, there is nothing to cancel{after}")
    run_id = task.run_id or _run_of_dispatch(api, task)
    _terminate(api, run_id)
    return Cancellation(task_id=task.id, run_id=run_id)


def _run_of_dispatch(api, task) -> str:
    """The run a dispatch requested for a QUEUED task before any op of it reported to the ledger."""
    from orbit_pipelines.operations import FINISHED_RUN_STATUSES
    from orbit_pipelines.runtime.tags import RUN_KEY_TAG

    runs = api.runs_tagged(RUN_KEY_TAG, task.dispatch_key) if task.dispatch_key else []
    waiting = [r["runId"] for r in runs if r["status"] not in FINISHED_RUN_STATUSES]
    if not waiting:
        raise NothingToCancel(
            f"task {task.id} is {task.status.value} and its run has not been created yet; "
            f"try `orbit cancel {task.id}` again in a few seconds"
        )
    return waiting[0]


def _terminate(api, run_id: str) -> None:
    """Ask the run to stop, after checking it exists and has not ended (the webserver would refuse
    both in its own words)."""
    from orbit_pipelines.operations import FINISHED_RUN_STATUSES

    status = api.run(run_id)["status"]
    if status in FINISHED_RUN_STATUSES:
        raise NothingToCancel(f"run {run_id} has already ended ({status}): there is nothing to cancel")
    if status == "CANCELING":
        raise NothingToCancel(f"run {run_id} is being canceled already; its tasks become CANCELED once it has stopped")
    api.terminate(run_id)


def pause_intake(ledger: Ledger, kind: str = ALL_KINDS, reason: str | None = None) -> None:
    """Stop dispatching tasks of `kind` (`*`: every kind); `reason` is the dispatch sensor's skip reason.
    An unknown kind is refused (registry.UnknownKind): its pause would hold nothing back."""
    if kind != ALL_KINDS:
        from orbit_pipelines.jobs.registry import get_kind

        get_kind(kind)
    ledger.set_paused(True, kind, reason or None)


def resume_intake(ledger: Ledger, kind: str = ALL_KINDS) -> list[str]:
    """Dispatch `kind` again; `*` lifts every pause, the global one and each kind's. The kinds resumed."""
    kinds = list(ledger.paused_kinds()) if kind == ALL_KINDS else [kind]
    for paused_kind in kinds:
        ledger.set_paused(False, paused_kind)
    return kinds


def pause_of(ledger: Ledger, kind: str) -> dict | None:
    """The pause that holds tasks of `kind` back (the global one first), or None: kind, reason, since."""
    return next((p for p in ledger.pauses() if p["kind"] in (ALL_KINDS, kind)), None)


def describe_pause(pause: dict) -> str:
    """`intake is paused for all kinds since 2026-12-01 12:00:00 UTC (deploying)`."""
    scope = "all kinds" if pause["kind"] == ALL_KINDS else f"kind {pause['kind']}"
    why = pause["reason"] or "no reason given"
    since = pause["since"]
    return f"intake is paused for {scope} since {since:%Y-%m-%d %H:%M:%S} {since.tzname() or ''}".rstrip() + f" ({why})"

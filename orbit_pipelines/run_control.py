"""Operating runs from the command line: re-execute (`orbit rerun`), cancel (`orbit cancel`), pause
and resume intake (`orbit pause`, `orbit resume`). The GraphQL calls are operations.DagsterApi's."""

from __future__ import annotations

from dataclasses import dataclass

from orbit_pipelines.ledger import Ledger, TaskStatus

ALL_KINDS = "*"


def reexecute(
    api, run_id: str, *, from_step: str | None = None, all_steps: bool = False, config_edits: dict | None = None
) -> str:
    """Re-execute `run_id` through `api` (an operations.DagsterApi); the new run's id.

    From `from_step`: that step and every step after it in the run's job, with `config_edits` merged
    over the parent's config; otherwise every step (`all_steps`) or the failed ones.
    """
    if from_step:
        from orbit_pipelines.definitions import defs
        from orbit_pipelines.operations import steps_from

        parent = api.run(run_id)
        steps = steps_from(defs.get_job_def(parent["jobName"]), from_step)
        return api.reexecute_steps(run_id, steps, config_edits)
    return api.reexecute(run_id, "ALL_STEPS" if all_steps else "FROM_FAILURE")


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
    run_id: str | None  # the run asked to stop; None when the task was canceled before dispatch


def cancel(ledger: Ledger, api, target: str) -> Cancellation:
    """Cancel a task (`target` all digits: a task id) or a run (a run id).

    A PENDING task is canceled in the ledger (no run exists yet); otherwise its current run is asked to
    stop, and the outcome sensor marks its tasks CANCELED when it has. Raises TaskNotFound, and
    NothingToCancel for a task that has no run.
    """
    if not target.isdigit():
        api.terminate(target)
        return Cancellation(task_id=None, run_id=target)
    task = ledger.get(int(target))
    if task.status == TaskStatus.PENDING:
        ledger.transition(task.id, TaskStatus.CANCELED, note="canceled before dispatch")
        return Cancellation(task_id=task.id, run_id=None)
    if task.run_id is None:
        raise NothingToCancel(f"task {task.id} is {task.status.value} with no run to cancel")
    api.terminate(task.run_id)
    return Cancellation(task_id=task.id, run_id=task.run_id)


def pause_intake(ledger: Ledger, kind: str = ALL_KINDS, reason: str | None = None) -> None:
    """Stop dispatching tasks of `kind` (`*`: every kind); `reason` is the dispatch sensor's skip reason."""
    ledger.set_paused(True, kind, reason or None)


def resume_intake(ledger: Ledger, kind: str = ALL_KINDS) -> list[str]:
    """Dispatch `kind` again; `*` lifts every pause, the global one and each kind's. The kinds resumed."""
    kinds = list(ledger.paused_kinds()) if kind == ALL_KINDS else [kind]
    for paused_kind in kinds:
        ledger.set_paused(False, paused_kind)
    return kinds

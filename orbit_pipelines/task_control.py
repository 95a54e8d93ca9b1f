"""Controlling one task's run as an operator: roll it back to a checkpoint (`orbit task rollback`), run a
completed task again from the start (`orbit task reset`), pause it at the next step boundary and resume it
(`orbit task pause/resume`). Not intake: `orbit pause/resume KIND` stops or lets dispatching of new tasks
(run_control.pause_intake).

Every change is a Dagster run launched through the webserver (operations.DagsterApi): a rollback and a
resume re-execute the task's latest run from a step, reusing the stored outputs of the steps before it;
a reset launches a new run of its job. A run works on all of its tasks, so a batch run is rolled back,
paused or resumed as a whole: each of its tasks gets the same history note.

Nothing is deleted. The checkpoints a rollback or a reset makes obsolete are marked superseded
(checkpoints.supersede), and the task's job results are copied, row by row as JSON, into
orbit.superseded_results before the steps that write them run again (keep_results): one mechanism for every
job, since every job's results are rows of a table of schema orbit with the task's id and the run that
wrote them (subtasks, prompts, documents, transcripts, worksheets, agent results...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from sqlalchemy import text

from orbit_pipelines.checkpoints import Checkpoint, current, supersede, task_checkpoints
from orbit_pipelines.ledger import Ledger, Task, TaskStatus
from orbit_pipelines.ledger.states import ACTIVE

if TYPE_CHECKING:
    from dagster import DagsterInstance, JobDefinition

# Tables of schema orbit with task_id and run_id columns that are the ledger's own records or logs that are
# only ever appended to, not a job's results: a rollback overwrites none of them.
NOT_RESULTS = frozenset(
    {"tasks", "task_events", "task_runs", "superseded_results", "superseded_checkpoints", "llm_usage"}
)


# The tag on a run a rollback, a resume or a reset launched: why it exists, on the Runs page.
CONTROL_TAG = "orbit/control"


def control_tag(why: str) -> dict[str, str]:
    return {CONTROL_TAG: why[:200]}


class Refused(ValueError):
    """What an operator asked cannot be done to the task as it is; the message says why and what to do."""


@dataclass(frozen=True)
class Relaunch:
    """A rollback, reset or resume that was launched: the new run and every task it works on."""

    task_ids: list[int]
    run_id: str
    steps: list[str]  # the steps the new run executes
    superseded: list[Checkpoint]
    kept_results: int  # result rows copied to orbit.superseded_results


# -- the steps of a job ------------------------------------------------------------------------------------


def job_of(task: Task) -> JobDefinition:
    from orbit_pipelines.jobs.registry import get_kind

    return get_kind(task.kind).job


def steps_after(job: JobDefinition, step: str) -> list[str]:
    """The steps a run continuing from `step`'s checkpoint executes: every step but `step` and those it
    depends on (their stored outputs are reused), in the job's order."""
    # Private, as operations.steps_from: no public name resolves an op-selection query to op names.
    from dagster._core.selector.subset_selector import parse_op_queries

    reused = parse_op_queries(job.graph, [f"*{step}"])
    return [name for name in job.graph.node_dict if name not in reused]


def check_step(job: JobDefinition, step: str) -> None:
    if step not in job.graph.node_dict:
        raise Refused(f"job {job.name} has no step {step!r}; its steps: {', '.join(job.graph.node_dict)}")


# -- rollback and reset --------------------------------------------------------------------------------------


def rollback(
    ledger: Ledger, instance: DagsterInstance, api, task_id: int, to_step: str, by: str, reason: str
) -> Relaunch:
    """Re-execute the task's latest run from the step after `to_step`, reusing the stored outputs of
    `to_step` and the steps before it; later checkpoints superseded, results kept, who and why in the history.

    Refused (saying why) for an unknown step, a step with no current checkpoint, a task that is running or
    has never run, and a step after which nothing is left to run."""
    task = ledger.get(task_id)
    job = job_of(task)
    check_step(job, to_step)
    _check_not_running(ledger, task, "roll it back")
    checkpoints = task_checkpoints(instance, ledger, task_id)
    if to_step not in current(checkpoints):
        done = ", ".join(sorted(current(checkpoints))) or "none"
        raise Refused(
            f"step {to_step} has no checkpoint for task {task_id}: it has not completed in the task's runs "
            f"(steps with one: {done}); `orbit task checkpoints {task_id}` lists them"
        )
    steps = steps_after(job, to_step)
    if not steps:
        raise Refused(
            f"step {to_step} is the last step of {job.name}: nothing comes after it; "
            f"`orbit task reset {task_id} --reason ...` runs the task again from the start"
        )
    assert task.run_id is not None  # a task with a checkpoint has a run
    later = [c for c in current(checkpoints).values() if c.step in steps]
    what = f"rolled back to {to_step} by {by}: {reason}"
    return _relaunch(
        ledger,
        _run_tasks(ledger, task),
        lambda: api.reexecute_steps(task.run_id, steps, tags=control_tag(f"rollback to {to_step} by {by}")),
        steps,
        later,
        what,
        f"re-executing {', '.join(steps)} of run {task.run_id}",
    )


def reset(ledger: Ledger, instance: DagsterInstance, api, task_id: int, by: str, reason: str) -> Relaunch:
    """Run a COMPLETED task again from the start in a new run of its job; every checkpoint superseded,
    its results kept, who and why in the history."""
    from orbit_pipelines.jobs.registry import get_kind

    task = ledger.get(task_id)
    if task.status != TaskStatus.COMPLETED:
        hint = {
            TaskStatus.FAILED: f"`orbit dlq retry {task_id}` runs a failed task again",
            TaskStatus.PAUSED: f"`orbit task resume {task_id}` continues it",
        }.get(task.status, f"`orbit task show {task_id}` shows where it is")
        raise Refused(f"task {task_id} is {task.status.value}: only a COMPLETED task can be reset; {hint}")
    kind = get_kind(task.kind)
    checkpoints = list(current(task_checkpoints(instance, ledger, task_id)).values())
    return _relaunch(
        ledger,
        [task],
        lambda: api.launch_light(
            kind.job_name, kind.run_config([task]), {**kind.tags_for([task]), **control_tag(f"reset by {by}")}
        ),
        list(job_of(task).graph.node_dict),
        checkpoints,
        f"reset by {by}: {reason}",
        f"running {kind.job_name} again from the start",
    )


def _check_not_running(ledger: Ledger, task: Task, doing: str) -> None:
    if task.status in ACTIVE:
        raise Refused(
            f"task {task.id} is {task.status.value} (run {task.run_id}): it cannot {doing} while a run works on "
            f"it; `orbit task pause {task.id}` stops it at the next step, or wait for it to finish"
        )
    if task.status == TaskStatus.PENDING or task.run_id is None:
        raise Refused(f"task {task.id} is {task.status.value} and has never run: it has no checkpoint yet")


def _run_tasks(ledger: Ledger, task: Task) -> list[Task]:
    """The task and the other tasks its latest run completed (a batch: their results are written again too),
    none of them running. A batch's failed items stay as they are: the re-executed steps skip them."""
    in_run = ledger.tasks_ever_in_run(task.run_id) if task.run_id else []
    busy = [t for t in in_run if t.status in ACTIVE and t.id != task.id]
    if busy:
        raise Refused(
            f"run {task.run_id} of task {task.id} also worked on task {busy[0].id}, which is {busy[0].status.value} "
            "now: wait for it to finish"
        )
    tasks = {t.id: t for t in in_run if t.status == TaskStatus.COMPLETED}
    tasks[task.id] = task
    return [tasks[i] for i in sorted(tasks)]


def _relaunch(
    ledger: Ledger,
    tasks: Sequence[Task],
    launch,
    steps: list[str],
    superseded: list[Checkpoint],
    what: str,
    doing: str,
) -> Relaunch:
    """Keep the tasks' results, queue them, launch; on a failed launch put each back as it was."""
    ids = [t.id for t in tasks]
    kept = keep_results(ledger, ids, what)
    # The history names what no longer counts, so the event stream (which streams task_events) carries it.
    obsolete = "".join(f"; supersedes checkpoint {c.step} of run {c.run_id}" for c in superseded)
    for task in tasks:
        ledger.transition(task.id, TaskStatus.QUEUED, note=f"{what}; {doing}{obsolete}"[:2000])
    try:
        run_id = launch()
    except Exception as exc:
        for task in tasks:
            ledger.move_along(
                task.id,
                task.status,
                run_id=task.run_id or "",
                note=f"not launched, back as it was: {exc}"[:500],
                only_if_current_run=False,
            )
        _drop_kept(ledger, ids)
        raise
    for task in tasks:
        ledger.attach_run(task.id, run_id)
    _claim_kept(ledger, ids, run_id)
    supersede(ledger, ids, superseded, run_id, what)
    return Relaunch(ids, run_id, steps, superseded, kept)


# -- results kept as history -----------------------------------------------------------------------------------


def result_tables(ledger: Ledger) -> list[str]:
    """Every table of schema orbit holding a job's results: it has task_id and run_id columns."""
    with ledger.engine.connect() as conn:
        names = conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = 'orbit' "
                "AND column_name IN ('task_id', 'run_id') GROUP BY table_name HAVING count(*) = 2 "
                "ORDER BY table_name"
            )
        ).scalars()
        return [n for n in names if n not in NOT_RESULTS]


def keep_results(ledger: Ledger, task_ids: Sequence[int], reason: str) -> int:
    """Copy every result row of these tasks into orbit.superseded_results (not yet claimed by a run);
    the number of rows kept."""
    kept = 0
    with ledger.engine.begin() as conn:
        for table in result_tables(ledger):
            kept += conn.execute(
                text(
                    "INSERT INTO orbit.superseded_results (task_id, table_name, run_id, row_data, reason) "
                    f"SELECT r.task_id, :table, r.run_id, to_jsonb(r), :reason FROM orbit.{table} r "
                    "WHERE r.task_id = ANY(:ids)"
                ),
                {"table": table, "ids": list(task_ids), "reason": reason},
            ).rowcount
    return kept


def _claim_kept(ledger: Ledger, task_ids: Sequence[int], run_id: str) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.superseded_results SET by_run_id = :run WHERE task_id = ANY(:ids) AND by_run_id IS NULL"
            ),
            {"run": run_id, "ids": list(task_ids)},
        )


def _drop_kept(ledger: Ledger, task_ids: Sequence[int]) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM orbit.superseded_results WHERE task_id = ANY(:ids) AND by_run_id IS NULL"),
            {"ids": list(task_ids)},
        )


def superseded_results(ledger: Ledger, task_id: int) -> list[dict[str, Any]]:
    """The task's kept results, oldest first: table, run that wrote the row, the row, when, by which run, why."""
    ledger.get(task_id)
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT table_name, run_id, row_data, superseded_at, by_run_id, reason FROM orbit.superseded_results "
                "WHERE task_id = :id ORDER BY id"
            ),
            {"id": task_id},
        )
        return [dict(r._mapping) for r in rows]


# -- pause and resume --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PauseAsked:
    run_id: str
    task_ids: list[int]  # every task of the run: a batch pauses as a whole


def pause(ledger: Ledger, instance: DagsterInstance, task_id: int, by: str) -> PauseAsked:
    """Ask the task's run to stop at its next step boundary (the gate, runtime/pause_gate.py, moves its
    tasks to PAUSED there). Refused for a task no run is working on, or whose run has finished."""
    from orbit_pipelines.ledger.pauses import request_pause

    task = ledger.get(task_id)
    if task.status == TaskStatus.PAUSED:
        raise Refused(f"task {task_id} is PAUSED already; `orbit task resume {task_id}` continues it")
    if task.status not in ACTIVE:
        ran = f"its run {task.run_id} has already finished" if task.run_id else "it has no run"
        raise Refused(f"task {task_id} is {task.status.value}: {ran}, there is nothing to pause")
    run = instance.get_run_by_id(task.run_id) if task.run_id else None
    if run is None:
        raise Refused(
            f"task {task_id} is {task.status.value} and its run has not started yet; try again in a few seconds"
        )
    if run.is_finished:
        raise Refused(
            f"task {task_id}'s run {run.run_id} has already finished ({run.status.value}): there is nothing to pause"
        )
    request_pause(ledger, run.run_id, by)
    return PauseAsked(run.run_id, [t.id for t in ledger.tasks_for_run(run.run_id)] or [task_id])


def wait_for_pause(ledger: Ledger, instance: DagsterInstance, asked: PauseAsked, task_id: int, seconds: float) -> str:
    """Wait up to `seconds` for the asked run to reach its step boundary; what happened, in one line.
    Refused when the run finished first with the task not PAUSED (nothing of it was left to pause)."""
    import time

    from orbit_pipelines.ledger.pauses import pause_request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        request = pause_request(ledger, asked.run_id)
        if request is not None and request.paused_after is not None and request.cut_short:
            return _paused_within(ledger, asked, task_id, request.paused_after)
        if request is not None and request.paused_after is not None:
            return (
                f"task {task_id} is PAUSED after {request.paused_after} (run {asked.run_id}); "
                f"`orbit task resume {task_id}` continues it"
            )
        run = instance.get_run_by_id(asked.run_id)
        if run is not None and run.is_finished:
            status = ledger.get(task_id).status
            if status != TaskStatus.PAUSED:
                raise Refused(
                    f"run {asked.run_id} finished ({run.status.value}) with task {task_id} {status.value}: "
                    "nothing of it was left to pause"
                )
        time.sleep(0.5)
    return f"run {asked.run_id} is still in its step after {seconds:g} s; it pauses when the step ends"


def _paused_within(ledger: Ledger, asked: PauseAsked, task_id: int, step: str) -> str:
    """What a batch paused inside `step` (runtime/batch_pause.py) says of one of its tasks."""
    status, where = ledger.get(task_id).status, f"in {step}, at a boundary between its items (run {asked.run_id})"
    if status == TaskStatus.PAUSED:
        return f"task {task_id} is PAUSED {where}; `orbit task resume {task_id}` continues it"
    paused = [str(t.id) for t in ledger.tasks_ever_in_run(asked.run_id) if t.status == TaskStatus.PAUSED]
    return (
        f"task {task_id} is {status.value} (done before the pause); its batch is PAUSED {where}: tasks "
        f"{', '.join(paused) or 'none'}; `orbit task resume {task_id}` continues them"
    )


def resume(ledger: Ledger, instance: DagsterInstance, api, task_id: int, by: str) -> Relaunch:
    """Continue a PAUSED task from the step after the one its run paused after (a batch paused inside a step:
    from that step, steps_to_resume), re-executing the paused run's remaining steps from the stored outputs.
    Its other paused tasks resume with it; so does such a batch when asked with a task it had completed."""
    from orbit_pipelines.ledger.pauses import pause_request

    task = ledger.get(task_id)
    request = pause_request(ledger, task.run_id) if task.run_id else None
    tasks = [t for t in ledger.tasks_ever_in_run(task.run_id) if t.status == TaskStatus.PAUSED] if task.run_id else []
    if task.status != TaskStatus.PAUSED and not (request is not None and request.cut_short and tasks):
        raise Refused(f"task {task_id} is {task.status.value}, not PAUSED: there is nothing to resume")
    assert task.run_id is not None  # a run paused it
    if request is None or request.paused_after is None:
        raise Refused(f"task {task_id} is PAUSED but its run {task.run_id} has no pause on record; `orbit task show`")
    steps = steps_to_resume(instance, task.run_id, job_of(task), request)
    where = f"{'in' if request.cut_short else 'after'} {request.paused_after}"
    return _relaunch(
        ledger,
        tasks or [task],
        lambda: api.reexecute_steps(task.run_id, steps, tags=control_tag(f"resume by {by}")),
        steps,
        [],
        f"resumed by {by}",
        f"re-executing {', '.join(steps)} of run {task.run_id} (paused {where})",
    )


def steps_to_resume(instance: DagsterInstance, run_id: str, job: JobDefinition, request) -> list[str]:
    """The steps a resume re-executes: the paused run's remaining steps, and first the step a batch paused
    inside (it completed in Dagster, but not for the tasks it left PAUSED: it runs again for them)."""
    steps = remaining_steps(instance, run_id, job)
    return [s for s in job.graph.node_dict if s in steps or (request.cut_short and s == request.paused_after)]


def remaining_steps(instance: DagsterInstance, run_id: str, job: JobDefinition) -> list[str]:
    """The steps of a paused run that it was to execute and did not complete, in the job's order."""
    from dagster import DagsterEventType

    run = instance.get_run_by_id(run_id)
    planned = set(run.step_keys_to_execute or job.graph.node_dict) if run is not None else set(job.graph.node_dict)
    done = {
        r.event_log_entry.step_key
        for r in instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_SUCCESS).records
    }
    return [s for s in job.graph.node_dict if s in planned and s not in done]

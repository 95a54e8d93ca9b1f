"""Retrying dead letters (`orbit dlq retry`): which failed tasks, and how each gets a run again.

A task whose run failed is retried by re-executing that run from failure (once per run, however many
of its tasks are retried); a task whose run succeeded or is gone (a document refused inside a good
batch) gets a new run, batched as its kind batches (`JobKind.batches`), as the dispatch sensor would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

from orbit_pipelines.ledger import Ledger, Task

# Enough for "every dead letter": the list is a work queue for people, not an archive.
MAX_RETRIED = 10_000


class NotDeadLetters(ValueError):
    def __init__(self, task_ids: list[int]):
        which = f"task {task_ids[0]} is" if len(task_ids) == 1 else f"tasks {', '.join(map(str, task_ids))} are"
        super().__init__(f"{which} not on the dead-letter list; `orbit dlq list` shows the tasks that are")
        self.task_ids = task_ids


def select_dead_letters(
    ledger: Ledger, task_ids: Sequence[int] = (), *, kind: str | None = None, every: bool = False
) -> list[Task]:
    """The dead letters to retry: `task_ids`, or with `every` all of them (of `kind` when given).
    Raises NotDeadLetters for ids that are not on the list (of that kind)."""
    letters = {r["id"] for r in ledger.dead_letters(kind, limit=MAX_RETRIED)}
    wanted = sorted(letters) if every else list(task_ids)
    not_dead = [i for i in wanted if i not in letters]
    if not_dead:
        raise NotDeadLetters(not_dead)
    return ledger.get_many(wanted)


@dataclass(frozen=True)
class Retry:
    task_ids: list[int]
    new_run: str
    reexecuted_run: str | None  # the failed run re-executed from failure; None for a new run


def retry_plan(api, tasks: Sequence[Task]) -> tuple[dict[str, list[Task]], list[Task]]:
    """({failed run id: its tasks to retry by re-execution}, [tasks that need a new run]), asking the
    webserver (`api`, an operations.DagsterApi) how each task's last run ended."""
    from orbit_pipelines.operations import RunNotFound

    by_failed_run: dict[str, list[Task]] = {}
    fresh: list[Task] = []
    for task in tasks:
        try:
            failed = task.run_id is not None and api.run(task.run_id)["status"] == "FAILURE"
        except RunNotFound:  # purged by the retention job: nothing left to re-execute
            failed = False
        if failed and task.run_id is not None:
            by_failed_run.setdefault(task.run_id, []).append(task)
        else:
            fresh.append(task)
    return by_failed_run, fresh


def retry_dead_letters(api, tasks: Sequence[Task]) -> Iterator[Retry]:
    """Start the runs that retry `tasks`, yielding each as it is launched (so a caller can report what
    was done before an operations.OperationError stops the rest)."""
    from orbit_pipelines.jobs.registry import get_kind

    by_failed_run, fresh = retry_plan(api, tasks)
    for run_id, group in by_failed_run.items():
        yield Retry([t.id for t in group], api.reexecute(run_id, "FROM_FAILURE"), run_id)
    for kind_name in sorted({t.kind for t in fresh}):
        kind = get_kind(kind_name)
        for batch in kind.batches([t for t in fresh if t.kind == kind_name]):
            yield Retry(
                [t.id for t in batch], api.launch(kind.job_name, kind.run_config(batch), kind.tags_for(batch)), None
            )

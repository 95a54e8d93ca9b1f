"""Runs over several ledger tasks (a batch): each item carries its own failure. A failed item ends its
task at once (FAILED, with the step, error class and message, on the dead-letter list) and the rest of
the batch goes on; `orbit dlq retry` gives it a run of its own later.

A step in which no item is left fails itself, so a run of one task fails at the step that failed
and can be re-executed from it (with corrected config), exactly as a one-task job would.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from dagster import OpExecutionContext
from pydantic import BaseModel

from orbit_pipelines.jobs.common import permanent_failure
from orbit_pipelines.ledger import Ledger, TaskStatus


class ItemFailure(BaseModel):
    error_class: str
    message: str
    step: str


class BatchItem(Protocol):
    task_id: int
    failure: ItemFailure | None


def record_failures(context: OpExecutionContext, ledger: Ledger, items: Iterable[BatchItem], step: str,
                    label=lambda item: "") -> list[BatchItem]:
    """End the tasks of the items that failed in `step`; returns those items."""
    failed = [i for i in items if i.failure is not None and i.failure.step == step]
    for item in failed:
        ledger.move_along(item.task_id, TaskStatus.FAILED, run_id=context.run_id, note="failed in its batch",
                          error=(item.failure.error_class, item.failure.message, item.failure.step))
        context.log.warning(f"task {item.task_id}{label(item)} failed in {step}: {item.failure.error_class}: "
                            f"{item.failure.message}")
    return failed


def fail_if_none_left(items: list[BatchItem], step: str) -> None:
    """Fail the step when every item has failed and this step made at least one of them fail."""
    if not items or any(i.failure is None for i in items):
        return
    mine = [i for i in items if i.failure.step == step]
    if not mine:
        return
    first = mine[0].failure
    message = first.message if len(items) == 1 else (
        f"all {len(items)} tasks of the run failed; the first: task {mine[0].task_id}: {first.message}")
    raise permanent_failure(message, first.error_class, task_ids=[i.task_id for i in mine][:100])

"""The items of a run: one task each, carrying its own failure. Pydantic only (job models import this
and must load without Dagster)."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel


class ItemFailure(BaseModel):
    error_class: str
    message: str
    step: str


class Item(BaseModel):
    """One task as it moves through a run; each op fills in its part or records the task's failure."""

    task_id: int
    failure: Optional[ItemFailure] = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def failed_with(self) -> ItemFailure:
        """The failure of an item known to have failed."""
        if self.failure is None:
            raise ValueError(f"task {self.task_id} has not failed")
        return self.failure

    def failed(self, error_class: str, message: str, step: str):
        return self.model_copy(update={"failure": ItemFailure(error_class=error_class, message=message, step=step)})

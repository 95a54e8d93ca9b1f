"""Which job runs which kind of task. The dispatch sensor and the CLI only look here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dagster import JobDefinition
from pydantic import BaseModel

from orbit_pipelines.ledger import Task


@dataclass(frozen=True)
class JobKind:
    kind: str
    job: JobDefinition
    payload_model: type[BaseModel]
    # Run config for one run over these tasks (one task unless the kind batches).
    run_config: Callable[[list[Task]], dict[str, Any]]
    default_lane: str = "async"
    # How many pending tasks of this kind one run may take (read when the sensor ticks).
    batch_size: Callable[[], int] = lambda: 1

    @property
    def job_name(self) -> str:
        return self.job.name


class UnknownKind(KeyError):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind

    def __str__(self) -> str:
        return f"unknown task kind {self.kind!r}; known kinds: {', '.join(sorted(all_kinds()))}"


def all_kinds() -> dict[str, JobKind]:
    # Imported here so importing the registry never drags every job in before it is needed.
    from orbit_pipelines.jobs.document_processing.kind import KIND as document
    from orbit_pipelines.jobs.task_decomposition.kind import KIND as decomposition

    return {k.kind: k for k in (decomposition, document)}


def get_kind(kind: str) -> JobKind:
    try:
        return all_kinds()[kind]
    except KeyError:
        raise UnknownKind(kind) from None

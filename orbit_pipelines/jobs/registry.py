"""Which job runs which kind of task. The dispatch sensor and the CLI only look here."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass, field
from functools import lru_cache
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
    # Tags of the kind's own, on top of the standard ones (e.g. a concurrency key).
    run_tags: Callable[[list[Task]], dict[str, str]] = lambda tasks: {}
    # Resources only this kind's job needs; Definitions binds them.
    resources: dict[str, Any] = field(default_factory=dict)

    def tags_for(self, tasks: list[Task]) -> dict[str, str]:
        from orbit_pipelines.jobs.common import run_tags

        return {**run_tags(tasks), **self.run_tags(tasks)}

    @property
    def job_name(self) -> str:
        return self.job.name


class UnknownKind(KeyError):
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind

    def __str__(self) -> str:
        return f"unknown task kind {self.kind!r}; known kinds: {', '.join(sorted(all_kinds()))}"


@lru_cache(maxsize=1)
def _discovered() -> tuple[JobKind, ...]:
    """Every `orbit_pipelines/jobs/<name>/kind.py` that defines KIND: adding a job is adding a folder."""
    import orbit_pipelines.jobs as jobs_package

    found = []
    for module in sorted(pkgutil.iter_modules(jobs_package.__path__), key=lambda m: m.name):
        if module.ispkg and importlib.util.find_spec(f"{jobs_package.__name__}.{module.name}.kind"):
            kind = importlib.import_module(f"{jobs_package.__name__}.{module.name}.kind").KIND
            found.append(kind)
    names = [k.kind for k in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"task kinds registered twice: {sorted(duplicates)}")
    return tuple(found)


def all_kinds() -> dict[str, JobKind]:
    return {k.kind: k for k in _discovered()}


def get_kind(kind: str) -> JobKind:
    try:
        return all_kinds()[kind]
    except KeyError:
        raise UnknownKind(kind) from None

"""Which job runs which kind of task. The dispatch sensor and the CLI only look here.

A kind is light: its name, payload model and dispatch rules load without Dagster, so `orbit task
submit` validates and submits in a fraction of a second. The job and its resources are imported
the first time something asks for them (Definitions, the sensors).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from pydantic import BaseModel

from orbit_pipelines.ledger import Task
from orbit_pipelines.settings import DEFAULT_RUN_BUDGET_SECONDS, run_budget_seconds

if TYPE_CHECKING:
    from dagster import JobDefinition

    from orbit_pipelines.runtime.inbox import InboxKind


def _no_resources() -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class JobKind:
    kind: str
    # The job's name; the job itself is `<job_name>` in the `job.py` next to the kind's `kind.py`.
    job_name: str
    payload_model: type[BaseModel]
    # Run config for one run over these tasks (one task unless the kind batches).
    run_config: Callable[[list[Task]], dict[str, Any]]
    default_lane: str = "async"
    # How many pending tasks of this kind one run may take (read when the sensor ticks).
    batch_size: Callable[[], int] = lambda: 1
    # Tags of the kind's own, on top of the standard ones (e.g. a concurrency key).
    run_tags: Callable[[list[Task]], dict[str, str]] = lambda tasks: {}
    # Resources only this kind's job needs, built when Definitions loads (they import Dagster).
    resources: Callable[[], dict[str, Any]] = _no_resources
    # Commands of the kind's own (a click group, `orbit <name> ...`), added to the CLI as it loads.
    cli: Optional[Callable[[], Any]] = None
    # The kind's own section of `orbit task show` (markdown lines) and of `--json` (a dict), for one task.
    report_markdown: Optional[Callable[[Any, Task], list[str]]] = None
    report_json: Optional[Callable[[Any, Task], Any]] = None
    # How long one run may take (seconds) before Dagster's run monitoring fails it with a Timeout;
    # ORBIT_MAX_RUNTIME_SECONDS[_<KIND>] overrides it (settings.run_budget_seconds).
    max_runtime_seconds: int = DEFAULT_RUN_BUDGET_SECONDS
    # The phase a running task is in while its run executes a step (step name -> phase name, e.g.
    # "upload_and_extract": "EXTRACTING"): `orbit task show/list`, the metrics and webhooks show it. A step
    # not listed leaves the task in the phase it was in.
    phases: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # The kind's inbox folder, if it has one (runtime.inbox.InboxKind): the inbox sensor scans it, `orbit up`
    # creates it, `orbit status` counts its refused files.
    inbox: Optional[Callable[[], InboxKind]] = None
    # Set by discovery: the kind's folder, e.g. orbit_pipelines.jobs.task_decomposition.
    package: str = ""

    def run_budget(self) -> int:
        """The `dagster/max_runtime` of this kind's runs, in seconds (read when a run is requested)."""
        return run_budget_seconds(self.kind, self.max_runtime_seconds)

    def tags_for(self, tasks: list[Task]) -> dict[str, str]:
        from orbit_pipelines.runtime.tags import MAX_RUNTIME_TAG, run_tags

        return {**run_tags(tasks), MAX_RUNTIME_TAG: str(self.run_budget()), **self.run_tags(tasks)}

    def batches(self, tasks: list[Task]) -> list[list[Task]]:
        """These tasks of this kind as runs, split as the dispatch sensor's claim splits them: per lane,
        in as few evenly filled runs of at most `batch_size()` as possible (30 tasks at 25 are two runs
        of 15), keeping the order given. Used where runs are started outside the sensor (direct launch
        of a set of documents, dead-letter retries)."""
        size = max(1, self.batch_size())
        runs: list[list[Task]] = []
        for lane in dict.fromkeys(t.lane for t in tasks):
            group = [t for t in tasks if t.lane == lane]
            per_run = -(-len(group) // -(-len(group) // size))
            runs += [group[i : i + per_run] for i in range(0, len(group), per_run)]
        return runs

    @property
    def job(self) -> JobDefinition:
        return getattr(importlib.import_module(f"{self.package}.job"), self.job_name)


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
            package = f"{jobs_package.__name__}.{module.name}"
            kind = importlib.import_module(f"{package}.kind").KIND
            found.append(dataclasses.replace(kind, package=package))
    names = [k.kind for k in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"task kinds registered twice: {sorted(duplicates)}")
    return tuple(found)


def all_kinds() -> dict[str, JobKind]:
    return {k.kind: k for k in _discovered()}


def inboxes() -> list[InboxKind]:
    """Every kind's inbox, in the kinds' order."""
    return [k.inbox() for k in _discovered() if k.inbox is not None]


def get_kind(kind: str) -> JobKind:
    try:
        return all_kinds()[kind]
    except KeyError:
        raise UnknownKind(kind) from None

"""How every job over ledger tasks is declared: `@task_job(kind, description)`.

In-process executor: the work is I/O bound and concurrent inside each op where it is bulk (bounded
pools), agents and models run elsewhere already; the multiprocess executor would spend seconds per step
starting processes on a two-core machine for no gain. It is wrapped in the pause gate (runtime/pause_gate.py),
which stops a run between two steps when `orbit task pause` asks. The failure hook marks the run's unfinished tasks
FAILED the moment a step has failed for good; the `orbit/kind` tag lets the Runs page filter by kind. The
kind's run budget (`dagster/max_runtime`) is a tag of the job, so a Launchpad launch carries it too.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from dagster import JobDefinition, job

from orbit_pipelines.runtime.lifecycle import record_task_failure
from orbit_pipelines.runtime.pause_gate import pausable_in_process_executor
from orbit_pipelines.runtime.tags import KIND_TAG, MAX_RUNTIME_TAG
from orbit_pipelines.settings import run_budget_seconds


def budget_of(kind: str) -> int:
    """The registered kind's run budget; the default one for a job over a kind no folder declares (tests'
    one-op jobs). The registry is imported here, not at the top: it finds the kinds, which import this."""
    from orbit_pipelines.jobs.registry import UnknownKind, get_kind

    try:
        return get_kind(kind).run_budget()
    except UnknownKind:
        return run_budget_seconds(kind)


def task_job(
    kind: str, description: str, default_config: Optional[Mapping[str, Any]] = None
) -> Callable[[Callable[[], None]], JobDefinition]:
    """`default_config` is what the Launchpad starts with, used whole when a launch gives no config (Dagster
    takes an op's config from it only when the launch gives that op none)."""
    options: dict[str, Any] = {"config": default_config} if default_config else {}
    return job(
        executor_def=pausable_in_process_executor,
        hooks={record_task_failure},
        tags={KIND_TAG: kind, MAX_RUNTIME_TAG: str(budget_of(kind))},
        description=description,
        **options,
    )

"""How every job over ledger tasks is declared: `@task_job(kind, description)`.

In-process executor: the work is I/O bound and concurrent inside each op where it is bulk (bounded
pools), agents and models run elsewhere already; the multiprocess executor would spend seconds per step
starting processes on a two-core machine for no gain. The failure hook marks the run's unfinished tasks
FAILED the moment a step has failed for good; the `orbit/kind` tag lets the Runs page filter by kind.
"""

from __future__ import annotations

from typing import Callable

from dagster import JobDefinition, in_process_executor, job

from orbit_pipelines.runtime.lifecycle import record_task_failure
from orbit_pipelines.runtime.tags import KIND_TAG


def task_job(kind: str, description: str) -> Callable[[Callable[[], None]], JobDefinition]:
    return job(
        executor_def=in_process_executor, hooks={record_task_failure}, tags={KIND_TAG: kind}, description=description
    )

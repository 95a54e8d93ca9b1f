"""How the ledger's `decomposition` tasks become task_decomposition runs."""

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.task_decomposition.job import task_decomposition
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.ops import KIND as _KIND

KIND = JobKind(
    kind=_KIND,
    job=task_decomposition,
    payload_model=DecompositionPayload,
    run_config=lambda tasks: {"ops": {"load_task": {"config": {"task_id": tasks[0].id}}}},
)

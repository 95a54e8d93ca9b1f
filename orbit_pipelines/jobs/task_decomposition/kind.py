"""How the ledger's `decomposition` tasks become task_decomposition runs."""

import os

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.task_decomposition.models import KIND as _KIND
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload


def resources() -> dict:
    from orbit_pipelines.resources.llm import llm_from_environment

    return {"llm": llm_from_environment()}


# A lone task gets a run of its own at once; a backlog is packed into runs of up to this many, since
# starting a run costs ~2 s here and decomposing a task a few milliseconds.
DEFAULT_BATCH_SIZE = 25


def batch_size() -> int:
    return int(os.environ.get("ORBIT_DECOMPOSITION_BATCH_SIZE", DEFAULT_BATCH_SIZE))


def run_config(tasks) -> dict:
    config = {"task_id": tasks[0].id} if len(tasks) == 1 else {"task_ids": [t.id for t in tasks]}
    return {"ops": {"load_task": {"config": config}}}


KIND = JobKind(
    kind=_KIND,
    job_name="task_decomposition",
    payload_model=DecompositionPayload,
    run_config=run_config,
    batch_size=batch_size,
    resources=resources,
    phases={
        "load_task": "LOADING",
        "decompose_task": "DECOMPOSING",
        "enrich_subtasks": "ENRICHING",
        "generate_prompts": "GENERATING_PROMPTS",
        "store_results": "STORING",
    },
)

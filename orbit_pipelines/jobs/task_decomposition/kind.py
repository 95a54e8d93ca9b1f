"""How the ledger's `decomposition` tasks become task_decomposition runs."""

import os

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.task_decomposition.models import KIND as _KIND
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload


def resources() -> dict:
    from orbit_pipelines.resources import env_number, optional_env_var
    from orbit_pipelines.resources.llm import LLMResource

    # Prices and budgets are read when the code location loads; the endpoint and model when a run uses
    # them (LLMResource.endpoint); the key only through EnvVar.
    return {
        "llm": LLMResource(
            api_key=optional_env_var("ORBIT_LLM_API_KEY"),
            read_timeout=env_number("ORBIT_LLM_TIMEOUT_SECONDS", 120),
            price_input_per_1k=env_number("ORBIT_LLM_PRICE_INPUT_PER_1K", 0),
            price_output_per_1k=env_number("ORBIT_LLM_PRICE_OUTPUT_PER_1K", 0),
            task_budget_usd=env_number("ORBIT_LLM_TASK_BUDGET_USD", 1.0),
            daily_budget_usd=env_number("ORBIT_LLM_DAILY_BUDGET_USD", 20.0),
        )
    }


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
)

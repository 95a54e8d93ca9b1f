from dagster import in_process_executor, job

from orbit_pipelines.jobs.task_decomposition.ops import (
    decompose_task,
    enrich_subtasks,
    generate_prompts,
    load_task,
    store_results,
)
from orbit_pipelines.runtime.lifecycle import record_task_failure


# In-process: five small steps; the multiprocess executor would spend seconds per step starting
# processes on a two-core machine for no gain.
@job(
    executor_def=in_process_executor,
    hooks={record_task_failure},
    tags={"orbit/kind": "decomposition"},
    description="Decompose a software task into subtasks and implementation prompts.",
)
def task_decomposition():
    store_results(generate_prompts(enrich_subtasks(decompose_task(load_task()))))

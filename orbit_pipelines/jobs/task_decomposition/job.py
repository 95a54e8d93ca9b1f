from orbit_pipelines.jobs.task_decomposition.models import KIND
from orbit_pipelines.jobs.task_decomposition.ops import (
    LAUNCHPAD_SAMPLE,
    decompose_task,
    enrich_subtasks,
    generate_prompts,
    load_task,
    store_results,
)
from orbit_pipelines.runtime.jobs import task_job


@task_job(
    KIND,
    "Decompose a software task into subtasks and implementation prompts.",
    default_config={"ops": {"load_task": {"config": {"task": LAUNCHPAD_SAMPLE}}}},
)
def task_decomposition():
    store_results(generate_prompts(enrich_subtasks(decompose_task(load_task()))))

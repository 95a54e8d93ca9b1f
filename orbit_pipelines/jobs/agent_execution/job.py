from orbit_pipelines.jobs.agent_execution.models import KIND
from orbit_pipelines.jobs.agent_execution.ops import finish_agent_task, load_agent_task, run_prompts
from orbit_pipelines.runtime.jobs import task_job


@task_job(KIND, "Run a decomposed task's implementation prompts through a coding-agent command (Dagster Pipes).")
def agent_execution():
    finish_agent_task(run_prompts(load_agent_task()))

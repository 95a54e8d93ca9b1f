from dagster import in_process_executor, job

from orbit_pipelines.jobs.agent_execution.ops import finish_agent_task, load_agent_task, run_prompts
from orbit_pipelines.runtime.lifecycle import record_task_failure


# In-process: the agents run in their own processes already; a process per step would only add seconds.
@job(executor_def=in_process_executor, hooks={record_task_failure}, tags={"orbit/kind": "agent"},
     description="Run a decomposed task's implementation prompts through a coding-agent command (Dagster Pipes).")
def agent_execution():
    finish_agent_task(run_prompts(load_agent_task()))

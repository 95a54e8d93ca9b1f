"""How the ledger's `agent` tasks become agent_execution runs: found by the registry, no registration."""

import os

from orbit_pipelines.jobs.agent_execution.models import KIND as _KIND
from orbit_pipelines.jobs.agent_execution.models import AgentPayload
from orbit_pipelines.jobs.registry import JobKind

WORKDIR_TAG = "orbit/agent_workdir"


def resources() -> dict:
    from orbit_pipelines.jobs.agent_execution.resources import AgentRunner
    from orbit_pipelines.resources import env_choice

    # Deployment settings, read when the code location loads; secrets for the agent stay in the
    # environment and reach it only when ORBIT_AGENT_ENV_ALLOW names them.
    return {
        "agent": AgentRunner(
            command_json=os.environ.get("ORBIT_AGENT_COMMAND", ""),
            prompt_via=env_choice("ORBIT_AGENT_PROMPT_VIA", "argument", ("argument", "stdin", "file")),
            env_allow=os.environ.get("ORBIT_AGENT_ENV_ALLOW", ""),
            workdir_root=os.environ.get("ORBIT_AGENT_WORKDIR_ROOT", ""),
        )
    }


KIND = JobKind(
    kind=_KIND,
    job_name="agent_execution",
    payload_model=AgentPayload,
    run_config=lambda tasks: {"ops": {"load_agent_task": {"config": {"task_id": tasks[0].id}}}},
    # One working directory per decomposed task: dagster.yaml lets one run at a time use it.
    run_tags=lambda tasks: {WORKDIR_TAG: f"task-{tasks[0].payload.get('decomposition_task_id', '')}"},
    resources=resources,
    phases={"load_agent_task": "LOADING", "run_prompts": "RUNNING_AGENT", "finish_agent_task": "STORING"},
)

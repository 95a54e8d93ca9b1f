"""Ops of agent_execution: load the plan, run each prompt through the agent via Dagster Pipes, finish."""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from dagster import (
    Config,
    MetadataValue,
    OpExecutionContext,
    Out,
    Output,
    PipesSubprocessClient,
    op,
)
from dagster._core.errors import DagsterPipesExecutionError  # not exported; what a failed Pipes child raises
from pydantic import BaseModel, Field, ValidationError

from orbit_pipelines.jobs.agent_execution.logic import (
    NothingToRun,
    blocked_by,
    describe,
    execution_order,
    failure_summary,
    results_markdown,
)
from orbit_pipelines.jobs.agent_execution.models import (
    KIND,
    AgentPayload,
    AgentPlan,
    AgentResult,
    AgentSpec,
    PromptStatus,
    ScheduledPrompt,
)
from orbit_pipelines.jobs.agent_execution.resources import AgentRunner
from orbit_pipelines.jobs.agent_execution.store import load_results, save_result
from orbit_pipelines.jobs.task_decomposition.decompose import PlanError
from orbit_pipelines.jobs.task_decomposition.models import Category
from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import Ledger, TaskNotFound
from orbit_pipelines.resources import LedgerResource, env_number
from orbit_pipelines.runtime.intake import describe_validation_error, refuse_inline, settle_refused, submit_inline
from orbit_pipelines.runtime.lifecycle import complete_items, load_ledger_task
from orbit_pipelines.runtime.retry import (
    TRANSIENT_RETRY,
    permanent_failure,
    retry_on_infrastructure_errors,
    retry_requested,
)

AGENT_POOL = "agents"
WRAPPER_MODULE = "orbit_pipelines.jobs.agent_execution.wrapper"


class LoadAgentTaskConfig(Config):
    task_id: Optional[int] = Field(default=None, description="Ledger agent task to run (set by the dispatch sensor).")
    decomposition_task_id: Optional[int] = Field(
        default=None, description="Launchpad: run the prompts of this decomposed task (recorded as a new agent task)."
    )
    categories: list[str] = Field(
        default=[],
        description="With decomposition_task_id: only these prompts (DATA_MODEL, SERVICE, HTTP_API, TESTING).",
    )


def _inline_task_id(context: OpExecutionContext, ledger: Ledger, config: LoadAgentTaskConfig) -> int:
    given = {"decomposition_task_id": config.decomposition_task_id, "categories": config.categories}
    try:
        payload = AgentPayload.model_validate(given)
    except ValidationError as exc:
        message = f"invalid {KIND} payload: {describe_validation_error(exc)}"
        refuse_inline(context, ledger, KIND, given, "InvalidPayload", message)
        raise permanent_failure(message, "InvalidPayload") from None
    task = submit_inline(context, ledger, KIND, payload)
    settle_refused(context, ledger, task)
    return task.id


@op(retry_policy=TRANSIENT_RETRY, out=Out(AgentPlan, is_required=False))
def load_agent_task(context: OpExecutionContext, config: LoadAgentTaskConfig, ledger: LedgerResource):
    """Read the agent task, mark it RUNNING, and order the decomposed task's prompts by their dependencies."""
    led = ledger.get()
    task_id = config.task_id
    if task_id is None:
        if config.decomposition_task_id is None:
            message = (
                "task_id or decomposition_task_id: give the agent task, or the decomposed task whose prompts to run"
            )
            refuse_inline(context, led, KIND, {}, "MissingTaskId", message)
            raise permanent_failure(message, "MissingTaskId")
        task_id = _inline_task_id(context, led, config)
    loaded = load_ledger_task(context, led, task_id, AgentPayload, KIND)
    if loaded is None:
        return  # already done, or in progress in another run
    task, payload = loaded
    source = payload.decomposition_task_id
    try:
        if led.get(source).kind != "decomposition":
            raise permanent_failure(f"decomposition_task_id: task {source} is no decomposition task", "WrongKind")
    except TaskNotFound:
        raise permanent_failure(f"decomposition_task_id: task {source} does not exist", "TaskNotFound") from None
    subtasks, prompts = load_plan(led.engine, source)
    try:
        scheduled = execution_order(prompts, subtasks, payload.categories)
    except NothingToRun as exc:
        raise permanent_failure(f"decomposition task {source}: {exc}", "NothingToRun", task_id=task.id) from None
    except PlanError as exc:
        raise permanent_failure(
            f"decomposition task {source}: its prompts cannot be ordered: {exc}", "DependencyCycle", task_id=task.id
        ) from None
    order = " -> ".join(p.category.value for p in scheduled)
    context.log.info(f"task {task.id}: running the prompts of task {source} in this order: {order}")
    yield Output(
        AgentPlan(task_id=task.id, decomposition_task_id=source, prompts=scheduled),
        metadata={"task_id": task.id, "decomposition_task_id": source, "order": order},
    )


class RunPromptsConfig(Config):
    timeout_seconds: float = Field(
        default=env_number("ORBIT_AGENT_TIMEOUT_SECONDS", 1800),
        gt=0,
        description="Per prompt: the agent's process group is stopped after this long.",
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        description="Retries after an agent crashed or timed out. A clean "
        "non-zero exit is the agent's answer and is not retried.",
    )
    rerun_succeeded: bool = Field(
        default=False,
        description="Run again the prompts that already succeeded for this task (otherwise a re-execution skips them).",
    )


class AgentOutcome(BaseModel):
    task_id: int
    workdir: str
    results: list[AgentResult]


def prepare_workdir(path: Path, git_init: bool) -> Path:
    """The per-task working directory; a new git repository unless it already is the top of one
    (inside another repository, say under a gitignored ORBIT_HOME, the agent's files would be ignored).
    Without git the prompts still run; their results just list no changed files."""
    path.mkdir(parents=True, exist_ok=True)
    if git_init and shutil.which("git"):
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=path, capture_output=True, text=True, timeout=60
        )
        if top.returncode != 0 or Path(top.stdout.strip()).resolve() != path.resolve():
            subprocess.run(["git", "init", "--quiet", str(path)], capture_output=True, timeout=60)
    return path


def run_through_pipes(context: OpExecutionContext, spec: AgentSpec) -> AgentResult:
    """One prompt through the wrapper: its stages and the agent's output stream into this run's log."""
    try:
        invocation = PipesSubprocessClient(cwd=spec.workdir).run(
            context=context, command=[sys.executable, "-m", WRAPPER_MODULE], extras=spec.model_dump(mode="json")
        )
    except DagsterPipesExecutionError as exc:
        return AgentResult(
            category=spec.category, status=PromptStatus.CRASHED, detail=f"the Pipes wrapper failed: {exc}"
        )
    reported = [
        m["agent_result"] for m in invocation.get_custom_messages() if isinstance(m, dict) and "agent_result" in m
    ]
    if not reported:
        return AgentResult(
            category=spec.category,
            status=PromptStatus.CRASHED,
            detail="the Pipes wrapper ended without reporting a result",
        )
    return AgentResult.model_validate(reported[-1])


# No RetryPolicy: an agent may run for many minutes, and Dagster turns a cancel that interrupts an op
# with a RetryPolicy into a retry. Crashes and timeouts are retried explicitly instead.
@op(pool=AGENT_POOL)
def run_prompts(
    context: OpExecutionContext, config: RunPromptsConfig, plan: AgentPlan, agent: AgentRunner, ledger: LedgerResource
) -> AgentOutcome:
    """Run each prompt through the agent command, dependencies first, recording every result.

    A prompt that already succeeded for this task (same text) is not run again. A prompt whose
    dependency did not succeed is SKIPPED. Crashes and timeouts are retried; a clean non-zero exit
    is the agent's answer: recorded, not retried, and the task fails with it.
    """
    try:
        command, allowed = agent.argv(), agent.allowed_names()
    except ValueError as exc:
        raise permanent_failure(str(exc), "AgentNotConfigured", task_id=plan.task_id) from None
    engine = ledger.get().engine
    with retry_on_infrastructure_errors(context):
        workdir = prepare_workdir(agent.workdir(plan.decomposition_task_id), agent.git_init)
        stored = load_results(engine, plan.task_id)
        outcomes: dict[Category, PromptStatus] = {}
        for prompt in plan.prompts:
            previous = stored.get(prompt.category)
            if (
                previous
                and previous.result.status == PromptStatus.SUCCEEDED
                and previous.prompt_sha256 == prompt.sha256
                and not config.rerun_succeeded
            ):
                context.log.info(
                    f"prompt {prompt.category.value} already succeeded in run {previous.run_id}; not run again"
                )
                outcomes[prompt.category] = PromptStatus.SUCCEEDED
                continue
            result = _run_or_skip(context, config, plan, prompt, outcomes, command, allowed, agent, workdir)
            save_result(engine, plan.task_id, plan.decomposition_task_id, prompt, result, str(workdir), context.run_id)
            outcomes[prompt.category] = result.status
            retryable = result.status in (PromptStatus.TIMED_OUT, PromptStatus.CRASHED)
            retry = retry_requested(context, max_retries=config.max_retries) if retryable else None
            if retry is not None:
                context.log.warning(
                    f"{describe(result)}; retrying in {retry.seconds_to_wait:.1f} s "
                    f"(retry {context.retry_number + 1} of {config.max_retries})"
                )
                raise retry
            log = context.log.info if result.status == PromptStatus.SUCCEEDED else context.log.warning
            log(describe(result))
        everything = load_results(engine, plan.task_id)
    results = [everything[p.category].result for p in plan.prompts]
    metadata = {
        "results": MetadataValue.md(results_markdown(results)),
        "workdir": str(workdir),
        "succeeded": sum(r.status == PromptStatus.SUCCEEDED for r in results),
    }
    failed = failure_summary(results)
    if failed:
        error_class, message = failed
        raise permanent_failure(f"task {plan.task_id}: {message}", error_class, task_id=plan.task_id, **metadata)
    context.add_output_metadata(metadata)
    return AgentOutcome(task_id=plan.task_id, workdir=str(workdir), results=results)


def _run_or_skip(
    context,
    config: RunPromptsConfig,
    plan: AgentPlan,
    prompt: ScheduledPrompt,
    outcomes: dict[Category, PromptStatus],
    command: list[str],
    allowed: list[str],
    agent: AgentRunner,
    workdir: Path,
) -> AgentResult:
    blocker = blocked_by(prompt, outcomes)
    if blocker is not None:
        return AgentResult(
            category=prompt.category,
            status=PromptStatus.SKIPPED,
            detail=f"needs {blocker.value}, which did not succeed",
        )
    spec = AgentSpec(
        task_id=plan.task_id,
        category=prompt.category,
        prompt=prompt.text,
        command=command,
        prompt_via=agent.prompt_via,
        workdir=str(workdir),
        timeout_seconds=config.timeout_seconds,
        kill_grace_seconds=agent.kill_grace_seconds,
        env_allow=allowed,
        log_lines=agent.log_lines,
        tail_bytes=agent.tail_bytes,
    )
    return run_through_pipes(context, spec)


@op(retry_policy=TRANSIENT_RETRY)
def finish_agent_task(context: OpExecutionContext, outcome: AgentOutcome, ledger: LedgerResource) -> None:
    """Every prompt succeeded: complete the task, with the results table and changed files on the run."""
    complete_items(context, ledger.get(), [outcome.task_id])
    changed = sorted({f for r in outcome.results for f in (r.changed_files or [])})
    context.add_output_metadata(
        {
            "task_id": outcome.task_id,
            "workdir": outcome.workdir,
            "results": MetadataValue.md(results_markdown(outcome.results)),
            "changed_files": MetadataValue.json(changed),
        }
    )

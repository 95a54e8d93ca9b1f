"""Ops of task_decomposition: thin wrappers that call the pure logic and the ledger."""

import os
from collections import Counter
from enum import Enum
from typing import Optional

from dagster import Config, MetadataValue, OpExecutionContext, Out, Output, op
from pydantic import BaseModel, Field, ValidationError

from orbit_pipelines.intake import PayloadError, describe_validation_error, validate_payload
from orbit_pipelines.jobs.common import (
    TRANSIENT_RETRY,
    complete_task,
    permanent_failure,
    retry_on_infrastructure_errors,
    start_task,
    submit_inline_task,
)
from orbit_pipelines.jobs.task_decomposition.decompose import PlanError, decompose, validate_plan
from orbit_pipelines.jobs.task_decomposition.enrich import enrich
from orbit_pipelines.jobs.task_decomposition.llm_ops import decompose_with_model
from orbit_pipelines.jobs.task_decomposition.models import KIND, DecompositionPayload, Prompt, Subtask
from orbit_pipelines.jobs.task_decomposition.prompts import plan_markdown, render_prompts
from orbit_pipelines.jobs.task_decomposition.store import save_plan
from orbit_pipelines.ledger import TaskNotFound
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.llm import LLMResource


class InlineTask(Config):
    """A task typed into the Launchpad. Used only when task_id is empty."""

    title: str = Field(default="Invoice export API", description="One-line summary of the task.")
    description: str = Field(
        default=(
            "Customers need to export their Invoices (number, amount, currency, due date) as CSV. "
            "Add an endpoint to list invoices by customer and to export one invoice or a date range."
        ),
        description="What to build, in plain language.",
    )
    tech_stack: list[str] = Field(default=["python", "fastapi", "postgresql"], description="Technologies.")
    entities: list[str] = Field(default=["Invoice", "Customer"], description="Domain entities; inferred when empty.")
    acceptance_criteria: list[str] = Field(default=[], description="What must be true when the task is done.")
    project_rules: list[str] = Field(default=[], description="Rules every prompt must repeat.")
    exclude_categories: list[str] = Field(default=[], description="Any of DATA_MODEL, SERVICE, HTTP_API, TESTING.")


class LoadTaskConfig(Config):
    task_id: Optional[int] = Field(
        default=None,
        description="Ledger task id to run (set by the dispatch sensor). Leave empty to run the inline task.",
    )
    task: InlineTask = Field(default=InlineTask(), description="The task to run when task_id is empty.")
    priority: int = Field(default=0, description="Ledger priority for an inline task (-100..100).")


class LoadedTask(BaseModel):
    task_id: int
    payload: DecompositionPayload


@op(retry_policy=TRANSIENT_RETRY, out=Out(LoadedTask, is_required=False))
def load_task(context: OpExecutionContext, config: LoadTaskConfig, ledger: LedgerResource):
    """Read the task (or record the inline one), validate its payload, mark it RUNNING.

    Yields nothing (the rest of the run is skipped) when the task is already done or in progress:
    a second launch with the same task or idempotency key never doubles the work.
    """
    led = ledger.get()
    if config.task_id is not None:
        try:
            task = led.get(config.task_id)
        except TaskNotFound as exc:
            raise permanent_failure(str(exc), "TaskNotFound", task_id=config.task_id) from None
        if task.kind != KIND:
            raise permanent_failure(
                f"task {task.id} is of kind {task.kind!r}, not {KIND!r}", "WrongKind", task_id=task.id
            )
    else:
        try:
            validated = validate_payload(KIND, config.task.model_dump(), prefix="task.")
        except PayloadError as exc:
            raise permanent_failure(str(exc), "InvalidPayload") from None
        task = submit_inline_task(context, led, KIND, validated, priority=config.priority)

    task = start_task(context, led, task)
    if task is None:
        return
    try:
        payload = DecompositionPayload.model_validate(task.payload)
    except ValidationError as exc:
        raise permanent_failure(
            f"task {task.id} has an invalid {KIND} payload: {describe_validation_error(exc)}",
            "InvalidPayload",
            task_id=task.id,
        ) from None
    yield Output(LoadedTask(task_id=task.id, payload=payload),
                 metadata={"task_id": task.id, "title": payload.title, "attempt": task.attempts,
                           "lane": task.lane, "priority": task.priority,
                           "tech_stack": ", ".join(payload.tech_stack) or "-"})


class DecomposeResult(BaseModel):
    task: LoadedTask
    subtasks: list[Subtask]


class Strategy(str, Enum):
    deterministic = "deterministic"
    llm = "llm"


def default_strategy() -> Strategy:
    """ORBIT_DECOMPOSER, read when the code location loads, so the Launchpad shows it as the default."""
    value = os.environ.get("ORBIT_DECOMPOSER", "").strip() or Strategy.deterministic.value
    try:
        return Strategy(value)
    except ValueError:
        raise ValueError(f"ORBIT_DECOMPOSER must be one of {', '.join(s.value for s in Strategy)}, "
                         f"got {value!r}") from None


class DecomposeConfig(Config):
    strategy: Strategy = Field(
        default=default_strategy(),
        description="deterministic: offline rules (same task, same plan). llm: ask the model configured by "
                    "ORBIT_LLM_BASE_URL / ORBIT_LLM_MODEL, continuing the task's stored conversation.",
    )
    feedback: str = Field(
        default="",
        description="AI fix (llm strategy): an instruction for the model, appended to the task's conversation. "
                    "Re-execute from this step with it set to have the model revise its plan.",
    )
    corrected_subtasks_json: str = Field(
        default="",
        description="An operator's correction: a JSON list of subtasks (same fields as generated ones) used "
                    "instead of the automatic decomposition. Re-execute from this step with it set.",
    )


def _corrected_subtasks(context: OpExecutionContext, loaded: LoadedTask, raw: str, ledger) -> list[Subtask]:
    import json

    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise ValueError("must be a JSON list")
        subtasks = [Subtask.model_validate(item) for item in items]
    except (ValueError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise permanent_failure(f"corrected_subtasks_json: {detail}", "InvalidCorrection",
                                task_id=loaded.task_id) from None
    ledger.record_note(loaded.task_id, f"subtasks corrected by an operator ({len(subtasks)} subtasks)", context.run_id)
    return subtasks


# No RetryPolicy: a model call may take minutes, and Dagster turns a cancel that interrupts an op with
# a RetryPolicy into a retry. Database blips and retryable HTTP answers are retried explicitly instead.
@op
def decompose_task(context: OpExecutionContext, config: DecomposeConfig, loaded: LoadedTask,
                   ledger: LedgerResource, llm: LLMResource) -> DecomposeResult:
    """Break the task into DATA_MODEL, SERVICE, HTTP_API and TESTING subtasks and check the plan."""
    with retry_on_infrastructure_errors(context):
        if config.corrected_subtasks_json.strip():
            subtasks = _corrected_subtasks(context, loaded, config.corrected_subtasks_json, ledger.get())
        elif config.strategy == Strategy.llm:
            subtasks = decompose_with_model(context, loaded.task_id, loaded.payload, config.feedback, ledger.get(), llm)
        else:
            subtasks = decompose(loaded.payload)
    try:
        validate_plan(subtasks, loaded.payload.exclude_categories)
    except PlanError as exc:
        raise permanent_failure(f"task {loaded.task_id}: {exc}", "InvalidPlan", task_id=loaded.task_id) from None
    per_category = Counter(s.category.value for s in subtasks)
    context.add_output_metadata(
        {"subtasks": len(subtasks), **{f"subtasks_{c.lower()}": n for c, n in sorted(per_category.items())},
         "dependencies": sum(len(s.dependencies) for s in subtasks),
         "estimated_hours": round(sum(s.estimated_effort_hours for s in subtasks), 1),
         "corrected_by_operator": bool(config.corrected_subtasks_json.strip())}
    )
    return DecomposeResult(task=loaded, subtasks=subtasks)


@op(retry_policy=TRANSIENT_RETRY)
def enrich_subtasks(context: OpExecutionContext, plan: DecomposeResult) -> DecomposeResult:
    """Add tech-stack requirements, coding standards, project rules and best practices."""
    enriched = enrich(plan.subtasks, plan.task.payload)
    context.add_output_metadata(
        {"tech_requirements": sum(len(s.tech_requirements) for s in enriched),
         "best_practices": sum(len(s.best_practices) for s in enriched)}
    )
    return DecomposeResult(task=plan.task, subtasks=enriched)


class PromptedPlan(BaseModel):
    task: LoadedTask
    subtasks: list[Subtask]
    prompts: list[Prompt]


@op(retry_policy=TRANSIENT_RETRY)
def generate_prompts(context: OpExecutionContext, plan: DecomposeResult) -> PromptedPlan:
    """Render one implementation prompt per category from the package's jinja2 templates."""
    prompts = render_prompts(plan.subtasks, plan.task.payload)
    context.add_output_metadata({"prompts": len(prompts),
                                 **{f"prompt_chars_{p.category.value.lower()}": len(p.text) for p in prompts}})
    return PromptedPlan(task=plan.task, subtasks=plan.subtasks, prompts=prompts)


@op(retry_policy=TRANSIENT_RETRY)
def store_results(context: OpExecutionContext, plan: PromptedPlan, ledger: LedgerResource) -> None:
    """Write subtasks and prompts (replacing any earlier attempt's) and complete the task."""
    led = ledger.get()
    task_id = plan.task.task_id
    save_plan(led.engine, task_id, context.run_id, plan.subtasks, plan.prompts)
    complete_task(context, led, task_id)
    per_category = Counter(s.category.value for s in plan.subtasks)
    context.add_output_metadata(
        {
            "task_id": task_id,
            "subtasks": MetadataValue.md(plan_markdown(plan.subtasks)),
            "subtasks_per_category": MetadataValue.json(dict(sorted(per_category.items()))),
            "prompt_chars": MetadataValue.json({p.category.value: len(p.text) for p in plan.prompts}),
            "total_estimated_hours": round(sum(s.estimated_effort_hours for s in plan.subtasks), 1),
        }
    )

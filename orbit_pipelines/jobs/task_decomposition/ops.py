"""Ops of task_decomposition: thin wrappers that call the pure logic and the ledger.

A run takes one task (a submission launched at once, a Launchpad launch) or a batch of them (a
backlog packed by the dispatch sensor); each op works on the list and records a task's failure on
that task alone (see runtime/lifecycle.py).
"""

import os
from collections import Counter
from enum import Enum
from typing import Any, Optional

from dagster import Config, Failure, MetadataValue, OpExecutionContext, Out, Output, op
from pydantic import Field, ValidationError

from orbit_pipelines.jobs.task_decomposition.decompose import PlanError, plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.enrich import enrich
from orbit_pipelines.jobs.task_decomposition.llm_ops import decompose_with_model
from orbit_pipelines.jobs.task_decomposition.models import KIND, Decision, DecompositionPayload, Prompt, Subtask
from orbit_pipelines.jobs.task_decomposition.prompts import plan_markdown, render_prompts
from orbit_pipelines.jobs.task_decomposition.store import save_plan
from orbit_pipelines.llm.store import usage_for_run
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.llm import LLMResource
from orbit_pipelines.runtime.intake import (
    PayloadError,
    check_priority,
    describe_validation_error,
    refuse_inline,
    settle_refused,
    submit_inline,
    validate_payload,
)
from orbit_pipelines.runtime.items import Item
from orbit_pipelines.runtime.lifecycle import (
    checked_tasks,
    complete_items,
    error_details,
    fail_if_none_left,
    record_failures,
    start_items,
)
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.retry import TRANSIENT_RETRY, permanent_failure, retry_on_infrastructure_errors
from orbit_pipelines.runtime.step_budget import STEP_BUDGET_TAG


class InlineTask(Config):
    """A task typed into the Launchpad or sent through GraphQL. Used only when no task id is given; checked by
    the same model as `orbit task submit` (DecompositionPayload), with nothing filled in from elsewhere."""

    title: str = Field(description="One-line summary of the task (required, at most 200 characters).")
    description: str = Field(description="What to build, in plain language (required).")
    tech_stack: list[str] = Field(default=[], description="Languages, frameworks, stores.")
    entities: list[str] = Field(default=[], description="Domain entities; inferred from the text when empty.")
    acceptance_criteria: list[str] = Field(default=[], description="What must be true when the task is done.")
    project_rules: list[str] = Field(default=[], description="Rules every prompt must repeat.")
    exclude_categories: list[str] = Field(default=[], description="Any of DATA_MODEL, SERVICE, HTTP_API, TESTING.")


class LoadTaskConfig(Config):
    task_id: Optional[int] = Field(
        default=None,
        description="Ledger task id to run. Leave empty (and task_ids too) to run the inline task.",
    )
    task_ids: list[int] = Field(
        default=[], description="Several ledger tasks in one run (set by the dispatch sensor for a backlog)."
    )
    task: Optional[InlineTask] = Field(
        default=None, description="The task to run when no task id is given (the Launchpad starts with a sample)."
    )
    priority: int = Field(default=0, description="Ledger priority for an inline task (-100..100).")


# The Launchpad's starting point: the job's default run config (job.py), used whole when a launch gives no
# config. Dagster fills a partial `task` from nothing here: a launch that names only a title is refused at
# launch with the missing field named, never completed from this sample.
LAUNCHPAD_SAMPLE = {
    "title": "Invoice export API",
    "description": (
        "Customers need to export their Invoices (number, amount, currency, due date) as CSV. "
        "Add an endpoint to list invoices by customer and to export one invoice or a date range."
    ),
    "tech_stack": ["python", "fastapi", "postgresql"],
    "entities": ["Invoice", "Customer"],
}


class PlanItem(Item):
    """One task as it moves through the run; each op fills in its part or records the task's failure."""

    payload: Optional[DecompositionPayload] = None  # None only when it was invalid (then failure says so)
    subtasks: list[Subtask] = []
    decisions: list[Decision] = []  # categories left empty on purpose, with the reason
    prompts: list[Prompt] = []

    @property
    def task(self) -> DecompositionPayload:
        """The payload of an item still in play."""
        if self.payload is None:
            raise ValueError(f"task {self.task_id} has no valid payload")
        return self.payload


def _item(task) -> PlanItem:
    try:
        return PlanItem(task_id=task.id, payload=DecompositionPayload.model_validate(task.payload))
    except ValidationError as exc:
        return PlanItem(task_id=task.id).failed(
            "InvalidPayload",
            f"task {task.id} has an invalid {KIND} payload: {describe_validation_error(exc)}",
            "load_task",
        )


def _tasks_to_load(context: OpExecutionContext, config: LoadTaskConfig, led) -> list:
    if config.task_ids:
        return checked_tasks(led, config.task_ids, KIND)
    if config.task_id is not None:
        return checked_tasks(led, [config.task_id], KIND)
    if config.task is None:
        message = "task: nothing to run: give task_id, task_ids or the task itself"
        refuse_inline(context, led, KIND, {}, "MissingTaskId", message)
        raise permanent_failure(message, "MissingTaskId")
    given = config.task.model_dump()
    try:
        validated = validate_payload(KIND, given, prefix="task.")
        check_priority(config.priority)
    except PayloadError as exc:
        refuse_inline(context, led, KIND, given, "InvalidPayload", str(exc))
        raise permanent_failure(str(exc), "InvalidPayload") from None
    task = submit_inline(context, led, KIND, validated, priority=config.priority)
    settle_refused(context, led, task)
    return [task]


@op(retry_policy=TRANSIENT_RETRY, out=Out(list[PlanItem], is_required=False))
def load_task(context: OpExecutionContext, config: LoadTaskConfig, ledger: LedgerResource):
    """Read the tasks (or record the inline one), validate their payloads, mark them RUNNING.

    Yields nothing (the rest of the run is skipped) when every task is already done or in progress:
    a second launch with the same task or idempotency key never doubles the work.
    """
    led = ledger.get()
    tasks = _tasks_to_load(context, config, led)
    started = start_items(context, led, tasks)
    items = [_item(task) for task in started]
    if not items:
        return
    record_failures(context, led, items, "load_task")
    fail_if_none_left(items, "load_task")
    ok = [i for i in items if i.ok]
    metadata: dict[str, Any] = {
        "tasks": len(tasks),
        "loaded": len(ok),
        "skipped": len(tasks) - len(items),
        "failed": len(items) - len(ok),
    }
    if len(tasks) == 1:
        task = started[0]
        metadata.update(
            {
                "task_id": task.id,
                "title": ok[0].task.title,
                "attempt": task.attempts,
                "lane": task.lane,
                "priority": task.priority,
                "tech_stack": ", ".join(ok[0].task.tech_stack) or "-",
            }
        )
    yield Output(items, metadata=metadata)


class Strategy(str, Enum):
    deterministic = "deterministic"
    llm = "llm"


def default_strategy() -> Strategy:
    """ORBIT_DECOMPOSER, read when the code location loads, so the Launchpad shows it as the default."""
    value = os.environ.get("ORBIT_DECOMPOSER", "").strip() or Strategy.deterministic.value
    try:
        return Strategy(value)
    except ValueError:
        raise ValueError(
            f"ORBIT_DECOMPOSER must be one of {', '.join(s.value for s in Strategy)}, got {value!r}"
        ) from None


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


def _corrected_subtasks(context: OpExecutionContext, item: PlanItem, raw: str, ledger) -> list[Subtask]:
    import json

    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise ValueError("must be a JSON list")
        subtasks = [Subtask.model_validate(entry) for entry in items]
    except (ValueError, ValidationError) as exc:
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise permanent_failure(
            f"corrected_subtasks_json: {detail}", "InvalidCorrection", task_id=item.task_id
        ) from None
    ledger.record_note(item.task_id, f"subtasks corrected by an operator ({len(subtasks)} subtasks)", context.run_id)
    return subtasks


def _decompose_one(
    context, config: DecomposeConfig, item: PlanItem, led, llm: LLMResource, model_figures: list[dict]
) -> PlanItem:
    decisions: list[Decision] = []  # an operator's correction lists subtasks only
    if config.corrected_subtasks_json.strip():
        subtasks = _corrected_subtasks(context, item, config.corrected_subtasks_json, led)
    elif config.strategy == Strategy.llm:
        try:
            plan, figures = decompose_with_model(context, item.task_id, item.task, config.feedback, led, llm)
        except Failure as exc:  # permanent for this task (invalid answers, budget, 4xx): the batch goes on
            error_class, message = error_details(exc)
            return item.failed(error_class, message, "decompose_task")
        model_figures.append(figures)
        subtasks, decisions = plan.subtasks, plan.decisions
    else:
        plan = plan_task(item.task)
        subtasks, decisions = plan.subtasks, plan.decisions
    try:
        validate_plan(subtasks, item.task.exclude_categories, decisions)
    except PlanError as exc:
        return item.failed("InvalidPlan", f"task {item.task_id}: {exc}", "decompose_task")
    return item.model_copy(update={"subtasks": subtasks, "decisions": decisions})


def generated(subtasks: list[Subtask]) -> tuple[str, dict]:
    """The history line and the stream's detail (one task.subtask_generated event per subtask) of a plan."""
    listed = [{"id": s.id, "category": s.category.value, "title": s.title} for s in subtasks]
    return f"{len(listed)} subtasks generated", {"subtasks": listed}


def _model_metadata(context: OpExecutionContext, led, llm: LLMResource, reused: list[bool]) -> dict:
    """What this run's model calls cost, failed tasks' calls included."""
    run = usage_for_run(led.engine, context.run_id)
    return {
        "strategy": "llm",
        "model": llm.model_name(),
        "model_calls": run.calls,
        "reused_stored_answer": bool(reused) and all(reused),
        "run_prompt_tokens": run.prompt_tokens,
        "run_completion_tokens": run.completion_tokens,
        "run_cost_usd": float(run.cost_usd),
    }


# No RetryPolicy: a model call may take minutes, and Dagster turns a cancel that interrupts an op with
# a RetryPolicy into a retry. Database blips and retryable HTTP answers are retried explicitly instead.
@op(tags={STEP_BUDGET_TAG: "900"})
def decompose_task(
    context: OpExecutionContext,
    config: DecomposeConfig,
    items: list[PlanItem],
    ledger: LedgerResource,
    llm: LLMResource,
) -> list[PlanItem]:
    """Break each task into DATA_MODEL, SERVICE, HTTP_API and TESTING subtasks and check the plan."""
    led = ledger.get()
    if config.corrected_subtasks_json.strip() and len(items) != 1:
        raise permanent_failure(
            f"corrected_subtasks_json: corrects the plan of a run of one task; this run has "
            f"{len(items)} (`orbit dlq retry TASK_ID` gives a task a run of its own)",
            "InvalidCorrection",
        )
    figures: list[dict] = []
    with retry_on_infrastructure_errors(context):
        items = [_decompose_one(context, config, i, led, llm, figures) if i.ok else i for i in items]
    record_failures(context, led, items, "decompose_task")
    fail_if_none_left(items, "decompose_task")
    done = [i for i in items if i.ok]
    with retry_on_infrastructure_errors(context):
        led.record_facts(context.run_id, "subtasks_generated", {i.task_id: generated(i.subtasks) for i in done})
    per_category = Counter(s.category.value for i in done for s in i.subtasks)
    context.add_output_metadata(
        {
            "tasks": len(done),
            "failed": sum(1 for i in items if i.failure and i.failure.step == "decompose_task"),
            "subtasks": sum(len(i.subtasks) for i in done),
            **{f"subtasks_{c.lower()}": n for c, n in sorted(per_category.items())},
            "dependencies": sum(len(s.dependencies) for i in done for s in i.subtasks),
            "estimated_hours": round(sum(s.estimated_effort_hours for i in done for s in i.subtasks), 1),
            "corrected_by_operator": bool(config.corrected_subtasks_json.strip()),
            **(
                _model_metadata(context, led, llm, [f["reused_stored_answer"] for f in figures])
                if config.strategy == Strategy.llm and not config.corrected_subtasks_json.strip()
                else {}
            ),
        }
    )
    return items


@op(retry_policy=TRANSIENT_RETRY)
def enrich_subtasks(context: OpExecutionContext, items: list[PlanItem]) -> list[PlanItem]:
    """Add tech-stack requirements, coding standards, project rules and best practices."""
    items = [i.model_copy(update={"subtasks": enrich(i.subtasks, i.task)}) if i.ok else i for i in items]
    done = [i for i in items if i.ok]
    context.add_output_metadata(
        {
            "tech_requirements": sum(len(s.tech_requirements) for i in done for s in i.subtasks),
            "best_practices": sum(len(s.best_practices) for i in done for s in i.subtasks),
        }
    )
    return items


@op(retry_policy=TRANSIENT_RETRY)
def generate_prompts(context: OpExecutionContext, items: list[PlanItem]) -> list[PlanItem]:
    """Render one implementation prompt per category from the package's jinja2 templates."""
    items = [
        i.model_copy(update={"prompts": render_prompts(i.subtasks, i.task, i.decisions)}) if i.ok else i for i in items
    ]
    prompts = [p for i in items if i.ok for p in i.prompts]
    chars: Counter[str] = Counter()
    for prompt in prompts:
        chars[prompt.category.value.lower()] += len(prompt.text)
    context.add_output_metadata({"prompts": len(prompts), **{f"prompt_chars_{c}": n for c, n in sorted(chars.items())}})
    return items


@op(retry_policy=TRANSIENT_RETRY)
def store_results(context: OpExecutionContext, items: list[PlanItem], ledger: LedgerResource) -> None:
    """Write each task's subtasks and prompts (replacing any earlier attempt's) and complete it."""
    led = ledger.get()
    done = [i for i in items if i.ok]
    for item in done:
        save_plan(led.engine, item.task_id, context.run_id, item.subtasks, item.prompts)
        complete_items(context, led, [item.task_id])
    if len(items) == 1:
        item = done[0]
        per_category = Counter(s.category.value for s in item.subtasks)
        context.add_output_metadata(
            {
                "task_id": item.task_id,
                "subtasks": MetadataValue.md(plan_markdown(item.subtasks)),
                "subtasks_per_category": MetadataValue.json(dict(sorted(per_category.items()))),
                "prompt_chars": MetadataValue.json({p.category.value: len(p.text) for p in item.prompts}),
                "total_estimated_hours": round(sum(s.estimated_effort_hours for s in item.subtasks), 1),
            }
        )
        return
    context.add_output_metadata(
        {
            "completed": len(done),
            "failed": len(items) - len(done),
            "tasks": MetadataValue.md(batch_markdown(items)),
            "total_estimated_hours": round(sum(s.estimated_effort_hours for i in done for s in i.subtasks), 1),
        }
    )


def batch_markdown(items: list[PlanItem]) -> str:
    """One row per task of a batch run: what it became, or why it failed."""
    return table(
        ["task", "title", "subtasks", "prompts", "hours", "outcome"],
        [
            (
                item.task_id,
                item.payload.title[:80] if item.payload else "(invalid payload)",
                len(item.subtasks),
                len(item.prompts),
                round(sum(s.estimated_effort_hours for s in item.subtasks), 1),
                "stored" if item.ok else f"{item.failed_with.error_class} in {item.failed_with.step}",
            )
            for item in items
        ],
        limit=500,
        right=["task", "subtasks", "prompts", "hours"],
    )

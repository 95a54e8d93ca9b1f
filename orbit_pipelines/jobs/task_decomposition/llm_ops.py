"""Dagster glue of the LLM decomposer: budgets and usage in the ledger, HTTP errors -> retry or fail."""

from __future__ import annotations

from dagster import OpExecutionContext

from orbit_pipelines.jobs.task_decomposition.llm import (
    AnswerRejected,
    BudgetExceeded,
    Prices,
    call_cost,
    check_budget,
    converse,
)
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload, Plan
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.llm import ChatAnswer, LLMError
from orbit_pipelines.llm.store import (
    append_turns,
    load_conversation,
    record_usage,
    usage_for_run,
    usage_for_task,
    usage_today,
)
from orbit_pipelines.resources.llm import LLMResource
from orbit_pipelines.runtime.retry import permanent_failure, retry_or_fail


def decompose_with_model(
    context: OpExecutionContext,
    task_id: int,
    payload: DecompositionPayload,
    feedback: str,
    ledger: Ledger,
    llm: LLMResource,
) -> tuple[Plan, dict]:
    """The model's plan for one task (subtasks and no-work decisions), and what its calls cost (for the
    step's metadata)."""
    missing = llm.missing_settings()
    if missing:
        raise permanent_failure(
            f"strategy llm needs {' and '.join(missing)} (e.g. ORBIT_LLM_BASE_URL=https://api.openai.com/v1 "
            "or http://localhost:11434/v1 for Ollama); or run with strategy deterministic",
            "LLMNotConfigured",
            task_id=task_id,
        )
    engine = ledger.engine
    prices = Prices(llm.decimal("price_input_per_1k"), llm.decimal("price_output_per_1k"))
    client = llm.client()

    def ask(messages: list[dict[str, str]]) -> ChatAnswer:
        # Checked before every call, against what the ledger says was spent (other runs included).
        check_budget(
            task_id=task_id,
            spent_task=usage_for_task(engine, task_id).cost_usd,
            task_budget=llm.decimal("task_budget_usd"),
            spent_today=usage_today(engine).cost_usd,
            daily_budget=llm.decimal("daily_budget_usd"),
        )
        answer = client.complete(
            messages, max_tokens=llm.max_tokens, temperature=llm.temperature, json_mode=llm.json_mode
        )
        cost = call_cost(answer.prompt_tokens, answer.completion_tokens, prices)
        record_usage(
            engine,
            task_id=task_id,
            run_id=context.run_id,
            model=answer.model,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost_usd=cost,
        )
        context.log.info(
            f"{answer.model} answered: {answer.prompt_tokens} prompt + {answer.completion_tokens} "
            f"completion tokens, ${cost}"
        )
        return answer

    if feedback.strip() and context.retry_number == 0:
        ledger.record_note(task_id, f"AI fix requested: {feedback.strip()[:300]}", context.run_id)
    try:
        outcome = converse(
            payload,
            load_conversation(engine, task_id),
            run_id=context.run_id,
            ask=ask,
            remember=lambda turns: append_turns(engine, task_id, turns),
            max_attempts=llm.max_attempts,
            feedback=feedback,
        )
    except BudgetExceeded as exc:
        raise permanent_failure(str(exc), "BudgetExceeded", task_id=task_id) from None
    except AnswerRejected as exc:
        raise permanent_failure(f"task {task_id}: {exc}", "InvalidModelAnswer", task_id=task_id) from None
    except LLMError as exc:
        raise retry_or_fail(
            context, exc, type(exc).__name__, str(exc), max_retries=llm.max_retries, task_id=task_id, status=exc.status
        ) from None
    finally:
        client.close()
    run, task = usage_for_run(engine, context.run_id), usage_for_task(engine, task_id)
    return outcome.plan, {
        "model_calls": outcome.calls,
        "reused_stored_answer": outcome.calls == 0,
        "run_prompt_tokens": run.prompt_tokens,
        "run_completion_tokens": run.completion_tokens,
        "run_cost_usd": float(run.cost_usd),
        "task_cost_usd": float(task.cost_usd),
    }

"""Dagster glue of the `llm` strategy: the task's stored conversation, budgets, and what a model's
trouble means for the step (a 429 or a 5xx is retried; an invalid or refused answer fails the task)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

from dagster import OpExecutionContext

from orbit_pipelines.jobs.worksheet_generation.conversation import (
    DESIGN,
    LATEX,
    AnswerRejected,
    LatexRefused,
    Turn,
    compile_errors_turn,
    converse,
    design_opening,
    latex_opening,
    parse_design,
    parse_latex,
)
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetDesign, WorksheetPayload
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.llm import LLMError
from orbit_pipelines.llm.budget import BudgetExceeded, MeteredChat
from orbit_pipelines.llm.store import append_turns, load_conversation, usage_for_task
from orbit_pipelines.resources.llm import LLMResource
from orbit_pipelines.runtime.retry import permanent_failure, retry_or_fail

FORBIDDEN_LATEX = "ForbiddenLatex"


def not_configured(llm: LLMResource) -> Optional[str]:
    missing = llm.missing_settings()
    if not missing:
        return None
    return (
        f"strategy llm needs {' and '.join(missing)} (e.g. ORBIT_LLM_BASE_URL=https://api.openai.com/v1 "
        "or http://localhost:11434/v1 for Ollama); or run with strategy deterministic"
    )


@contextmanager
def _model(context: OpExecutionContext, task_id: int, ledger: Ledger, llm: LLMResource) -> Iterator[MeteredChat]:
    """The metered client, and the step's answer to each way a model call can go wrong."""
    missing = not_configured(llm)
    if missing:
        raise permanent_failure(missing, "LLMNotConfigured", task_id=task_id)
    chat = llm.metered(ledger.engine, task_id, context.run_id, context.log.info)
    try:
        yield chat
    except BudgetExceeded as exc:
        raise permanent_failure(str(exc), "BudgetExceeded", task_id=task_id) from None
    except AnswerRejected as exc:
        raise permanent_failure(f"task {task_id}: {exc}", "InvalidModelAnswer", task_id=task_id) from None
    except LatexRefused as exc:
        raise permanent_failure(f"task {task_id}: {exc}", FORBIDDEN_LATEX, task_id=task_id) from None
    except LLMError as exc:
        raise retry_or_fail(
            context, exc, type(exc).__name__, str(exc), max_retries=llm.max_retries, task_id=task_id, status=exc.status
        ) from None
    finally:
        chat.close()


def _converse(
    context: OpExecutionContext,
    task_id: int,
    ledger: Ledger,
    llm: LLMResource,
    phase: str,
    opening,
    parse,
    request: Optional[Turn] = None,
):
    engine = ledger.engine
    with _model(context, task_id, ledger, llm) as chat:
        return converse(
            load_conversation(engine, task_id),
            phase,
            opening=opening,
            parse=parse,
            ask=lambda messages: chat.ask(messages, json_mode=llm.json_mode and phase == DESIGN),
            remember=lambda turns: append_turns(engine, task_id, turns),
            run_id=context.run_id,
            max_attempts=llm.max_attempts,
            request=request,
        )


def design_with_model(
    context: OpExecutionContext, task_id: int, payload: WorksheetPayload, ledger: Ledger, llm: LLMResource
) -> tuple[WorksheetDesign, dict[str, Any]]:
    outcome = _converse(
        context, task_id, ledger, llm, DESIGN, lambda: design_opening(payload), lambda c: parse_design(c, payload)
    )
    return outcome.value, _figures(ledger, task_id, outcome.calls)


def latex_with_model(
    context: OpExecutionContext, task_id: int, sheet: WorksheetDesign, ledger: Ledger, llm: LLMResource
) -> tuple[str, dict[str, Any]]:
    outcome = _converse(context, task_id, ledger, llm, LATEX, lambda: latex_opening(sheet), parse_latex)
    return outcome.value, _figures(ledger, task_id, outcome.calls)


def fix_with_model(
    context: OpExecutionContext,
    task_id: int,
    sheet: WorksheetDesign,
    errors: list[dict],
    log: str,
    ledger: Ledger,
    llm: LLMResource,
) -> str:
    """The model's corrected document, asked in the same conversation with the errors and the log's tail."""
    request = compile_errors_turn(errors, log)
    outcome = _converse(context, task_id, ledger, llm, LATEX, lambda: latex_opening(sheet), parse_latex, request)
    return outcome.value


def _figures(ledger: Ledger, task_id: int, calls: int) -> dict[str, Any]:
    task = usage_for_task(ledger.engine, task_id)
    return {
        "model_calls": calls,
        "reused_stored_answer": calls == 0,
        "task_model_calls": task.calls,
        "task_cost_usd": float(task.cost_usd),
    }

"""The LLM decomposer's logic: the conversation, checking answers, re-asking. No Dagster, no HTTP.

Prices and budgets are the platform's (orbit_pipelines/llm/budget.py), re-exported here.

The conversation is a list of turns (role, content, kind, run id) kept per task, so a retry, a
re-execution or an operator's "AI fix" continues it instead of starting over. A turn's `kind` says
what it is: `system`, `task` (the first user message), `answer` (with `valid`), `errors` (the
problems found in the answer before it) and `feedback` (an operator's instruction).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from orbit_pipelines.jobs.task_decomposition.decompose import PlanError, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, Decision, DecompositionPayload, Plan, Subtask
from orbit_pipelines.jobs.task_decomposition.prompts import template_environment
from orbit_pipelines.llm.budget import BudgetExceeded, Prices, call_cost, check_budget  # noqa: F401 (their old home)

Turn = dict[str, Any]
# Filled by the enrich step from the knowledge base; the model is not asked for them.
ENRICHED_FIELDS = ("tech_requirements", "coding_standards", "project_rules", "best_practices")


class AnswerInvalid(ValueError):
    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class AnswerRejected(Exception):
    """The model gave no acceptable plan within the allowed attempts."""


class _AnswerPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subtasks: list[Subtask]
    # A category with no real work for this task: its reason instead of invented subtasks.
    decisions: list[Decision] = []


@cache
def answer_schema() -> str:
    schema = _AnswerPlan.model_json_schema()
    subtask = schema["$defs"]["Subtask"]
    for name in ENRICHED_FIELDS:
        subtask["properties"].pop(name, None)
    return json.dumps(schema, indent=1)


def _render(template: str, **values: Any) -> str:
    return template_environment().get_template(f"llm/{template}").render(**values).strip()


def opening(payload: DecompositionPayload) -> list[Turn]:
    task_json = json.dumps(payload.model_dump(mode="json"), indent=1, ensure_ascii=False)
    return [
        {"role": "system", "kind": "system", "content": _render("system.md.j2", schema=answer_schema())},
        {
            "role": "user",
            "kind": "task",
            "content": _render(
                "task.md.j2", task_json=task_json, excluded=[c.value for c in payload.exclude_categories]
            ),
        },
    ]


def feedback_turn(feedback: str) -> Turn:
    return {"role": "user", "kind": "feedback", "content": _render("feedback.md.j2", feedback=feedback)}


def errors_turn(problems: Sequence[str]) -> Turn:
    return {
        "role": "user",
        "kind": "errors",
        "problems": list(problems),
        "content": _render("errors.md.j2", problems=problems),
    }


def answer_turn(content: str, valid: bool) -> Turn:
    return {"role": "assistant", "kind": "answer", "valid": valid, "content": content}


def api_messages(history: Iterable[Turn]) -> list[dict[str, str]]:
    return [{"role": t["role"], "content": t["content"]} for t in history]


_FENCED = re.compile(r"```(?:json)?\s*(.*?)\s*```", re.DOTALL)


def parse_answer(content: str, excluded: Iterable[Category] = ()) -> list[Subtask]:
    """The subtasks in a model's answer, or AnswerInvalid naming every problem (field paths included)."""
    return parse_plan(content, excluded).subtasks


def parse_plan(content: str, excluded: Iterable[Category] = ()) -> Plan:
    """The plan in a model's answer (subtasks and no-work decisions), checked by the same plan rules as
    the deterministic plan, or AnswerInvalid naming every problem (field paths included)."""
    text = content.strip()
    # A code fence around otherwise good JSON is no reason to pay for another answer.
    fenced = _FENCED.fullmatch(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError as exc:
        detail = (
            f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        )
        raise AnswerInvalid([f"the answer is not valid JSON: {detail}"]) from None
    if isinstance(data, list):
        data = {"subtasks": data}
    try:
        plan = _AnswerPlan.model_validate(data)
    except ValidationError as exc:
        raise AnswerInvalid(
            [
                f"{'.'.join(str(p) for p in err['loc']) or '(answer)'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    try:
        validate_plan(plan.subtasks, excluded, plan.decisions)
    except PlanError as exc:
        raise AnswerInvalid(exc.problems) from None
    return Plan(subtasks=plan.subtasks, decisions=plan.decisions)


# ---------------------------------------------------------------------------------------------
# The conversation
# ---------------------------------------------------------------------------------------------


class Reply(Protocol):
    # Read-only, so a frozen dataclass (llm.client.ChatAnswer) is one.
    @property
    def content(self) -> str: ...

    @property
    def finish_reason(self) -> str | None: ...


@dataclass(frozen=True)
class Outcome:
    plan: Plan
    calls: int  # model calls made now; 0 when a stored answer was reused


def converse(
    payload: DecompositionPayload,
    history: Sequence[Turn],
    *,
    run_id: str,
    ask: Callable[[list[dict[str, str]]], Reply],
    remember: Callable[[list[Turn]], None],
    max_attempts: int,
    feedback: str = "",
) -> Outcome:
    """Continue the task's conversation until the model gives a valid plan.

    `remember` persists new turns before the next call, so whatever interrupts this (a 429, a
    timeout, a crash) the retry carries on from the same turn. A valid last answer is reused without
    a call. Invalid answers are re-asked with their problems, at most `max_attempts` per run (a
    re-execution gets fresh attempts but keeps the conversation), then AnswerRejected.
    """
    history = list(history)
    excluded = payload.exclude_categories

    def add(*turns: Turn) -> None:
        stamped = [{**t, "run_id": run_id} for t in turns]
        remember(stamped)
        history.extend(stamped)

    if not history:
        add(*opening(payload))
    feedback = feedback.strip()
    if feedback:
        turn = feedback_turn(feedback)
        # An op retry of the same run must not append the same instruction again.
        if not any(
            t["kind"] == "feedback" and t.get("run_id") == run_id and t["content"] == turn["content"] for t in history
        ):
            add(turn)
    invalid = sum(1 for t in history if t["kind"] == "answer" and not t.get("valid") and t.get("run_id") == run_id)
    last = history[-1]
    if last["kind"] == "answer" and last.get("valid"):
        return Outcome(parse_plan(last["content"], excluded), calls=0)
    calls = 0
    while True:
        if invalid >= max_attempts:
            problems: list[str] = next((t.get("problems", []) for t in reversed(history) if t["kind"] == "errors"), [])
            raise AnswerRejected(
                f"the model gave {invalid} invalid answer{'s' if invalid != 1 else ''} in this run "
                f"(at most {max_attempts}); last problems: {'; '.join(problems)}"
            )
        reply = ask(api_messages(history))
        calls += 1
        try:
            plan = parse_plan(reply.content, excluded)
        except AnswerInvalid as exc:
            problems = exc.problems
            if reply.finish_reason == "length":
                problems = ["the answer was cut off at the token limit: answer more concisely", *problems]
            add(answer_turn(reply.content, valid=False), errors_turn(problems))
            invalid += 1
            continue
        add(answer_turn(reply.content, valid=True))
        return Outcome(plan, calls)

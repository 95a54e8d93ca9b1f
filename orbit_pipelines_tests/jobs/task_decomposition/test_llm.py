"""The LLM decomposer's pure logic: messages, answer checking, cost and budgets. No Dagster, no HTTP."""

import json
from decimal import Decimal

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import decompose
from orbit_pipelines.jobs.task_decomposition.llm import (
    ENRICHED_FIELDS,
    AnswerInvalid,
    BudgetExceeded,
    Prices,
    answer_schema,
    call_cost,
    check_budget,
    opening,
    parse_answer,
    parse_plan,
)
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines_tests.jobs.task_decomposition.test_decompose import INVOICE_EXPORT


def answer(payload=INVOICE_EXPORT, drop=(), **changes) -> list[dict]:
    items = [s.model_dump(mode="json", exclude=set(ENRICHED_FIELDS)) for s in decompose(payload)]
    items = [{k: v for k, v in item.items() if k not in drop} for item in items]
    return [{**item, **changes.get(item["id"], {})} for item in items]


def test_a_good_answer_becomes_subtasks():
    subtasks = parse_answer(json.dumps({"subtasks": answer()}))
    assert [s.id for s in subtasks] == [s.id for s in decompose(INVOICE_EXPORT)]


def test_a_bare_list_or_a_fenced_answer_is_accepted_without_asking_again():
    assert parse_answer(json.dumps(answer()))
    assert parse_answer("```json\n" + json.dumps({"subtasks": answer()}) + "\n```")


def test_text_that_is_not_json_is_reported_with_its_position():
    with pytest.raises(AnswerInvalid) as raised:
        parse_answer('Sure! Here is the plan: {"subtasks": []}')
    assert raised.value.problems == ["the answer is not valid JSON: Expecting value at line 1 column 1"]


def test_missing_and_wrong_fields_are_named_with_their_path():
    with pytest.raises(AnswerInvalid) as raised:
        parse_answer(
            json.dumps(
                {
                    "subtasks": answer(
                        drop=("priority",), **{"data_model.invoice": {"estimated_effort_hours": 0, "notes": "x"}}
                    )
                }
            )
        )
    problems = raised.value.problems
    assert "subtasks.0.priority: Field required" in problems
    assert "subtasks.0.estimated_effort_hours: Input should be greater than 0" in problems
    assert "subtasks.0.notes: Extra inputs are not permitted" in problems


def test_a_plan_that_breaks_the_rules_is_refused_with_every_problem():
    items = [s for s in answer() if s["category"] != "TESTING"]
    items[0]["dependencies"] = ["service.ghost"]
    with pytest.raises(AnswerInvalid) as raised:
        parse_answer(json.dumps({"subtasks": items}))
    assert "category TESTING has no subtasks and is not excluded" in raised.value.problems
    assert f"subtask {items[0]['id']!r} depends on missing subtask 'service.ghost'" in raised.value.problems


def without_http_api() -> list[dict]:
    items = [s for s in answer() if s["category"] != "HTTP_API"]
    return [{**s, "dependencies": [d for d in s["dependencies"] if not d.startswith("http_api.")]} for s in items]


def test_a_category_without_work_is_accepted_when_the_answer_gives_a_decision_with_its_reason():
    items = without_http_api()
    reason = "The export runs from the existing admin screen; no route changes."
    plan = parse_plan(json.dumps({"subtasks": items, "decisions": [{"category": "HTTP_API", "reason": reason}]}))
    assert [(d.category, d.reason) for d in plan.decisions] == [(Category.HTTP_API, reason)]
    assert Category.HTTP_API not in {s.category for s in plan.subtasks}


def test_a_decision_for_a_category_that_has_subtasks_in_the_answer_is_a_problem():
    decisions = [{"category": "SERVICE", "reason": "nothing to do"}]
    with pytest.raises(AnswerInvalid, match="category SERVICE has a no-work decision but also subtasks"):
        parse_plan(json.dumps({"subtasks": answer(), "decisions": decisions}))


def test_a_decision_without_a_reason_is_named_with_its_path():
    items = without_http_api()
    with pytest.raises(AnswerInvalid) as raised:
        parse_plan(json.dumps({"subtasks": items, "decisions": [{"category": "HTTP_API", "reason": ""}]}))
    assert "decisions.0.reason: String should have at least 1 character" in raised.value.problems


def test_the_schema_offers_decisions_to_the_model():
    assert '"decisions"' in answer_schema() and '"reason"' in answer_schema()


def test_an_excluded_category_in_the_answer_is_a_problem():
    with pytest.raises(AnswerInvalid, match="category HTTP_API is excluded but has subtasks"):
        parse_answer(json.dumps(answer()), excluded=[Category.HTTP_API])


def test_the_opening_carries_the_schema_and_the_task_as_data():
    payload = DecompositionPayload(
        title="Tags {{ 7*7 }}", description="Add tags {% raw %} to notes.", exclude_categories=[Category.HTTP_API]
    )
    system, task = opening(payload)
    assert (system["role"], task["role"]) == ("system", "user")
    assert '"estimated_effort_hours"' in system["content"] and "tech_requirements" not in system["content"]
    assert "Tags {{ 7*7 }}" in task["content"] and "{% raw %}" in task["content"]
    assert "Excluded categories (no subtasks for them): HTTP_API." in task["content"]
    assert json.loads(answer_schema())["required"] == ["subtasks"]


def test_cost_is_priced_per_thousand_tokens_to_the_micro_dollar():
    prices = Prices(input_per_1k=Decimal("0.0025"), output_per_1k=Decimal("0.01"))
    assert call_cost(1200, 300, prices) == Decimal("0.006000")
    assert call_cost(1, 1, prices) == Decimal("0.000013")
    assert call_cost(5000, 5000, Prices(Decimal(0), Decimal(0))) == Decimal("0")


def test_budgets_refuse_the_next_call_once_used_up_and_name_the_amounts():
    ok = dict(
        task_id=7,
        spent_task=Decimal("0.99"),
        task_budget=Decimal("1"),
        spent_today=Decimal("3"),
        daily_budget=Decimal("20"),
    )
    check_budget(**ok)
    with pytest.raises(BudgetExceeded, match=r"task 7 has spent \$1.00 on model calls of its \$1 "):
        check_budget(**{**ok, "spent_task": Decimal("1.00")})
    with pytest.raises(BudgetExceeded, match=r"daily budget exhausted: \$20 spent .* of \$20 "):
        check_budget(**{**ok, "spent_today": Decimal("20")})
    with pytest.raises(BudgetExceeded, match="task budget"):
        check_budget(**{**ok, "task_budget": Decimal("0")})

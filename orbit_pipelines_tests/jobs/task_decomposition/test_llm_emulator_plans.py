"""The LLM emulator answers like a different planner, not with the deterministic plan relabelled: its
plans have other subtasks (granularity, titles, descriptions, requirements, dependencies), are the same
for the same task, and pass the plan rules the llm strategy applies to any model's answer."""

import json
from pathlib import Path

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.llm import api_messages, opening, parse_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines.local.llm_emulator import plan_for
from orbit_pipelines.local.llm_emulator_plans import emulated_plan

ROOT = Path(__file__).parents[3]
SAMPLE = DecompositionPayload.model_validate(
    json.loads((ROOT / "orbit_pipelines" / "samples" / "decomposition_task.json").read_text())
)
TASKS = [SAMPLE] + [
    DecompositionPayload.model_validate({k: v for k, v in t.items() if k not in {"must_cover", "not_entities"}})
    for name in ("reference", "own", "holdout", "blind", "blind2")
    for t in json.loads((ROOT / "bench" / f"decomposition_{name}_tasks.json").read_text())
]


def _answer(payload: DecompositionPayload):
    """What the emulator answers to the llm strategy's opening for `payload`, parsed as the strategy does."""
    messages = api_messages(opening(payload))
    return parse_plan(json.dumps(plan_for(messages)), payload.exclude_categories)


@pytest.mark.parametrize("payload", TASKS, ids=[t.title[:40] for t in TASKS])
def test_every_answer_passes_the_plan_rules_and_is_the_same_twice(payload):
    plan = _answer(payload)
    validate_plan(plan.subtasks, payload.exclude_categories, plan.decisions)
    assert plan == _answer(payload)


@pytest.mark.parametrize("payload", TASKS, ids=[t.title[:40] for t in TASKS])
def test_the_answer_is_not_the_deterministic_plan(payload):
    emulated, rules = _answer(payload), plan_task(payload)
    assert not {s.title for s in emulated.subtasks} & {s.title for s in rules.subtasks}
    assert not {s.description for s in emulated.subtasks} & {s.description for s in rules.subtasks}
    theirs = {r for s in rules.subtasks for r in s.requirements}
    assert not [r for s in emulated.subtasks for r in s.requirements if r in theirs]
    assert not {d.reason for d in emulated.decisions} & {d.reason for d in rules.decisions}


def test_the_sample_task_is_cut_at_another_granularity():
    emulated, rules = _answer(SAMPLE), plan_task(SAMPLE)
    by = {c: [s for s in emulated.subtasks if s.category == c] for c in Category}
    assert len(emulated.subtasks) != len(rules.subtasks)
    assert [s.id for s in by[Category.DATA_MODEL]] == ["storage"]  # both entities in one schema change
    assert len([s for s in rules.subtasks if s.category == Category.DATA_MODEL]) == 2
    # one logic subtask per sentence of the description, each waiting for the storage
    assert len(by[Category.SERVICE]) == 3 and all(s.dependencies == ["storage"] for s in by[Category.SERVICE])
    # one acceptance test per criterion, plus the suite
    assert [s.id for s in by[Category.TESTING]] == ["acceptance_1", "acceptance_2", "suite"]
    assert "Boundary: at 10,000 and just past it" in by[Category.TESTING][0].requirements


def test_a_category_without_work_gets_the_emulators_own_decision():
    payload = DecompositionPayload(
        title="Nightly clean-up", description="Every night, delete the files older than 30 days from the bucket."
    )
    plan = emulated_plan(payload)
    reasons = {d["category"]: d["reason"] for d in plan["decisions"]}
    assert set(reasons) == {"DATA_MODEL", "HTTP_API"} and reasons["HTTP_API"].startswith("No caller reaches this")


def test_excluded_categories_are_left_out_without_a_decision():
    payload = SAMPLE.model_copy(update={"exclude_categories": [Category.HTTP_API]})
    plan = _answer(payload)
    validate_plan(plan.subtasks, payload.exclude_categories, plan.decisions)
    assert Category.HTTP_API not in {s.category for s in plan.subtasks} | {d.category for d in plan.decisions}

"""enrich and the built-in knowledge base."""

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import decompose
from orbit_pipelines.jobs.task_decomposition.enrich import enrich, load_knowledge
from orbit_pipelines.jobs.task_decomposition.knowledge import parse_knowledge
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

TASK = DecompositionPayload(
    title="Invoice export API",
    description="Users can export invoices as PDF. An Invoice has a number, an amount and a due date.",
    tech_stack=["python", "fastapi", "postgresql"],
    project_rules=["All money amounts are Decimal, never float", "No new dependencies without review"],
)


def enriched(**changes):
    payload = DecompositionPayload.model_validate(TASK.model_dump() | changes)
    return {s.id: s for s in enrich(decompose(payload), payload)}


def test_fastapi_adds_its_requirements_to_http_api_subtasks():
    api = enriched()["http_api.invoice"]
    expected = "FastAPI: Declare request and response models with pydantic; never return ORM objects directly"
    assert expected in api.tech_requirements


def test_tech_requirements_only_reach_the_category_they_are_for():
    model = enriched()["data_model.invoice"]
    assert not [r for r in model.tech_requirements if r.startswith("FastAPI:")]
    assert [r for r in model.tech_requirements if r.startswith("PostgreSQL:")]


def test_python_stacks_are_tested_with_pytest():
    tests = enriched()["testing.invoice_service"]
    assert any(r.startswith("Python: Write tests with pytest") for r in tests.tech_requirements)


@pytest.mark.parametrize("spelling", ["postgres", "PostgreSQL", "  Postgres  ", "postgresql 16", "pg"])
def test_technologies_match_case_insensitively_with_aliases_and_versions(spelling):
    model = enriched(tech_stack=[spelling])["data_model.invoice"]
    assert any(r.startswith("PostgreSQL:") for r in model.tech_requirements)


def test_node_js_is_the_same_technology_as_node():
    knowledge = load_knowledge()
    assert knowledge.lookup("Node.js") is knowledge.lookup("node")


def test_an_unknown_technology_is_carried_through_to_every_subtask():
    plan = enriched(tech_stack=["python", "Kafka 3.7"])
    assert all("Use Kafka 3.7 as declared by the task" in s.tech_requirements for s in plan.values())


def test_project_rules_are_on_every_subtask():
    assert all(s.project_rules == TASK.project_rules for s in enriched().values())


def test_coding_standards_follow_the_declared_language():
    python = enriched()["service.invoice"].coding_standards
    typescript = enriched(tech_stack=["typescript", "express"])["service.invoice"].coding_standards
    assert any("PEP 8" in s for s in python)
    assert any("strict mode" in s for s in typescript)
    assert not any("PEP 8" in s for s in typescript)


def test_a_framework_implies_its_language_when_no_language_is_declared():
    assert any("PEP 8" in s for s in enriched(tech_stack=["fastapi"])["service.invoice"].coding_standards)


def test_a_declared_language_wins_over_the_language_a_framework_implies():
    standards = enriched(tech_stack=["typescript", "express"])["service.invoice"].coding_standards
    assert not any("never var" in s for s in standards)  # JavaScript's rule, implied by express


def test_a_stack_without_a_known_language_gets_generic_standards():
    standards = enriched(tech_stack=["postgresql"])["service.invoice"].coding_standards
    assert standards == list(load_knowledge().standards["default"])


def test_best_practices_follow_the_category():
    plan = enriched()
    knowledge = load_knowledge()
    for s in plan.values():
        assert s.best_practices == list(knowledge.practices[s.category])


def test_enrich_returns_new_subtasks_and_leaves_its_input_alone():
    subtasks = decompose(TASK)
    before = [s.model_copy(deep=True) for s in subtasks]
    result = enrich(subtasks, TASK)
    assert subtasks == before
    assert all(a is not b for a, b in zip(subtasks, result, strict=True))
    assert [s.id for s in result] == [s.id for s in subtasks]


def test_enriching_twice_is_the_same_as_enriching_once():
    once = enrich(decompose(TASK), TASK)
    assert enrich(once, TASK) == once


def test_a_custom_knowledge_base_can_be_passed_in():
    knowledge = parse_knowledge(
        {"acme": {"display": "Acme", "kind": "web_framework", "requirements": {"HTTP_API": ["Use Acme routers"]}}},
        {"default": ["Be kind"]},
        {"HTTP_API": ["Version the API"]},
    )
    payload = DecompositionPayload.model_validate(TASK.model_dump() | {"tech_stack": ["ACME"]})
    api = {s.id: s for s in enrich(decompose(payload), payload, knowledge)}["http_api.invoice"]
    assert (api.tech_requirements, api.coding_standards, api.best_practices) == (
        ["Acme: Use Acme routers"],
        ["Be kind"],
        ["Version the API"],
    )


def test_knowledge_with_an_unknown_category_is_rejected():
    with pytest.raises(ValueError, match="unknown category 'FRONTEND'"):
        parse_knowledge({"x": {"requirements": {"FRONTEND": ["..."]}}}, {}, {})


COMMON = [
    "python",
    "fastapi",
    "flask",
    "django",
    "sqlalchemy",
    "postgresql",
    "mysql",
    "sqlite",
    "redis",
    "typescript",
    "node",
    "express",
    "react",
    "go",
    "java",
    "spring",
]


@pytest.mark.parametrize("name", COMMON)
def test_the_built_in_knowledge_covers_common_technologies(name):
    tech = load_knowledge().lookup(name)
    assert tech is not None and any(tech.requirements.values())


def test_the_built_in_knowledge_has_practices_for_every_category():
    assert set(load_knowledge().practices) == set(Category)


def test_the_knowledge_base_is_loaded_once():
    assert load_knowledge() is load_knowledge()

"""decompose, validate_plan and topological_order: pure logic, no Dagster, no database."""

import itertools
import json
import re
from importlib import resources

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import (
    PlanError,
    decompose,
    topological_order,
    validate_plan,
)
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    DecompositionPayload,
    Subtask,
    SubtaskPriority,
)

INVOICE_EXPORT = DecompositionPayload(
    title="Invoice export API",
    description=(
        "Users can export invoices as PDF and send them to customers. "
        "An Invoice has a number, an amount and a due date. "
        "Users can search invoices by customer and due date."
    ),
    tech_stack=["python", "fastapi", "postgresql"],
)
TODO_APP = DecompositionPayload(
    title="Todo app",
    description=(
        "A todo app where users can create, edit, complete and delete todos and add tags to todos. "
        "Each todo has a title, optional notes and a due date. Users filter todos by tag."
    ),
    tech_stack=["typescript", "express"],
)
CSV_IMPORT = DecompositionPayload(
    title="Batch CSV import of bank transactions",
    description=(
        "Nightly batch job that imports bank transactions from a CSV file, validates rows, deduplicates "
        "them by reference, and stores them in PostgreSQL. Rejected rows are written to an error report."
    ),
    tech_stack=["python", "postgresql"],
    exclude_categories=[Category.HTTP_API],
)
TASKS = [INVOICE_EXPORT, TODO_APP, CSV_IMPORT]


def sample() -> DecompositionPayload:
    return DecompositionPayload.model_validate(
        json.loads(resources.files("orbit_pipelines.samples").joinpath("decomposition_task.json").read_text())
    )


def by_id(subtasks):
    return {s.id: s for s in subtasks}


def ids(subtasks, category):
    return [s.id for s in subtasks if s.category == category]


def text_of(subtask):
    return "\n".join([subtask.title, subtask.description, *subtask.requirements])


def with_changes(payload, **changes):
    return DecompositionPayload.model_validate(payload.model_dump() | changes)


def task(id, category=Category.DATA_MODEL, deps=()):
    return Subtask(
        id=id,
        category=category,
        title=id,
        description=id,
        requirements=[],
        dependencies=list(deps),
        estimated_effort_hours=1,
        priority=SubtaskPriority.LOW,
    )


def complete_plan():
    return [
        task("data_model.a"),
        task("service.a", Category.SERVICE, ["data_model.a"]),
        task("http_api.a", Category.HTTP_API, ["service.a"]),
        task("testing.a_api", Category.TESTING, ["http_api.a"]),
    ]


# --- different tasks, different plans ---------------------------------------------------------------------


def test_each_task_gets_data_models_for_its_own_entities():
    assert ids(decompose(INVOICE_EXPORT), Category.DATA_MODEL) == ["data_model.invoice"]
    assert ids(decompose(TODO_APP), Category.DATA_MODEL) == ["data_model.todo", "data_model.tag"]
    # The nightly job and its deduplication are work of their own (issue 19), after the entity's model.
    assert ids(decompose(CSV_IMPORT), Category.DATA_MODEL) == [
        "data_model.bank_transaction",
        "data_model.job_runs",
        "data_model.dedup_key",
    ]


def routes(subtasks):
    return {
        r.split("`")[1]
        for s in subtasks
        if s.category == Category.HTTP_API
        for r in s.requirements
        if r.startswith("`")
    }


def test_no_two_tasks_share_subtask_ids_or_routes():
    plans = [decompose(t) for t in TASKS]
    for first, second in itertools.combinations(plans, 2):
        assert not {s.id for s in first} & {s.id for s in second}
        assert not routes(first) & routes(second)


def test_routes_follow_the_operations_the_text_asks_for():
    invoice_api = text_of(by_id(decompose(INVOICE_EXPORT))["http_api.invoice"])
    todo_api = text_of(by_id(decompose(TODO_APP))["http_api.todo"])
    assert "GET /invoices/{id}/export?format=pdf" in invoice_api
    assert "POST /invoices/{id}/send" in invoice_api
    assert "GET /invoices?customer={customer}&due_date={due_date}" in invoice_api
    for route in ("POST /todos", "PATCH /todos/{id}", "DELETE /todos/{id}", "GET /todos?tag_id={tag_id}"):
        assert route in todo_api
    assert "export" not in todo_api


def test_http_api_names_the_framework_of_the_tech_stack():
    assert "FastAPI" in text_of(by_id(decompose(INVOICE_EXPORT))["http_api.invoice"])
    assert "Express" in text_of(by_id(decompose(TODO_APP))["http_api.todo"])


def test_http_api_without_a_declared_framework_says_so():
    api = by_id(decompose(with_changes(TODO_APP, tech_stack=["typescript"])))["http_api.todo"]
    assert "No web framework is declared" in text_of(api)


def test_import_tasks_get_an_import_operation_with_its_file_format():
    service = by_id(decompose(CSV_IMPORT))["service.bank_transaction"]
    assert any(r.startswith("Operation import:") and "CSV" in r for r in service.requirements)


# --- categories and dependencies --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", TASKS, ids=lambda p: p.title)
def test_every_category_that_is_not_excluded_has_subtasks(payload):
    present = {s.category for s in decompose(payload)}
    assert present == set(CATEGORY_ORDER) - set(payload.exclude_categories)


@pytest.mark.parametrize("payload", [*TASKS, sample()], ids=lambda p: p.title)
def test_generated_plans_pass_validation(payload):
    validate_plan(decompose(payload), payload.exclude_categories)


def test_a_service_depends_on_its_data_model():
    plan = by_id(decompose(TODO_APP))
    assert "data_model.todo" in plan["service.todo"].dependencies
    assert "data_model.tag" in plan["service.tag"].dependencies


def test_a_service_also_depends_on_the_models_of_entities_the_text_relates_to_it():
    plan = by_id(decompose(sample()))
    assert plan["service.invoice"].dependencies == ["data_model.invoice", "data_model.customer"]


def test_a_data_model_depends_on_the_models_it_references():
    plan = by_id(decompose(sample()))  # "a Customer's invoices"
    assert plan["data_model.invoice"].dependencies == ["data_model.customer"]
    assert "reference to Customer" in text_of(plan["data_model.invoice"])


def test_an_http_api_depends_on_its_service():
    assert by_id(decompose(INVOICE_EXPORT))["http_api.invoice"].dependencies == ["service.invoice"]


def test_each_test_subtask_depends_on_exactly_what_it_tests():
    plan = by_id(decompose(INVOICE_EXPORT))
    assert plan["testing.invoice_service"].dependencies == ["service.invoice"]
    assert plan["testing.invoice_api"].dependencies == ["http_api.invoice"]


def test_excluded_categories_produce_no_subtasks_and_no_tests_for_them():
    plan = decompose(CSV_IMPORT)
    assert not ids(plan, Category.HTTP_API)
    tests = ids(plan, Category.TESTING)
    assert "testing.bank_transaction_service" in tests
    assert not [t for t in tests if t.endswith("_api")]


def test_without_a_service_layer_the_api_depends_on_the_data_model():
    plan = by_id(decompose(with_changes(INVOICE_EXPORT, exclude_categories=["SERVICE"])))
    assert plan["http_api.invoice"].dependencies == ["data_model.invoice"]


def test_without_data_models_services_depend_on_nothing():
    plan = by_id(decompose(with_changes(sample(), exclude_categories=["DATA_MODEL"])))
    assert plan["service.invoice"].dependencies == []


def test_with_only_data_models_and_tests_the_tests_cover_the_models():
    plan = by_id(decompose(with_changes(INVOICE_EXPORT, exclude_categories=["SERVICE", "HTTP_API"])))
    assert plan["testing.invoice_model"].dependencies == ["data_model.invoice"]


# Every exclusion a payload may ask for (excluding all four is refused at intake: nothing to plan).
EVERY_EXCLUSION = [list(c) for n in range(len(CATEGORY_ORDER)) for c in itertools.combinations(CATEGORY_ORDER, n)]


@pytest.mark.parametrize("excluded", EVERY_EXCLUSION, ids=lambda c: "+".join(x.value for x in c) or "nothing")
def test_no_exclusion_leaves_a_dependency_on_a_missing_subtask(excluded):
    payload = with_changes(sample(), exclude_categories=excluded)
    plan = decompose(payload)
    validate_plan(plan, excluded)
    known = {s.id for s in plan}
    assert all(d in known for s in plan for d in s.dependencies)


# --- determinism and ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", TASKS, ids=lambda p: p.title)
def test_decomposing_the_same_task_twice_gives_the_same_plan(payload):
    assert decompose(payload) == decompose(DecompositionPayload.model_validate(payload.model_dump()))


def test_ids_are_stable_slugs_of_category_and_entity():
    pattern = re.compile(r"^(data_model|service|http_api|testing)\.[a-z0-9_]+$")
    for payload in TASKS:
        assert all(pattern.match(s.id) for s in decompose(payload))


def test_declared_entity_names_in_any_spelling_become_the_same_slug():
    plan = decompose(with_changes(INVOICE_EXPORT, entities=["Line items", "LineItem", "line_item"]))
    assert ids(plan, Category.DATA_MODEL) == ["data_model.line_item"]


# --- entities, fields, operations -------------------------------------------------------------------------


def test_entities_are_inferred_from_verbs_and_singularised():
    payload = DecompositionPayload(title="Catalogue", description="Admins manage categories and upload products.")
    assert ids(decompose(payload), Category.DATA_MODEL) == ["data_model.category", "data_model.product"]


def test_capitalised_domain_words_are_entities():
    payload = DecompositionPayload(title="Reminders", description="Each reminder belongs to a Patient.")
    assert "data_model.patient" in ids(decompose(payload), Category.DATA_MODEL)


def test_declared_entities_replace_inference():
    plan = decompose(with_changes(INVOICE_EXPORT, entities=["Customer"]))
    assert ids(plan, Category.DATA_MODEL) == ["data_model.customer"]


def test_the_title_provides_an_entity_when_the_text_names_none():
    payload = DecompositionPayload(title="Reporting dashboard", description="Make it fast and reliable.")
    assert ids(decompose(payload), Category.DATA_MODEL) == ["data_model.reporting_dashboard"]


def test_inferred_entities_are_capped():
    nouns = ["apples", "pears", "plums", "grapes", "lemons", "limes", "melons", "kiwis", "figs", "dates"]
    payload = DecompositionPayload(title="Fruit", description=" ".join(f"Users create {n}." for n in nouns))
    assert len(ids(decompose(payload), Category.DATA_MODEL)) == 8


def test_fields_in_parentheses_become_model_fields():
    payload = DecompositionPayload(title="Billing", description="Store each Invoice (number, amount, due_date).")
    model = text_of(by_id(decompose(payload))["data_model.invoice"])
    for name in ("number", "amount", "due_date"):
        assert f"Field `{name}`" in model


def test_fields_after_with_become_model_fields_and_stop_at_the_clause():
    payload = DecompositionPayload(
        title="Billing",
        description="Create an Invoice with number, amount and due date that customers can pay.",
    )
    model = by_id(decompose(payload))["data_model.invoice"]
    fields = [r for r in model.requirements if r.startswith("Field ")]
    assert [f.split("`")[1] for f in fields] == ["number", "amount", "due_date"]


def test_fields_get_types_and_constraints_from_their_names():
    model = text_of(by_id(decompose(INVOICE_EXPORT))["data_model.invoice"])
    assert "Field `number`: string, required, unique" in model
    assert "Field `amount`: exact decimal amount (never float), required, non-negative" in model
    assert "Field `due_date`: date, required" in model


def test_optional_fields_are_marked_optional():
    model = text_of(by_id(decompose(TODO_APP))["data_model.todo"])
    assert "Field `notes`: free text, optional" in model


def test_searched_fields_are_indexed():
    model = text_of(by_id(decompose(INVOICE_EXPORT))["data_model.invoice"])
    assert "Index `customer` and `due_date`" in model


def test_a_relational_store_in_the_stack_asks_for_a_migration():
    assert "`invoices` table in PostgreSQL through a versioned migration" in text_of(
        by_id(decompose(INVOICE_EXPORT))["data_model.invoice"]
    )
    assert "migration" not in text_of(by_id(decompose(TODO_APP))["data_model.todo"])


def test_operations_default_to_create_list_and_get_when_the_text_names_none():
    payload = DecompositionPayload(title="Widgets", description="A Widget (name, price) catalogue.")
    api = text_of(by_id(decompose(payload))["http_api.widget"])
    assert [r.split("`")[1] for r in api.splitlines() if r.startswith("`")] == [
        "POST /widgets",
        "GET /widgets",
        "GET /widgets/{id}",
    ]


def test_operations_go_to_the_entity_the_verb_acts_on():
    plan = by_id(decompose(sample()))
    assert "export" in plan["service.invoice"].description
    assert "export" not in plan["service.customer"].description
    assert "notify" in plan["service.customer"].description


def test_business_rules_are_the_sentences_that_mention_the_entity():
    service = by_id(decompose(TODO_APP))["service.tag"]
    rules = [r for r in service.requirements if r.startswith("Business rule")]
    assert rules == [
        "Business rule from the task: A todo app where users can create, edit, complete and delete todos "
        "and add tags to todos.",
        "Business rule from the task: Users filter todos by tag.",
    ]


def test_acceptance_criteria_go_into_the_tests_of_the_entity_they_name():
    payload = with_changes(
        TODO_APP,
        acceptance_criteria=["Deleting a todo twice returns 404 on the second request", "A tag name is unique"],
    )
    plan = by_id(decompose(payload))
    assert (
        "Acceptance criterion: Deleting a todo twice returns 404 on the second request"
        in plan["testing.todo_api"].requirements
    )
    assert "Acceptance criterion: A tag name is unique" in plan["testing.tag_service"].requirements
    assert plan["testing.todo_api"].priority == SubtaskPriority.MEDIUM


def test_effort_grows_with_fields_and_operations():
    small = DecompositionPayload(title="T", description="Users create notes. A Note (title, body).")
    large = DecompositionPayload(
        title="T",
        description="Users manage, search, export and approve notes. A Note (title, body, author, "
        "created_at, status, priority).",
    )
    small_plan, large_plan = by_id(decompose(small)), by_id(decompose(large))
    for sid in ("data_model.note", "service.note", "http_api.note"):
        assert large_plan[sid].estimated_effort_hours > small_plan[sid].estimated_effort_hours


def test_data_models_are_high_priority_and_plain_tests_low():
    plan = decompose(INVOICE_EXPORT)
    assert {s.priority for s in plan if s.category == Category.DATA_MODEL} == {SubtaskPriority.HIGH}
    assert {s.priority for s in plan if s.category == Category.TESTING} == {SubtaskPriority.LOW}


def test_user_text_is_carried_as_data():
    sentence = "Invoices with {{ secret }} and {% if x %} or '; DROP TABLE invoices; -- and \x07 stay as written."
    payload = DecompositionPayload(title="Billing {{ title }}", description=f"Users create invoices. {sentence}")
    plan = by_id(decompose(payload))
    assert f"Business rule from the task: {sentence}" in plan["service.invoice"].requirements
    assert "Billing {{ title }}" in plan["data_model.invoice"].description


# --- validate_plan ----------------------------------------------------------------------------------------


def test_a_complete_plan_is_valid():
    validate_plan(complete_plan())


def test_a_missing_category_is_rejected_by_name():
    plan = [s for s in complete_plan() if s.category != Category.SERVICE]
    for s in plan:
        s.dependencies = []
    with pytest.raises(PlanError, match="category SERVICE has no subtasks"):
        validate_plan(plan)


def test_a_missing_category_is_fine_when_excluded():
    plan = [task("data_model.a"), task("testing.a_model", Category.TESTING, ["data_model.a"])]
    validate_plan(plan, [Category.SERVICE, Category.HTTP_API])


def test_an_excluded_category_that_is_present_is_rejected_with_its_subtasks():
    with pytest.raises(PlanError, match="category HTTP_API is excluded but has subtasks http_api.a"):
        validate_plan(complete_plan(), [Category.HTTP_API])


def test_duplicate_ids_are_rejected_by_name():
    with pytest.raises(PlanError, match="duplicate subtask id 'service.a'"):
        validate_plan([*complete_plan(), task("service.a", Category.SERVICE)])


def test_a_dependency_on_a_missing_subtask_names_both():
    plan = complete_plan()
    plan[1].dependencies.append("data_model.ghost")
    with pytest.raises(PlanError, match="subtask 'service.a' depends on missing subtask 'data_model.ghost'"):
        validate_plan(plan)


def test_a_dependency_cycle_is_rejected_and_spelled_out():
    plan = complete_plan()
    plan[0].dependencies.append("http_api.a")
    cycle = "dependency cycle: data_model.a -> http_api.a -> service.a -> data_model.a"
    with pytest.raises(PlanError, match=cycle):
        validate_plan(plan)


def test_a_subtask_depending_on_itself_is_a_cycle():
    plan = complete_plan()
    plan[3].dependencies.append("testing.a_api")
    with pytest.raises(PlanError, match="dependency cycle: testing.a_api -> testing.a_api"):
        validate_plan(plan)


def test_every_problem_is_reported_at_once():
    plan = [*complete_plan(), task("data_model.a")]
    plan[1].dependencies.append("nope")
    with pytest.raises(PlanError) as info:
        validate_plan(plan)
    assert len(info.value.problems) == 2


def test_plan_error_is_a_value_error():
    assert issubclass(PlanError, ValueError)


# --- topological_order ------------------------------------------------------------------------------------


def test_topological_order_puts_dependencies_first_and_otherwise_keeps_the_given_order():
    plan = [task("c", deps=["b"]), task("a"), task("b", deps=["a"]), task("d")]
    assert [s.id for s in topological_order(plan)] == ["a", "b", "c", "d"]


def test_topological_order_ignores_dependencies_outside_the_list():
    plan = [task("b", deps=["elsewhere"]), task("a")]
    assert [s.id for s in topological_order(plan)] == ["b", "a"]


def test_topological_order_rejects_a_cycle():
    with pytest.raises(PlanError, match="dependency cycle"):
        topological_order([task("a", deps=["b"]), task("b", deps=["a"])])

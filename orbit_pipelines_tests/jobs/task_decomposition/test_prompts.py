"""render_prompts and plan_markdown."""

import re

from orbit_pipelines.jobs.task_decomposition.decompose import decompose
from orbit_pipelines.jobs.task_decomposition.enrich import enrich
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    DecompositionPayload,
    Prompt,
    Subtask,
    SubtaskPriority,
)
from orbit_pipelines.jobs.task_decomposition.prompts import plan_markdown, render_prompts

TASK = DecompositionPayload(
    title="Invoice export for customers",
    description=(
        "Customers need to export their Invoices (number, amount, currency, due date) as CSV. "
        "Add a way to list a Customer's invoices and filter them by due date."
    ),
    tech_stack=["python", "fastapi", "postgresql"],
    entities=["Invoice", "Customer"],
    acceptance_criteria=["Amounts keep two decimals in CSV"],
    project_rules=["Every endpoint requires an authenticated customer"],
)
INJECTION = "Ignore this: {{ 7*7 }} {% for x in y %}{{ x }}{% endfor %} {{ config }} {% raw %}raw{% endraw %}"


def prompts_for(payload=TASK):
    subtasks = enrich(decompose(payload), payload)
    return {p.category: p for p in render_prompts(subtasks, payload)}


def with_changes(**changes):
    return DecompositionPayload.model_validate(TASK.model_dump() | changes)


def test_there_is_one_prompt_per_category_in_category_order():
    subtasks = enrich(decompose(TASK), TASK)
    assert [p.category for p in render_prompts(subtasks, TASK)] == CATEGORY_ORDER


def test_an_excluded_category_gets_no_prompt():
    assert Category.HTTP_API not in prompts_for(with_changes(exclude_categories=["HTTP_API"]))


def test_a_prompt_holds_its_category_subtasks_in_dependency_order():
    prompt = prompts_for()[Category.DATA_MODEL]
    assert prompt.subtask_ids == ["data_model.customer", "data_model.invoice"]  # invoices reference customers
    assert prompt.text.index("`data_model.customer`") < prompt.text.index("`data_model.invoice`")


def test_a_prompt_carries_the_task_and_its_tech_stack():
    text = prompts_for()[Category.SERVICE].text
    assert "Invoice export for customers" in text
    assert TASK.description in text
    assert "## Tech stack\n\n- python\n- fastapi\n- postgresql\n" in text


def test_a_prompt_lists_requirements_and_where_dependencies_are_done():
    text = prompts_for()[Category.HTTP_API].text
    assert "- `GET /invoices`: list invoices, paginated with limit and offset" in text
    assert "`service.invoice` Invoice service (done in the SERVICE prompt)" in text
    assert "FastAPI: Declare request and response models with pydantic" in text


def test_a_prompt_carries_standards_rules_practices_and_acceptance_criteria():
    text = prompts_for()[Category.TESTING].text
    assert "## Coding standards" in text and "PEP 8" in text
    assert "## Project rules\n\n- Every endpoint requires an authenticated customer\n" in text
    assert "## Best practices" in text and "Cover the error paths as well as the happy path" in text
    assert "## Acceptance criteria\n\n- Amounts keep two decimals in CSV\n" in text


def test_template_syntax_in_the_description_comes_out_literally():
    for prompt in prompts_for(with_changes(description=TASK.description + " " + INJECTION)).values():
        assert INJECTION in prompt.text
        assert "49" not in prompt.text


def test_template_syntax_in_title_rules_criteria_and_entities_comes_out_literally():
    payload = with_changes(
        title="Export {{ 7*7 }}",
        project_rules=["{{ config }}"],
        acceptance_criteria=["{% if true %}yes{% endif %}"],
        entities=["{{ x }}"],
    )
    text = prompts_for(payload)[Category.TESTING].text
    for literal in ("Export {{ 7*7 }}", "- {{ config }}", "- {% if true %}yes{% endif %}"):
        assert literal in text
    assert "49" not in text


def test_backticks_in_the_description_cannot_close_its_code_fence():
    text = prompts_for(with_changes(description="Customers export invoices.\n```\n# Not a heading\n````"))[
        Category.SERVICE
    ].text
    assert "`````text\nCustomers export invoices.\n```\n# Not a heading\n````\n`````\n" in text


def test_multi_line_requirements_stay_inside_their_list_item():
    payload = with_changes(project_rules=["first line\nsecond line"])
    assert "- first line\n  second line\n" in prompts_for(payload)[Category.SERVICE].text


def test_unenriched_subtasks_render_too():
    prompts = render_prompts(decompose(TASK), TASK)
    assert [p.category for p in prompts] == CATEGORY_ORDER
    assert "## Coding standards" not in prompts[0].text
    assert "Every endpoint requires an authenticated customer" in prompts[0].text


def test_rendering_is_deterministic():
    assert prompts_for() == prompts_for()


# --- plan_markdown ----------------------------------------------------------------------------------------


def subtask(id, title="t", deps=()):
    return Subtask(
        id=id,
        category=Category.SERVICE,
        title=title,
        description="d",
        requirements=[],
        dependencies=list(deps),
        estimated_effort_hours=1.5,
        priority=SubtaskPriority.MEDIUM,
    )


def columns(row):
    return len(re.findall(r"(?<!\\)\|", row)) - 1


def test_the_plan_table_has_a_row_per_subtask_with_its_dependencies():
    table = plan_markdown([subtask("service.a"), subtask("service.b", deps=["service.a"])])
    lines = table.splitlines()
    assert lines[0] == "| id | category | title | effort (h) | priority | depends on |"
    assert lines[2] == "| service.a | SERVICE | t | 1.5 | MEDIUM | \u2014 |"
    assert lines[3] == "| service.b | SERVICE | t | 1.5 | MEDIUM | service.a |"
    assert "2 subtasks, 3 h estimated in total." in table


def test_pipes_in_cells_are_escaped():
    row = plan_markdown([subtask("service.a", title="a | b")]).splitlines()[2]
    assert "a \\| b" in row
    assert columns(row) == 6


def test_line_breaks_in_cells_do_not_end_the_row():
    table = plan_markdown([subtask("service.a", title="one\ntwo\r\nthree")])
    assert "| one<br>two<br>three |" in table
    assert columns(table.splitlines()[2]) == 6


def test_the_plan_table_can_summarise_the_prompts():
    prompt = Prompt(category=Category.SERVICE, subtask_ids=["service.a"], text="x" * 42)
    table = plan_markdown([subtask("service.a")], [prompt])
    assert "| SERVICE | service.a | 42 |" in table


def test_a_generated_plan_renders_as_a_table():
    plan = decompose(TASK)
    table = plan_markdown(plan)
    assert all(f"| {s.id} |" in table for s in plan)

"""A DATA_MODEL entity needs evidence in the task that the system keeps it: fields, or its records created,
changed, deleted, uploaded, approved, stored or owned. A thing that is only shown, or a feature the task adds
to the product, is UI or work. Each task is written for the test (no benchmark task's text)."""

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

STACK = ["Python", "Django", "PostgreSQL"]


def _models(title: str, description: str) -> list[str]:
    plan = plan_task(DecompositionPayload(title=title, description=description, tech_stack=STACK))
    validate_plan(plan.subtasks, decisions=plan.decisions)
    return [s.id for s in plan.subtasks if s.category == Category.DATA_MODEL]


def test_a_thing_only_shown_beside_a_kept_one_is_no_entity():
    models = _models(
        "Equipment loans",
        "Staff create loans with a borrower, an item and a due date. "
        "The loan list shows a green dot when the loan is due today.",
    )
    assert models == ["data_model.loan"]


def test_a_feature_the_task_adds_to_the_product_is_no_entity():
    models = _models(
        "Quick switcher for the help desk",
        "Add a quick switcher to the help desk that opens on any page. "
        "Agents create tickets with a subject and a priority.",
    )
    assert models == ["data_model.ticket"]


def test_someone_who_opts_out_is_kept():
    models = _models(
        "Delivery texts",
        "Send drivers a text message when a route is assigned. Drivers can reply STOP to opt out.",
    )
    assert "data_model.driver" in models


def test_a_crud_feature_whose_text_shows_nothing_kept_keeps_what_it_names():
    assert "data_model.vehicle" in _models("Fleet", "Each booking belongs to a Vehicle.")


def test_the_keys_of_a_keyboard_are_no_fields_of_an_entity():
    models = _models(
        "Accessible timetable",
        "Teachers can create and edit lessons. The timetable works from the keyboard (arrow keys, Tab, Space).",
    )
    assert not [m for m in models if "keyboard" in m]


def test_ones_the_pronoun_names_no_entity():
    models = _models(
        "Expense claims",
        "Employees create expense claims; a manager approves them. Editing is blocked for approved ones.",
    )
    assert not [m for m in models if m.endswith(".one") or "_one" in m]

"""How a noun phrase names an entity: by its head noun and the word before it, never by an adjective, a
counted unit of time, an icon's picture, a gerund or an acronym. Each case is a sentence written for the
test (no benchmark task's text), so the rules are checked, not the tasks."""

import pytest

from orbit_pipelines.jobs.task_decomposition.clauses import parse_clause
from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.work import load_library

STACK = ["python", "django", "postgresql"]


def _plan(title: str, description: str):
    plan = plan_task(DecompositionPayload(title=title, description=description, tech_stack=STACK))
    validate_plan(plan.subtasks, decisions=plan.decisions)
    return plan


def _models(title: str, description: str) -> list[str]:
    return [s.id for s in _plan(title, description).subtasks if s.category == Category.DATA_MODEL]


def test_an_icon_and_the_picture_it_shows_name_no_entity():
    models = _models("Favourite recipes", "Show a star icon beside each recipe; cooks mark recipes as favourites.")
    assert models == ["data_model.recipe"]


def test_the_head_noun_of_a_long_noun_phrase_names_the_entity():
    models = _models("Inspections", "Facility teams create fire safety inspections for each building.")
    assert models == ["data_model.safety_inspection"]


def test_an_adjective_before_the_noun_is_left_out_of_the_entitys_name():
    models = _models("Delivery routes", "Dispatchers create recurring delivery routes for each depot and edit them.")
    assert models == ["data_model.delivery_route"]


def test_an_adjective_alone_names_no_entity():
    models = _models("Bookings", "Staff view upcoming bookings and cancel them.")
    assert models == ["data_model.booking"]


@pytest.mark.parametrize(
    "description",
    [
        "Couriers create deliveries. Deliveries are uploaded every 30 seconds.",
        "Couriers create deliveries. Deliveries are exported every 2 days.",
    ],
)
def test_a_counted_unit_of_time_names_no_entity(description):
    models = _models("Deliveries", description)
    assert "data_model.delivery" in models
    assert not [m for m in models if m.endswith(("second", "day"))], models


def test_a_unit_of_time_that_qualifies_a_thing_still_names_it():
    assert "data_model.day_pass" in _models("Passes", "Visitors create day passes and view them.")


def test_a_gerund_after_a_noun_names_the_activity_not_a_thing():
    # The title's noun phrase stands in for an entity here: the vet visit, not a "visit booking".
    assert _models("Vet visit booking", "Pet owners do this online, on phones and on the web.") == [
        "data_model.vet_visit"
    ]


def test_the_plural_of_an_acronym_names_no_entity():
    models = _models("Callbacks", "Partners register callback URLs and view their deliveries.")
    assert not [m for m in models if "ur_ls" in m or m.endswith(".url")], models


def test_a_participle_opening_a_clause_describes_its_subject_and_the_passive_is_the_work():
    plan = _plan("Invoice inbox", "Suppliers upload invoices. Uploaded invoices are scanned for viruses.")
    titles = [s.title for s in plan.subtasks]
    assert "Scan uploaded invoices" in titles
    clause = parse_clause("Uploaded invoices are scanned for viruses", "description", load_library().verbs)
    assert (clause.verb, clause.topic) == ("scan", "uploaded invoices")


def test_a_length_of_time_keeps_its_article_when_the_clause_is_restated():
    clause = parse_clause("Check the certificates on every server once a day", "description", load_library().verbs)
    assert clause.requirement == "Check certificates on every server once a day"

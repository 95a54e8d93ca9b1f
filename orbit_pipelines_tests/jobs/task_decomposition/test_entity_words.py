"""Which words may name a DATA_MODEL entity: things the domain stores, never an adverb, a number word, an
adjective, a verb used as the sentence's action, a part of a hyphenated word or a generic word. Each case
is a sentence written for the test (no benchmark task's text), so the rules are checked, not the tasks."""

import json
from pathlib import Path

import pytest

from bench.decomposition import suspect_entities
from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

STACK = ["python", "django", "postgresql"]


def _models(title: str, description: str, stack=STACK) -> list[str]:
    plan = plan_task(DecompositionPayload(title=title, description=description, tech_stack=stack))
    validate_plan(plan.subtasks, decisions=plan.decisions)
    return [s.id for s in plan.subtasks if s.category == Category.DATA_MODEL]


@pytest.mark.parametrize(
    ("title", "description", "word"),
    [
        # an adverb of frequency after a verb
        ("Voucher codes", "Shop owners create vouchers. A voucher is shown once at checkout.", "once"),
        # an adjective after a verb
        ("Retire old courses", "Teachers edit courses. A course no one took is marked obsolete.", "obsolete"),
        ("Hide sold cars", "Dealers list cars. A car that is sold is marked unavailable.", "unavailable"),
        # a superlative before the entity: the entity is the noun, not "newest courses"
        ("Course catalogue", "Students browse courses; the catalogue shows the newest courses first.", "newest"),
        # a part of a hyphenated word
        ("Opt-in newsletters", "Readers subscribe to newsletters; nothing is sent without an opt-in.", "opt"),
        ("Zero-touch device setup", "Upgrade the fleet's firmware with no manual step on any device.", "zero"),
        # a verb used as the action of its sentence (imperative), never the entity of the title
        ("Move invoices to cold storage", "Invoices older than a year live in the main database. Move them.", "move"),
        ("Database failover", "Promote the replica when the primary stops answering for 30 seconds.", "promote"),
        # a verb after a plural subject ("uploads read from disk")
        ("Serve files from the bucket", "Uploads are copied to the bucket; downloads read from the bucket.", "read"),
        # a noun spelled like a verb after a determiner is no verb: "the export runs" names no `run`
        ("Timesheet export", "Managers export timesheets; a banner shows while the export runs.", "run"),
        # words in parentheses are values, not a verb and its object
        ("Order history", "Every order event (status changes, refunds, notes) is kept with its time.", "refund"),
        # generic words
        ("Quiz results", "Teachers create quizzes and filter the results by class.", "result"),
    ],
)
def test_a_word_that_is_not_a_stored_thing_names_no_entity(title, description, word):
    models = _models(title, description)
    assert not [m for m in models if word in m.split(".", 1)[1].split("_")], models


def test_a_real_entity_next_to_those_words_is_still_modelled():
    assert "data_model.voucher" in _models(
        "Voucher codes", "Shop owners create vouchers. A voucher is shown once at checkout."
    )
    assert "data_model.tag" in _models("Tagged notes", "Users create notes and add tags to notes.")
    # a participle after a determiner still acts on its noun: "a removed seat" removes seats
    assert "data_model.seat" in _models("Seats", "Teams buy seats; a removed seat is refunded pro rata.")


SAML = DecompositionPayload(
    title="Add SAML single sign-on for enterprise customers using Okta",
    description=(
        "Add SAML single sign-on for enterprise customers using Okta; users provisioned via SCIM; "
        "sessions expire after 8 hours"
    ),
    tech_stack=STACK,
)


def test_single_sign_on_is_an_auth_task_with_its_own_work_and_the_named_vendor_integrated():
    plan = plan_task(SAML)
    validate_plan(plan.subtasks, decisions=plan.decisions)
    ids = [s.id for s in plan.subtasks]
    text = " ".join(f"{s.title} {s.description} {' '.join(s.requirements)}" for s in plan.subtasks).lower()
    assert "(auth or security feature)" in plan.subtasks[0].description
    assert not [i for i in ids if i.endswith(".sign") or "sign_" in i.split(".")[1][:5]]
    assert "`signs`" not in text and "`id` primary key" not in text  # no invented CRUD entity
    assert {"data_model.identity_provider", "service.sso_sign_in", "http_api.sso_routes"} <= set(ids)
    assert {"service.provisioning", "http_api.provisioning", "testing.provisioning"} <= set(ids)
    assert {"service.integration_okta", "testing.integration_okta"} <= set(ids)
    assert "8 hours" in text


@pytest.mark.parametrize("words", ["single sign-on", "SSO", "SAML", "sign-on"])
def test_sign_on_words_make_an_auth_task(words):
    plan = plan_task(DecompositionPayload(title=f"{words} for staff", description=f"Staff use {words} at work."))
    assert all("(auth or security feature)" in s.description for s in plan.subtasks if "for the task" in s.description)


def test_a_known_vendor_named_in_the_text_gets_an_integration_item():
    plan = plan_task(
        DecompositionPayload(
            title="Crash reports for the mobile app",
            description="Send crashes of the iOS app to Sentry with the app version.",
            tech_stack=["Swift"],
        )
    )
    ids = [s.id for s in plan.subtasks]
    assert {"service.integration_sentry", "testing.integration_sentry"} <= set(ids)
    # a vendor's name used as a common word ("a segment") is no vendor
    plain = plan_task(DecompositionPayload(title="Route segments", description="Drivers create route segments."))
    assert not [s.id for s in plain.subtasks if "integration_" in s.id]


def test_the_bench_flags_invented_entities_the_not_entities_lists_do_not_name():
    text = "Zero-downtime upgrade; single sign-on. A key is shown once; the queue shows the oldest comments."
    flagged = suspect_entities(
        ["data_model.zero", "data_model.sign", "data_model.once", "data_model.oldest_comment", "data_model.key"], text
    )
    assert flagged == ["data_model.zero", "data_model.sign", "data_model.once", "data_model.oldest_comment"]
    # work items of work.toml and a word that is also used on its own are not suspects
    assert suspect_entities(["data_model.job_runs", "data_model.seat"], "Seat-based plans: a seat per user.") == []


BENCH = Path(__file__).parents[3] / "bench"
TASKS = [
    task
    for name in ("reference", "own", "holdout", "blind", "blind2")
    for task in json.loads((BENCH / f"decomposition_{name}_tasks.json").read_text())
]


@pytest.mark.parametrize("task", TASKS, ids=[t["title"][:40] for t in TASKS])
def test_no_benchmark_plan_has_a_suspect_entity(task):
    payload = DecompositionPayload.model_validate(
        {k: v for k, v in task.items() if k not in {"must_cover", "not_entities"}}
    )
    models = [s.id for s in plan_task(payload).subtasks if s.category == Category.DATA_MODEL]
    text = " ".join([payload.title, payload.description, *payload.acceptance_criteria, *payload.project_rules])
    assert suspect_entities(models, text) == []


def test_a_clause_about_something_not_modelled_is_work_of_its_own_not_the_entities():
    # Payments are not modelled in this scheduled job (nothing asks to keep them), so the reminders' entity
    # subtasks do not stand for "shows the oldest payments first": it becomes work of its own.
    plan = plan_task(
        DecompositionPayload(
            title="Nightly dunning",
            description="Every night, accountants create reminders for late invoices. "
            "The overview shows the oldest payments first.",
            tech_stack=STACK,
        )
    )
    ids = [s.id for s in plan.subtasks]
    assert "data_model.reminder" in ids and "data_model.payment" not in ids
    assert {"service.show_oldest_payments_first", "testing.show_oldest_payments_first"} <= set(ids)


# UI widgets (knowledge/language.toml): what a screen shows is no DATA_MODEL entity; the entity is what the
# widget shows or records, or there is none, and the widget stays in the UI work.
@pytest.mark.parametrize(
    ("title", "description", "widget"),
    [
        ("Newsletter prompt", "Show a signup banner to new readers; each reader's subscription is stored.", "banner"),
        (
            "Delete account",
            "Users delete their account from a confirmation modal; nothing is kept after 30 days.",
            "modal",
        ),
        ("Shipping tips", "Show a tooltip beside each shipping option; staff edit the shipping options.", "tooltip"),
        ("Filters", "Shoppers tick checkboxes in a sidebar to filter the products they browse.", "checkbox"),
    ],
)
def test_a_ui_widget_is_never_an_entity_nor_its_head(title, description, widget):
    models = _models(title, description)
    assert not [m for m in models if widget in m], models


def test_the_entity_of_a_widget_is_what_it_shows():
    models = _models(
        "Privacy choices",
        "Show a consent banner with two choices: analytics and advertising. Visitors change it later.",
    )
    assert "data_model.consent" in models
    assert not [m for m in models if "banner" in m]


def test_a_widget_stays_in_the_ui_work():
    plan = plan_task(
        DecompositionPayload(
            title="Delete account",
            description="Users delete their account from a confirmation modal; nothing is kept after 30 days.",
            tech_stack=STACK,
        )
    )
    assert "data_model.account" in {s.id for s in plan.subtasks}
    assert not [s for s in plan.subtasks if s.category == Category.DATA_MODEL and "modal" in s.title.lower()]


@pytest.mark.parametrize(
    ("title", "description", "word"),
    [
        # a phrasal verb's words name no entity: "sign" of "sign up", "check" of "check out"
        ("Guest orders", "Shoppers sign up with an email or check out as guests; orders keep an address.", "sign"),
        ("Guest orders", "Shoppers sign up with an email or check out as guests; orders keep an address.", "check"),
        ("Webhook retries", "Send order events to partners. Failed deliveries back off exponentially.", "back"),
    ],
)
def test_a_phrasal_verb_names_no_entity(title, description, word):
    models = _models(title, description)
    assert not [m for m in models if word in m.split(".", 1)[1].split("_")], models

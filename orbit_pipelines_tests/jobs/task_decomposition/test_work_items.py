"""The deterministic strategy reads a task's requirements (issue 19): work items from the task's own
clauses, integrations never modelled as entities, plans shaped by the kind of task."""

import json
from pathlib import Path

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.prompts import render_prompts

RATE_LIMIT = DecompositionPayload(
    title="Rate limiting for the public API",
    description="Limit each API key to 100 requests per minute and return 429 with a Retry-After header "
    "when the limit is exceeded.",
    tech_stack=["Python", "FastAPI", "Redis"],
)
SHOPIFY_SYNC = DecompositionPayload(
    title="Nightly Shopify to Snowflake sync",
    description="Every night at 02:00 pull orders changed since the last run from the Shopify Admin API, "
    "deduplicate them by order id, load them into Snowflake, and alert the data team in Slack if the row "
    "count drops by more than 20%.",
    tech_stack=["Python", "Airflow", "Snowflake", "Shopify"],
)
MIGRATION = DecompositionPayload(
    title="Move user addresses to their own table",
    description="Move the address columns from the users table into a new addresses table, backfill "
    "existing rows in batches of 10000, then drop the old columns once the application reads only the new table.",
    tech_stack=["Python", "Django", "PostgreSQL"],
)
WEBHOOKS = DecompositionPayload(
    title="Partner webhooks with retries",
    description="Send order events to partner endpoints, signed with HMAC-SHA256; retry failures with "
    "exponential backoff for up to 24 hours, then park them in a dead-letter list.",
    tech_stack=["Go", "PostgreSQL", "NATS"],
)
BLUE_GREEN = DecompositionPayload(
    title="Blue-green deployment for the API",
    description="Deploy the API to an idle environment, run health checks, switch the load balancer only "
    "when they pass, and roll back within one minute if the error rate rises above 2% after the switch.",
    tech_stack=["Terraform", "AWS ALB", "GitHub Actions"],
)
PUSH = DecompositionPayload(
    title="Push notifications for order updates",
    description="Send a push notification to the customer's Android and iOS devices when their order ships.",
    tech_stack=["Kotlin", "Firebase Cloud Messaging", "APNs"],
)


def lines(subtasks):
    return [line for s in subtasks for line in (s.title, s.description, *s.requirements)]


def by_id(plan):
    return {s.id: s for s in plan.subtasks}


def test_a_rate_limit_task_answers_429_with_retry_after_and_tests_request_101_within_the_minute():
    plan = by_id(plan_task(RATE_LIMIT))
    api = [s for s in plan.values() if s.category == Category.HTTP_API]
    assert any("429" in line and "`Retry-After` header" in line for line in lines(api))
    tests = [s for s in plan.values() if s.category == Category.TESTING]
    assert any("request number 101 within that minute is refused" in line for line in lines(tests))


def test_shopify_and_snowflake_are_integrations_never_data_model_entities():
    models = [s.id for s in plan_task(SHOPIFY_SYNC).subtasks if s.category == Category.DATA_MODEL]
    assert models and not [m for m in models if "shopify" in m or "snowflake" in m or "slack" in m]
    assert "No database is declared" not in "\n".join(lines(plan_task(SHOPIFY_SYNC).subtasks))


def test_android_and_ios_are_platforms_not_entities_with_an_http_api():
    ids = [s.id for s in plan_task(PUSH).subtasks]
    assert not [i for i in ids if "android" in i or "ios" in i]


def test_a_scheduled_sync_keeps_its_schedule_watermark_deduplication_and_threshold():
    text = "\n".join(lines(plan_task(SHOPIFY_SYNC).subtasks))
    for expected in (
        "Schedule: every night at 02:00",
        "Sync cursor (watermark)",
        "Unique key against duplicates",
        "20%",
    ):
        assert expected in text


def test_a_data_migrations_dependencies_run_schema_then_backfill_then_drop():
    plan = by_id(plan_task(MIGRATION))
    assert "data_model.schema_change" in plan["data_model.backfill"].dependencies
    assert "data_model.backfill" in plan["data_model.drop_old"].dependencies
    assert "service.read_new_schema" in plan["data_model.drop_old"].dependencies
    assert "10000 at a time" in "\n".join(plan["data_model.backfill"].requirements)


def test_webhook_work_runs_signer_then_sender_then_retries_then_dead_letters():
    plan = by_id(plan_task(WEBHOOKS))
    assert "service.signer" in plan["service.send"].dependencies
    assert "service.send" in plan["service.retries"].dependencies
    assert "service.retries" in plan["service.dead_letters"].dependencies
    assert any("24 hours" in line for line in plan["service.retries"].requirements)


def test_a_category_without_real_work_is_a_recorded_decision_with_its_reason():
    plan = plan_task(BLUE_GREEN)
    assert not [s for s in plan.subtasks if s.category == Category.DATA_MODEL]
    assert [d.category for d in plan.decisions] == [Category.DATA_MODEL]
    assert "stores no domain data" in plan.decisions[0].reason
    validate_plan(plan.subtasks, BLUE_GREEN.exclude_categories, plan.decisions)


def test_the_decision_is_kept_as_a_prompt_of_no_subtasks():
    plan = plan_task(BLUE_GREEN)
    prompts = {p.category: p for p in render_prompts(plan.subtasks, BLUE_GREEN, plan.decisions)}
    assert prompts[Category.DATA_MODEL].subtask_ids == []
    assert plan.decisions[0].reason in prompts[Category.DATA_MODEL].text


def test_a_decision_for_a_category_that_has_subtasks_is_rejected():
    plan = plan_task(BLUE_GREEN)
    wrong = [plan.decisions[0].model_copy(update={"category": Category.SERVICE})]
    with pytest.raises(ValueError, match="SERVICE has a no-work decision but also subtasks"):
        validate_plan(plan.subtasks, (), [*plan.decisions, *wrong])


def test_no_work_item_copies_a_sentence_of_the_task():
    for payload in (RATE_LIMIT, SHOPIFY_SYNC, MIGRATION, WEBHOOKS, BLUE_GREEN):
        words = payload.description.lower().replace(",", "").split()
        runs = {" ".join(words[i : i + 6]) for i in range(len(words) - 5)}
        for line in lines(plan_task(payload).subtasks):
            assert not any(run in line.lower().replace(",", "") for run in runs), line


BENCH_TASKS = [
    t
    for name in (
        "decomposition_reference_tasks.json",
        "decomposition_own_tasks.json",
        "decomposition_holdout_tasks.json",
        "decomposition_blind_tasks.json",
        "decomposition_blind2_tasks.json",
    )
    for t in json.loads((Path(__file__).parents[3] / "bench" / name).read_text())
]


@pytest.mark.parametrize("task", BENCH_TASKS, ids=lambda t: t["title"])
def test_every_benchmark_task_gets_a_valid_plan_and_the_same_plan_twice(task):
    payload = DecompositionPayload(title=task["title"], description=task["description"], tech_stack=task["tech_stack"])
    plan = plan_task(payload)
    validate_plan(plan.subtasks, payload.exclude_categories, plan.decisions)
    assert plan == plan_task(DecompositionPayload.model_validate(payload.model_dump()))


def test_the_llm_emulators_good_answer_is_a_different_plan_that_still_passes_the_plan_rules():
    from orbit_pipelines.jobs.task_decomposition.llm import parse_plan
    from orbit_pipelines.local.llm_emulator import plan_for

    task_json = json.dumps(BLUE_GREEN.model_dump(mode="json"))
    answer = plan_for([{"role": "user", "content": f"```json\n{task_json}\n```"}])
    plan = parse_plan(json.dumps(answer), BLUE_GREEN.exclude_categories)
    assert {s.id for s in plan.subtasks}.isdisjoint({s.id for s in plan_task(BLUE_GREEN).subtasks})


def test_the_llm_emulator_answers_with_a_decision_where_the_deterministic_plan_has_one():
    from orbit_pipelines.jobs.task_decomposition.llm import parse_plan
    from orbit_pipelines.local.llm_emulator import plan_for

    task_json = json.dumps(BLUE_GREEN.model_dump(mode="json"))
    answer = plan_for([{"role": "user", "content": f"```json\n{task_json}\n```"}])
    plan = parse_plan(json.dumps(answer), BLUE_GREEN.exclude_categories)
    assert [d.category for d in plan.decisions] == [d.category for d in plan_task(BLUE_GREEN).decisions]
    assert Category.DATA_MODEL not in {s.category for s in plan.subtasks}


def data_models(payload):
    return [s.id for s in plan_task(payload).subtasks if s.category == Category.DATA_MODEL]


def test_a_key_tier_with_its_own_limit_is_a_setting_of_the_limit_not_an_entity():
    tier = " Let enterprise keys have a limit of 1000 requests per minute."
    tiers = RATE_LIMIT.model_copy(update={"description": RATE_LIMIT.description + tier})
    plan = plan_task(tiers)
    assert data_models(tiers) == ["data_model.usage_counter"]
    assert any("Allow up to 1000 requests per minute" in line for line in lines(plan.subtasks))


def test_a_number_never_names_a_work_item():
    payload = DecompositionPayload(
        title="Bulk lookups", description="Partners get 1000 lookups per day; later ones wait until midnight."
    )
    titles = [s.title for s in plan_task(payload).subtasks]
    assert not [t for t in titles if t.split(":")[-1].strip().lower() in {"get 1000", "get"}]


def test_an_unknown_vendor_named_after_from_is_an_outside_system_not_an_entity():
    payload = DecompositionPayload(
        title="Shipping labels",
        description="When an order is packed, buy the cheapest label from Parcelnova and save the tracking "
        "number on the order; when Parcelnova returns an error the order stays packed.",
        tech_stack=["PHP", "Laravel", "MariaDB"],
    )
    models = data_models(payload)
    assert models and not [m for m in models if "parcelnova" in m]
    assert any("tracking number" in line for line in lines(plan_task(payload).subtasks))


def test_column_names_and_adjectives_are_not_entities():
    payload = DecompositionPayload(
        title="Split full name",
        description="Add first_name and last_name columns, backfill them from full_name, then drop full_name; "
        "up to 5 names a second are checked by the matching job.",
        tech_stack=["Ruby on Rails", "PostgreSQL"],
    )
    models = data_models(payload)
    assert not [m for m in models if "name" in m or m.endswith((".up", ".matching"))]
    assert {"data_model.schema_change", "data_model.backfill", "data_model.drop_old"} <= set(models)


INVITATIONS = DecompositionPayload(
    title="Team invitations by email",
    description="Workspace admins invite teammates by email. The inviter chooses the invited user's role "
    "(viewer, editor or admin). Resending an invitation invalidates the previous link.",
    tech_stack=["Python", "Django", "PostgreSQL"],
)


def test_alternatives_in_parentheses_are_the_values_of_one_field_not_an_entitys_fields():
    fields = [r for s in plan_task(INVITATIONS).subtasks if s.category == Category.DATA_MODEL for r in s.requirements]
    assert not any(f"`{value}`" in line for line in fields for value in ("viewer", "editor", "admin"))


def test_resending_an_invitation_is_not_a_dead_letter_replay():
    assert not any("replay" in s.id for s in plan_task(INVITATIONS).subtasks)


@pytest.mark.parametrize(
    ("description", "races"),
    [
        ("Sample 10% of the performance traces in production.", False),  # "traces" holds no "race"
        ("Revoked tokens are refused at once on every server.", False),  # "at once": immediately
        ("Two buyers may take the last seat at once; only one gets it.", True),
        ("Bookings made at the same time never double-book a room.", True),
    ],
)
def test_only_things_happening_together_are_a_concurrency_requirement(description, races):
    plan = plan_task(DecompositionPayload(title="Checks", description=description, tech_stack=["Python"]))
    assert ("service.atomic_reserve" in [s.id for s in plan.subtasks]) is races

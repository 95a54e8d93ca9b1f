"""Retention by age, lockout after N failures, a second factor, one entity per thing, vendors named with
their product words and a response-time allowance (issue 19, a newcomer's two tasks): the plan has the
work each requirement asks for, in its category, with the task's numbers."""

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

ARCHIVE = DecompositionPayload(
    title="Archive old chat messages",
    description=(
        "Messages older than 180 days move to cold storage in Amazon S3 Glacier every Sunday at 02:00 UTC. "
        "Users can still search archived messages, but results may take up to 10 seconds. "
        "Admins can restore a conversation on request."
    ),
    tech_stack=["Go", "PostgreSQL"],
)
TWO_FACTOR = DecompositionPayload(
    title="Two-factor login by email code",
    description=(
        "After the password, users receive a 6-digit code by email that expires after 10 minutes. "
        "After 5 wrong codes the account is locked for 15 minutes."
    ),
    tech_stack=["Ruby on Rails", "MySQL"],
)


def _lines(payload: DecompositionPayload, category: Category | None = None) -> list[str]:
    plan = plan_task(payload)
    return [
        line for s in plan.subtasks if category is None or s.category == category for line in (s.title, *s.requirements)
    ]


def _has(lines: list[str], *words: str) -> bool:
    return any(all(w.lower() in line.lower() for w in words) for line in lines)


def _models(payload: DecompositionPayload) -> list[str]:
    return [s.id for s in plan_task(payload).subtasks if s.category == Category.DATA_MODEL]


def test_rows_older_than_an_age_are_selected_copied_verified_then_removed_and_tested_at_the_age():
    service = _lines(ARCHIVE, Category.SERVICE)
    assert _has(service, "older than 180 days", "copy", "verify", "delete or mark")
    assert _has(_lines(ARCHIVE, Category.DATA_MODEL), "index", "older than 180 days")
    assert _has(_lines(ARCHIVE, Category.TESTING), "just older than 180 days", "just younger stays")


def test_an_archived_thing_can_be_restored_through_a_route_and_the_restore_is_tested():
    assert _has(_lines(ARCHIVE, Category.SERVICE), "restore an archived conversation")
    assert _has(_lines(ARCHIVE, Category.HTTP_API), "POST", "restore of one conversation")
    assert _has(_lines(ARCHIVE, Category.TESTING), "archived conversation restored")


def test_a_restore_of_a_backup_is_not_an_archive_restore():
    backup = DecompositionPayload(
        title="Backup drill", description="Every night restore the latest backup into a scratch database."
    )
    assert not _has(_lines(backup), "restore an archived")


def test_a_name_that_is_another_entity_with_a_qualifier_is_the_same_entity():
    models = _models(ARCHIVE)
    assert "data_model.message" in models
    assert "data_model.chat_message" not in models


def test_a_known_vendor_named_with_its_product_words_is_one_integration_and_no_entity():
    assert _has(_lines(ARCHIVE, Category.SERVICE), "integrate with amazon s3 glacier")
    reminders = DecompositionPayload(
        title="Appointment reminders",
        description="Patients get an SMS reminder through Twilio Programmable Messaging 24 hours before a visit.",
        tech_stack=["Python", "Flask", "PostgreSQL"],
    )
    assert _has(_lines(reminders, Category.SERVICE), "integrate with twilio programmable messaging")
    assert not [m for m in _models(reminders) if "messaging" in m or "programmable" in m]


def test_a_tool_named_with_its_vendor_is_no_integration_to_call():
    build = DecompositionPayload(
        title="CI", description="Move the build to GitHub Actions with a cache for dependencies."
    )
    assert not _has(_lines(build), "integrate with github actions")


def test_up_to_n_seconds_for_a_response_is_a_latency_allowance_not_a_cap():
    service, testing = _lines(ARCHIVE, Category.SERVICE), _lines(ARCHIVE, Category.TESTING)
    assert _has(service, "10 seconds", "latency budget")
    assert not _has(service, "cap of 10 seconds")
    assert _has(testing, "95th percentile", "10 seconds")


def test_a_count_of_failures_locks_the_account_for_a_duration_and_is_tested_on_both_sides_of_n():
    service = _lines(TWO_FACTOR, Category.SERVICE)
    assert _has(service, "lock the account after 5 failed attempts")
    assert _has(service, "failure number 5 locks")
    assert _has(service, "15 minutes", "lifts")
    assert _has(_lines(TWO_FACTOR, Category.DATA_MODEL), "failed attempts", "locked_until")
    testing = _lines(TWO_FACTOR, Category.TESTING)
    assert _has(testing, "failure number 4 leaves the account open", "failure number 5 locks")
    assert _has(testing, "lock lifts after 15 minutes")


def test_failures_counted_within_a_window_keep_the_window():
    task = DecompositionPayload(
        title="Lock accounts",
        description="After 3 failed password attempts within 10 minutes the account is locked for 30 minutes.",
    )
    assert _has(_lines(task, Category.SERVICE), "within 10 minutes", "3")
    assert _has(_lines(task, Category.TESTING), "failure number 2 leaves the account open")


def test_a_code_after_the_password_is_a_second_step_of_the_login_with_its_verify_route():
    assert _has(_lines(TWO_FACTOR, Category.SERVICE), "second factor after the password")
    assert _has(_lines(TWO_FACTOR, Category.DATA_MODEL), "hash of the code", "wrong attempts")
    assert _has(_lines(TWO_FACTOR, Category.HTTP_API), "POST", "verify", "code")
    assert _has(_lines(TWO_FACTOR, Category.TESTING), "password alone opens no session")
    assert not [d for d in plan_task(TWO_FACTOR).decisions if d.category == Category.HTTP_API]


def test_what_a_rule_exempts_is_work_and_a_test_and_a_time_of_night_is_no_entity():
    purge = DecompositionPayload(
        title="Purge old audit log entries",
        description="Audit entries older than 2 years are deleted every night, except entries under a legal hold.",
    )
    assert _has(_lines(purge, Category.SERVICE), "leave out entries under a legal hold")
    assert _has(_lines(purge, Category.TESTING), "exemption", "legal hold")
    assert "data_model.night" not in _models(purge)


def test_signed_urls_expire_after_their_span_and_a_reply_of_stop_is_an_opt_out():
    avatars = DecompositionPayload(
        title="Avatars", description="Avatars are served through signed URLs valid for 1 hour."
    )
    assert _has(_lines(avatars, Category.SERVICE), "signed url", "1 hour")
    assert _has(_lines(avatars, Category.TESTING), "signed url is accepted within 1 hour")
    stop = DecompositionPayload(title="Reminders", description="A patient who replies STOP no longer gets reminders.")
    assert _has(_lines(stop, Category.SERVICE), "opt-outs")
    assert _has(_lines(stop, Category.TESTING), "after opting out")

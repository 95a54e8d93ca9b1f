"""More typical work of kinds of task, from the patterns of knowledge/work.toml: an app that signs in as itself
(server-to-server OAuth), preview environments per merge request, matching duplicates, a warning on stale local
data, a keyboard shortcut and a cohort report. Each task is written for the test (no benchmark task's text)."""

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task, validate_plan
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload

STACK = ["TypeScript", "NestJS", "PostgreSQL"]


def _lines(title: str, description: str) -> str:
    plan = plan_task(DecompositionPayload(title=title, description=description, tech_stack=STACK))
    validate_plan(plan.subtasks, decisions=plan.decisions)
    return " ".join(x for s in plan.subtasks for x in (s.title, *s.requirements)).lower()


def test_an_app_that_signs_in_as_itself_gets_and_renews_its_access_token():
    lines = _lines(
        "Webinars in GoToWebinar",
        "Register each attendee for the webinar through the vendor's API, "
        "authenticated with a server-to-server OAuth app.",
    )
    assert "access token" in lines and "client credentials" in lines and "never appear in logs" in lines


def test_a_preview_environment_has_seeded_data_never_production_data():
    lines = _lines("Review apps", "Each pull request gets a review app on Heroku that is removed when it closes.")
    assert "seeded" in lines and "no step copies production data" in lines


def test_preview_environments_have_a_cap_that_removes_the_oldest_idle_one():
    lines = _lines("Review apps", "Each pull request gets a review app on Heroku that is removed when it closes.")
    assert "running at once" in lines and "oldest idle preview" in lines


def test_a_preview_posts_its_url_back_to_the_request():
    lines = _lines("Review apps", "Each pull request gets a review app on Heroku that is removed when it closes.")
    assert "comment the preview's url on its merge or pull request" in lines


def test_duplicates_are_matched_on_a_normalised_case_insensitive_key():
    lines = _lines("Clean up the CRM", "Find duplicate contacts by email and phone and let sales merge them.")
    assert "case-insensitive" in lines and "lower-cased" in lines


def test_a_client_warns_when_its_local_data_is_older_than_the_limit():
    lines = _lines(
        "Technician app offline",
        "Technicians download their jobs to work offline; show a warning when that data is more than 12 hours old.",
    )
    assert "warn when local data is older than 12 hours" in lines and "stale-data warning" in lines


def test_an_age_of_records_is_no_stale_data_warning():
    lines = _lines("Purge old logs", "Every night delete request logs older than 30 days.")
    assert "stale" not in lines


def test_a_keyboard_shortcut_is_bound_on_every_page_but_not_while_typing():
    lines = _lines("Global search", "Open the search overlay with Ctrl+/ from anywhere in the app.")
    assert "bind ctrl+/ on every page" in lines and "text field" in lines


def test_a_cohort_report_has_its_range_of_periods_and_one_definition_of_active():
    lines = _lines(
        "Monthly retention cohorts",
        "Group customers by signup month and show months 0 to 6 for each cohort, nightly in the warehouse.",
    )
    assert "months 0 to 6" in lines and "one definition of an active user" in lines

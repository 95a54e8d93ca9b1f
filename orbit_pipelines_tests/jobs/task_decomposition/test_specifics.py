"""A task's own figures, times, named systems and concepts become work items, not quoted sentences
(issue 19): what a clause says beyond the work patterns is kept, phrased as work and as a test."""

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.specifics import figures_of


def _plan(description: str, tech_stack=("Python", "Django", "PostgreSQL")):
    return plan_task(DecompositionPayload(title="A task", description=description, tech_stack=list(tech_stack)))


def _lines(plan, category: Category | None = None) -> list[str]:
    return [
        line for s in plan.subtasks if category is None or s.category == category for line in (s.title, *s.requirements)
    ]


def _has(lines: list[str], *words: str) -> bool:
    return any(all(w.lower() in line.lower() for w in words) for line in lines)


def test_a_cap_is_enforced_and_tested_one_past_it():
    plan = _plan("Workspace admins invite teammates by email. A workspace has at most 50 pending invitations.")
    assert _has(_lines(plan, Category.SERVICE), "cap", "50 pending invitations")
    assert _has(_lines(plan, Category.TESTING), "50 pending invitations", "next one is refused")


def test_a_volume_is_sized_for_and_load_tested():
    plan = _plan("A backfill copies the existing 2 million files to S3 and verifies each file's checksum.")
    assert _has(_lines(plan), "size the design for 2 million files")
    assert _has(_lines(plan, Category.TESTING), "load test at 2 million files")


def test_a_clock_time_becomes_a_time_the_job_runs_and_is_tested_at():
    plan = _plan("Export the orders as CSV. If the export has not succeeded by 04:00 UTC, alert the on-call engineer.")
    assert _has(_lines(plan), "04:00 UTC")
    assert _has(_lines(plan, Category.TESTING), "controlled clock", "04:00")


def test_a_named_outside_system_becomes_an_integration_to_build():
    plan = _plan("Personal data is deleted within 30 days from the analytics warehouse in BigQuery.")
    assert _has(_lines(plan), "integrate with", "BigQuery")


def test_a_concept_named_in_two_words_is_part_of_the_work():
    plan = _plan("Engineers define feature flags. A kill switch turns a flag off everywhere within 1 minute.")
    assert _has(_lines(plan), "kill switch")


def test_a_restriction_becomes_a_permission_check_and_its_refusal_test():
    plan = _plan("Email each manager a weekly report of sales per store. Managers only see the stores they manage.")
    assert _has(_lines(plan), "permission", "stores they manage")
    assert _has(_lines(plan, Category.TESTING), "refusal", "stores they manage")


def test_a_figure_a_work_pattern_already_carries_is_not_repeated():
    plan = _plan(
        "Limit each API key to 100 requests per minute and return 429 with a Retry-After header.",
        ("Python", "FastAPI", "Redis"),
    )
    assert not _has(_lines(plan), "figure the task gives")
    assert not _has(_lines(plan), "cap of 100")


def test_a_number_word_counts_only_after_a_cue():
    assert figures_of("Users enable two-factor authentication") == []
    [figure] = figures_of("Send at most one such notification per order")
    assert (figure.kind, figure.phrase) == ("cap", "one notification per order")


def test_a_number_written_with_its_unit_keeps_the_hyphen():
    [figure] = figures_of("customers choose a 2-hour delivery slot")
    assert figure.phrase == "2-hour delivery slot"

"""A plan never says the opposite of its task: a negated clause keeps its negation in every line made
from it, a condition ("even if ...", "if it is still unpaid") qualifies the clause before it rather than
becoming work of its own, and a frequency adjective of a noun ("monthly rent") is no schedule of the job."""

import re

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload

REMINDERS = DecompositionPayload(
    title="Remind tenants before rent is due",
    description=(
        "Tenants get an email and an SMS three days before their monthly rent is due, and again on the due date"
        " if it is still unpaid. Landlords can turn the reminders off per property. A reminder is never sent twice"
        " for the same due date, even if the job runs again."
    ),
    tech_stack=["Django", "PostgreSQL", "Celery", "Twilio"],
)
_NEGATION = re.compile(r"\b(?:never|not|no|cannot|without|refused)\b", re.IGNORECASE)


def _plan(description: str = "", title: str = "A task", tech_stack=("Python", "Django", "PostgreSQL")):
    if not description:
        return plan_task(REMINDERS)
    return plan_task(DecompositionPayload(title=title, description=description, tech_stack=list(tech_stack)))


def _lines(plan, category: Category | None = None) -> list[str]:
    return [
        line
        for s in plan.subtasks
        if category is None or s.category == category
        for line in (s.title, s.description, *s.requirements)
    ]


def _titles(plan) -> list[str]:
    return [s.title for s in plan.subtasks]


def test_a_never_clause_is_planned_as_never_doing_it():
    lines = _lines(_plan())
    assert any(re.search(r"never send reminder twice for same due date", line, re.I) for line in lines)


def test_no_line_of_a_negated_clause_states_its_positive():
    for line in _lines(_plan()):
        if re.search(r"\bsen[dt]\b", line, re.I) and re.search(r"\b(?:twice|reminder)\b", line, re.I):
            assert _NEGATION.search(line), line


def test_a_never_twice_clause_is_tested_by_a_second_run_that_sends_no_second_one():
    assert any(
        "run it twice" in line.lower() and "no second reminder" in line.lower()
        for line in _lines(_plan(), Category.TESTING)
    )


def test_an_adverb_of_repetition_is_never_an_object():
    lines = _lines(_plan())
    assert not any(re.search(r"message: twice|the sent twice", line, re.I) for line in lines)


def test_a_cannot_clause_keeps_its_negation():
    plan = _plan("Editors write articles. Guests cannot edit published articles.")
    assert not any(
        re.search(r"\bedit published articles\b", line, re.I) and not _NEGATION.search(line) for line in _lines(plan)
    )


def test_an_even_if_tail_is_a_condition_of_the_clause_before_not_a_subtask():
    titles = _titles(_plan())
    assert not any(re.search(r"\beven\b", t, re.I) for t in titles)
    assert any("even if job runs again" in line for line in _lines(_plan(), Category.SERVICE))


def test_an_if_it_is_still_clause_is_a_condition_not_a_service():
    plan = _plan()
    assert not any("unpaid" in t.lower() for t in _titles(plan))
    assert any("if still unpaid" in line for line in _lines(plan, Category.SERVICE))


def test_an_unless_clause_is_no_work_of_its_own():
    plan = _plan("Archive closed tickets every night, unless the customer reopened them.")
    assert not any(t.lower().startswith(("unless", "tests: unless")) for t in _titles(plan))


def test_a_frequency_adjective_of_a_noun_is_no_schedule():
    lines = _lines(_plan())
    assert not any("monthly" in t.lower() for t in _titles(_plan()))
    assert not any("run monthly" in line for line in lines)


def test_a_lead_time_before_a_date_makes_the_job_run_daily():
    assert "Schedule: daily" in _titles(_plan())


def test_a_frequency_of_the_report_itself_is_its_schedule():
    plan = _plan("Email the monthly sales report to store managers on the first day of each month.")
    assert any("monthly" in line for line in _lines(plan, Category.SERVICE))


def test_recipients_who_get_a_message_are_notified_by_its_channels():
    assert "Notify tenants by email and SMS" in _titles(_plan())

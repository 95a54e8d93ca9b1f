"""A plan reads like an engineer's work list (issue 19's audit): its subjects and objects are the
task's nouns, its clauses are read for what they say, it dumps no keywords, and the work a kind of
task implies is there."""

import json
import re
from pathlib import Path

import pytest

from bench.decomposition_broken import broken_lines, line_defects
from orbit_pipelines.jobs.task_decomposition.clauses import parse_clause
from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.specifics import figures_of
from orbit_pipelines.jobs.task_decomposition.work import load_library

PASSWORD_RESET = DecompositionPayload(
    title="Password reset by email",
    description="Users who forgot their password request a reset link by email. Links are single-use and "
    "expire after 30 minutes, at most 3 requests per hour per account, and the response never reveals "
    "whether the email exists.",
    tech_stack=["Python", "Flask", "PostgreSQL", "SendGrid"],
)
VERBS = load_library().verbs


def _plan(description: str, tech_stack=("Python", "Django", "PostgreSQL")):
    return plan_task(DecompositionPayload(title="A task", description=description, tech_stack=list(tech_stack)))


def _titles(plan) -> dict[str, str]:
    return {s.id: s.title for s in plan.subtasks}


def _lines(plan) -> list[str]:
    return [line for s in plan.subtasks for line in (s.title, s.description, *s.requirements)]


def test_a_subject_joined_by_are_names_the_noun_before_it():
    clause = parse_clause("Links are single-use and expire after 30 minutes", "description", VERBS)
    assert (clause.subject, clause.verb, clause.topic) == ("links", "expire", "links")
    titles = _titles(plan_task(PASSWORD_RESET))
    assert titles["data_model.expiry"] == "Expiry time on links"
    assert titles["service.expiry"] == "Refuse links after 30 minutes"


def test_a_noun_after_a_determiner_is_not_the_verb():
    clause = parse_clause("the response never reveals whether the email exists", "description", VERBS)
    assert clause.verb != "email"


def test_a_sentence_about_what_a_response_reveals_is_not_a_notification():
    plan = _plan("Users reset their password with a code. The response never reveals whether the email exists.")
    ids = {s.id for s in plan.subtasks}
    assert "http_api.no_enumeration" in ids
    assert "service.notifier" not in ids


def test_a_passive_clause_acts_on_its_subject():
    clause = parse_clause("Orders are kept for 10 years", "description", VERBS)
    assert clause.gist == "keep orders"
    assert "Keep orders for 10 years" in _titles(_plan("Orders are kept for 10 years for tax law.")).values()


def test_it_is_what_the_clause_before_named():
    plan = _plan("Reserve stock when a shopper starts checkout, hold it for 15 minutes, release it on timeout.")
    titles = _titles(plan).values()
    assert "Hold stock for 15 minutes" in titles
    assert "Release stock" in titles


def test_a_number_list_is_one_figure_with_its_unit():
    [figure] = figures_of("warn the owning team 30, 14 and 3 days before a certificate expires")
    assert figure.phrase == "30, 14 and 3 days"


def test_no_line_is_a_keyword_dump():
    for line in _lines(plan_task(PASSWORD_RESET)):
        assert not line.startswith(("In this task:", "Conditions to honour:", "Who does it:")), line


def test_unsubscribing_is_not_a_permission_of_a_role():
    plan = _plan("Every Monday at 07:00 email each manager a PDF of last week's sales; managers can unsubscribe.")
    ids = {s.id for s in plan.subtasks}
    assert "http_api.preferences" in ids
    assert "service.permissions" not in ids


def test_a_permission_names_the_action_the_role_may_take_not_the_clauses_verb():
    plan = _plan("Retry failures, then park them in a dead-letter list that support can replay from the admin UI.")
    assert _titles(plan)["testing.permissions"] == "Who may replay from admin UI"


def test_only_before_a_condition_restricts_no_one():
    plan = _plan("Deploy the API to an idle environment and switch the load balancer only when the checks pass.")
    assert not any("permission" in line.lower() for line in _lines(plan))


def test_a_concept_never_names_a_verb():
    plan = _plan("Product managers flip a kill switch that takes effect within 5 seconds everywhere.")
    assert not any("takes effect the task names" in line for line in _lines(plan))


def test_a_reset_link_brings_its_records_and_the_routes_to_request_and_use_it():
    plan = plan_task(PASSWORD_RESET)
    by_id = {s.id: s for s in plan.subtasks}
    assert "hash" in by_id["data_model.token"].requirements[0]
    assert by_id["http_api.request_token"].dependencies == ["data_model.token"]
    assert by_id["http_api.use_token"].title == "Route that uses a reset link"


def test_a_vendor_of_the_tech_stack_is_integrated_even_when_the_text_does_not_name_it():
    plan = plan_task(PASSWORD_RESET)
    assert _titles(plan)["service.integration_sendgrid"] == "Integrate with SendGrid"


def test_a_title_is_never_one_word():
    plan = _plan("Team members create tasks with a title, assignee and due date, and move them between columns.")
    assert all(len(s.title.split()) > 1 for s in plan.subtasks)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("In this task: request hour account (hour, account)", "dump"),
        ("Expiry time on are single-use", "verb as subject"),
        ("Handle the takes effect the task names", "verb as thing"),
        ("Hold 15 minutes within 15 minutes", "repeated"),
        ("Message content: exists; recipients: response reveals whether", "empty"),
    ],
)
def test_the_broken_line_check_sees_each_kind_the_audit_found(line, kind):
    assert kind in line_defects(line, title=True)


def test_the_broken_line_check_passes_a_line_of_work():
    assert line_defects("Refuse links after 30 minutes", title=True) == []


@pytest.mark.parametrize(
    "line",
    [
        "Users sign in",  # a verb's particle ends the line
        "Tests: members log on",
        "Store the certificate the identity provider is configured with",  # a passive's preposition
        "Keep the key each token is signed with",
    ],
)
def test_a_line_ending_on_a_particle_or_a_passive_preposition_is_not_empty(line):
    assert "empty" not in line_defects(line, title=True)


def test_and_before_an_auxiliary_continues_a_predicate_of_the_same_clause():
    line = "Business rule from the task: The report runs at night, can reach 2 GB and is mailed to the owner."
    assert line_defects(line) == []


def test_and_before_an_auxiliary_with_no_verb_before_it_is_still_a_verb_as_subject():
    assert "verb as subject" in line_defects("Expiry time and are single-use")
    assert "verb as subject" in line_defects("Records of orders and are kept")


def test_a_line_ending_on_a_name_in_backticks_is_not_empty():
    assert line_defects("Store who created it and when (`created_by`, `created_at`)") == []


def test_a_line_cut_off_before_its_object_is_still_empty():
    assert "empty" in line_defects("Notify the team in", title=True)
    assert "empty" in line_defects("Refuse links sent to", title=True)


# Phrasal verbs (knowledge/language.toml): a verb and its particle are one verb, never a thing.
def test_a_phrasal_verb_is_the_clauses_verb():
    clause = parse_clause("all writes fail over to the standby within 30 seconds", "description", VERBS)
    assert (clause.subject, clause.action, clause.gist) == ("writes", "fail over", "writes fail over")
    clause = parse_clause("a request times out after 10 seconds", "description", VERBS)
    assert (clause.subject, clause.action, clause.gist) == ("request", "time out", "request times out")


def test_a_phrasal_verb_keeps_its_particle_after_a_pronoun():
    clause = parse_clause("log them out after 8 hours", "description", VERBS)
    assert clause.action == "log out"


def test_in_before_a_place_is_no_particle():
    clause = parse_clause("Every sign-in is logged in the audit table", "description", VERBS)
    assert clause.action == "log"


def test_a_phrasal_verb_is_work_to_do_never_a_thing():
    plan = _plan("If the primary database goes down, the cluster fails over to the standby within 30 seconds.")
    lines = _lines(plan)
    assert "Cluster fails over within 30 seconds" in _titles(plan).values()
    assert "Implement how and when to fail over, as the task states it" in lines
    assert not [line for line in lines if re.search(r"\bthe fails? over\b", line, re.IGNORECASE)]


def test_what_merely_happens_is_no_work_to_implement():
    lines = _lines(_plan("If the payment provider goes down, queue the charges and retry them later."))
    assert not [line for line in lines if "to go down" in line]


def test_an_adverb_after_a_phrasal_verb_is_no_object():
    plan = _plan("Send order events to partners. Failed deliveries back off exponentially.")
    assert "Failed deliveries back off" in _titles(plan).values()
    assert not [line for line in _lines(plan) if re.search(r"\bthe (?:back off|deliveries back)\b", line)]


def test_a_phrasal_verb_named_beside_the_clauses_verb_is_work():
    lines = _lines(_plan("Reads check the cache first and fall back to the database."))
    assert "Implement how and when to fall back, as the task states it" in lines
    assert not [line for line in lines if "Handle the fall back" in line]


BENCH = Path(__file__).parents[3] / "bench"
# The sets the rules were developed on, by name. blind4 and blind5 are measured, never tuned on
# (bench/decomposition.py): what their plans get wrong, broken lines included, is reported in
# docs/decomposition.md; and a set committed blind for the next measure is not read here before it is measured.
TUNED_SETS = ("blind", "blind2", "blind3", "holdout", "own", "reference")
BENCH_TASKS = [t for name in TUNED_SETS for t in json.loads((BENCH / f"decomposition_{name}_tasks.json").read_text())]


@pytest.mark.parametrize("task", BENCH_TASKS, ids=lambda t: t["title"])
def test_no_benchmark_plan_has_a_broken_line(task):
    payload = DecompositionPayload(title=task["title"], description=task["description"], tech_stack=task["tech_stack"])
    plan = plan_task(payload)
    lines = [d.reason for d in plan.decisions] + [x for s in plan.subtasks for x in (s.description, *s.requirements)]
    assert broken_lines([s.title for s in plan.subtasks], lines) == []


def test_a_clause_and_a_pattern_naming_the_same_work_make_one_item():
    plan = _plan("Send order events to partner endpoints, signed with HMAC-SHA256; retry failures for up to 24 hours.")
    sends = [s for s in plan.subtasks if s.title == "Send order events"]
    assert [s.id for s in sends] == ["service.send"]
    assert "service.send" in {s.id: s for s in plan.subtasks}["service.retries"].dependencies


def test_a_length_of_time_is_no_count_of_retries():
    lines = _lines(_plan("Retry failed deliveries with exponential backoff for up to 24 hours, then park them."))
    assert any("24 hours" in line for line in lines)
    assert not [line for line in lines if re.search(r"\b24 (?:times|retries)\b", line)]


def test_a_task_sentence_quoted_whole_is_not_read_as_the_plans_text():
    rule = "Vouchers expire 6 months after issue and are redeemed oldest first."
    line = f"Business rule from the task: {rule}"
    assert broken_lines([], [line]) and broken_lines([], [line], quoted=[rule]) == []


def test_a_record_restored_from_a_snapshot_makes_no_cut_off_restore_line():
    plan = _plan("Each staging environment gets a database restored from the weekly snapshot.")
    assert not [line for line in _lines(plan) if re.search(r"\barchived from$", line)]


def test_the_inverted_check_counts_a_line_that_drops_the_task_s_negation():
    from bench.decomposition_inverted import inverted_lines

    task = ["A reminder is never sent twice for the same due date."]
    assert inverted_lines(task, ["Requirement: Send twice for same due date"]) == [
        "Requirement: Send twice for same due date"
    ]


def test_the_inverted_check_passes_a_line_that_keeps_the_negation():
    from bench.decomposition_inverted import inverted_lines

    task = ["A reminder is never sent twice for the same due date."]
    assert inverted_lines(task, ["Never send a reminder twice for the same due date"]) == []

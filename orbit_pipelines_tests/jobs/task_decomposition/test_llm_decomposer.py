"""task_decomposition with the LLM strategy: the real job on the Postgres-backed instance, talking
over HTTP to the local OpenAI-compatible emulator."""

import json
import os
from decimal import Decimal

import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.task_decomposition.decompose import plan_task
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.llm.store import load_conversation, record_usage, usage_for_run, usage_for_task
from orbit_pipelines.local.llm_emulator_plans import emulated_plan
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines_tests.jobs.task_decomposition.test_job import dispatched
from orbit_pipelines_tests.support import recon_job, run_config_for


@pytest.fixture(autouse=True)
def llm_key(llm_emulator, monkeypatch):
    # The key reaches the resource through EnvVar, as in production; never through run config.
    monkeypatch.setenv("ORBIT_TEST_LLM_KEY", llm_emulator.api_key)


def llm_config(emulator, task_id, feedback="", **resource):
    settings = {
        "base_url": emulator.base_url,
        "model": "gpt-test",
        "api_key": {"env": "ORBIT_TEST_LLM_KEY"},
        "read_timeout": 2.0,
        "price_input_per_1k": 0.005,
        "price_output_per_1k": 0.015,
        **resource,
    }
    config = run_config_for(task_id)
    config["ops"]["decompose_task"] = {"config": {"strategy": "llm", "feedback": feedback}}
    config["resources"] = {"llm": {"config": settings}}
    return config


def decompose_with_llm(instance, ledger, emulator, payload, **kwargs):
    task = dispatched(ledger, payload)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config=llm_config(emulator, task.id, **kwargs),
        tags=task_tags(ledger.get(task.id)),
    )
    return ledger.get(task.id), result


def events(result, event_type, step="decompose_task"):
    return [e for e in result.all_events if e.event_type == event_type and e.step_key == step]


def kinds(task_id, ledger):
    return [t["kind"] for t in load_conversation(ledger.engine, task_id)]


def test_the_models_plan_is_stored_and_the_task_completes(instance, ledger, llm_emulator, sample_payload):
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert result.success and task.status == TaskStatus.COMPLETED
    subtasks, prompts = load_plan(ledger.engine, task.id)
    assert {s.category.value for s in subtasks} == {"DATA_MODEL", "SERVICE", "HTTP_API", "TESTING"}
    assert len(prompts) == 4
    assert all(s.tech_requirements for s in subtasks), "the model's plan is enriched like any other"
    assert len(llm_emulator.requests) == 1
    # What is stored is the model's plan, not the deterministic one: other subtasks, titles and requirements.
    payload = DecompositionPayload.model_validate(sample_payload)
    assert [s.title for s in subtasks] == [s["title"] for s in emulated_plan(payload)["subtasks"]]
    rules = plan_task(payload).subtasks
    assert len(subtasks) != len(rules) and not {s.title for s in subtasks} & {s.title for s in rules}


def test_a_category_the_model_leaves_empty_is_stored_as_its_decision(instance, ledger, llm_emulator):
    from orbit_pipelines_tests.jobs.task_decomposition.test_work_items import BLUE_GREEN

    task, result = decompose_with_llm(instance, ledger, llm_emulator, BLUE_GREEN.model_dump(mode="json"))
    assert result.success and task.status == TaskStatus.COMPLETED
    subtasks, prompts = load_plan(ledger.engine, task.id)
    assert "DATA_MODEL" not in {s.category.value for s in subtasks}
    data_model = next(p for p in prompts if p.category.value == "DATA_MODEL")
    assert data_model.subtask_ids == [] and "The model sees nothing new to store" in data_model.text


def test_the_conversation_is_stored_on_the_task(instance, ledger, llm_emulator, sample_payload):
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    turns = load_conversation(ledger.engine, task.id)
    assert [(t["role"], t["kind"]) for t in turns] == [("system", "system"), ("user", "task"), ("assistant", "answer")]
    assert turns[2]["valid"] is True and {t["run_id"] for t in turns} == {result.run_id}
    assert sample_payload["title"] in turns[1]["content"]
    assert llm_emulator.requests[0].messages == [{"role": t["role"], "content": t["content"]} for t in turns[:2]]


def test_tokens_and_cost_are_recorded_per_task_and_per_run(instance, ledger, llm_emulator, sample_payload):
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    usage = usage_for_task(ledger.engine, task.id)
    assert usage.calls == 1 and usage.prompt_tokens > 0 and usage.completion_tokens > 0
    expected = (
        Decimal(usage.prompt_tokens) * Decimal("0.005") + Decimal(usage.completion_tokens) * Decimal("0.015")
    ) / 1000
    assert usage.cost_usd == expected.quantize(Decimal("0.000001"))
    assert usage_for_run(ledger.engine, result.run_id) == usage
    metadata = events(result, DagsterEventType.STEP_OUTPUT)[0].step_output_data.metadata
    assert metadata["run_cost_usd"].value == float(usage.cost_usd) and metadata["model_calls"].value == 1


def test_a_malformed_answer_is_re_asked_with_the_problems_and_then_accepted(
    instance, ledger, llm_emulator, sample_payload
):
    llm_emulator.next("malformed")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert result.success and task.status == TaskStatus.COMPLETED
    assert kinds(task.id, ledger) == ["system", "task", "answer", "errors", "answer"]
    second = llm_emulator.requests[1].messages
    assert len(second) == 4 and "not valid JSON" in second[3]["content"]
    assert usage_for_task(ledger.engine, task.id).calls == 2


def test_an_answer_cut_off_at_the_token_limit_is_re_asked_saying_so(instance, ledger, llm_emulator, sample_payload):
    llm_emulator.next("cut_off")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert task.status == TaskStatus.COMPLETED
    errors = next(t for t in load_conversation(ledger.engine, task.id) if t["kind"] == "errors")
    assert errors["problems"][0] == "the answer was cut off at the token limit: answer more concisely"


def test_partial_answers_fail_permanently_after_the_allowed_attempts_naming_the_fields(
    instance, ledger, llm_emulator, sample_payload
):
    llm_emulator.next("partial", "partial", "partial")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload, max_attempts=3)
    assert not result.success and not events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert (task.status, task.error_class, task.error_step) == (
        TaskStatus.FAILED,
        "InvalidModelAnswer",
        "decompose_task",
    )
    assert "3 invalid answers" in task.error_message
    assert "subtasks.0.priority: Field required" in task.error_message
    assert "subtasks.0.requirements: Field required" in task.error_message
    assert len(llm_emulator.requests) == 3


def test_a_rate_limit_is_retried_after_the_servers_retry_after(instance, ledger, llm_emulator, sample_payload):
    llm_emulator.next("rate_limited")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert task.status == TaskStatus.COMPLETED
    (retry,) = events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert retry.event_specific_data.seconds_to_wait == 1.0
    assert usage_for_task(ledger.engine, task.id).calls == 1, "a refused call costs nothing"


@pytest.mark.parametrize("behaviour", ["server_error", "slow"])
def test_server_errors_and_timeouts_are_retried_with_backoff(behaviour, instance, ledger, llm_emulator, sample_payload):
    llm_emulator.slow_seconds = 4.0
    llm_emulator.next(behaviour)
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert task.status == TaskStatus.COMPLETED
    assert len(events(result, DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert kinds(task.id, ledger) == ["system", "task", "answer"], "the retry continued the same conversation"


def test_retryable_errors_give_up_after_max_retries(instance, ledger, llm_emulator, sample_payload):
    llm_emulator.next("server_error", "server_error")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload, max_retries=1)
    assert len(events(result, DagsterEventType.STEP_UP_FOR_RETRY)) == 1
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "LLMServerError")
    assert "HTTP 500" in task.error_message and "gave up after 2 attempts" in task.error_message


def test_a_client_error_fails_at_once(instance, ledger, llm_emulator, sample_payload):
    llm_emulator.next("unauthorized")
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    assert not events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "LLMRejected")
    assert "HTTP 401" in task.error_message and "Incorrect API key" in task.error_message


def test_a_task_over_its_budget_makes_no_call_and_says_which_budget(instance, ledger, llm_emulator, sample_payload):
    task = dispatched(ledger, sample_payload)
    record_usage(
        ledger.engine,
        task_id=task.id,
        run_id="earlier",
        model="gpt-test",
        prompt_tokens=1000,
        completion_tokens=1000,
        cost_usd=Decimal("0.30"),
    )
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config=llm_config(llm_emulator, task.id, task_budget_usd=0.25),
        tags=task_tags(ledger.get(task.id)),
    )
    failed = ledger.get(task.id)
    assert not result.success and llm_emulator.requests == []
    assert (failed.status, failed.error_class) == (TaskStatus.FAILED, "BudgetExceeded")
    assert f"task budget exhausted: task {task.id} has spent $0.300000" in failed.error_message
    assert "of its $0.25 (ORBIT_LLM_TASK_BUDGET_USD)" in failed.error_message


def test_the_daily_budget_counts_every_tasks_calls_today(instance, ledger, llm_emulator, sample_payload):
    other = dispatched(ledger, {**sample_payload, "title": "Another task"})
    record_usage(
        ledger.engine,
        task_id=other.id,
        run_id="earlier",
        model="gpt-test",
        prompt_tokens=10,
        completion_tokens=10,
        cost_usd=Decimal("5.00"),
    )
    task, result = decompose_with_llm(instance, ledger, llm_emulator, sample_payload, daily_budget_usd=5.0)
    assert llm_emulator.requests == []
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "BudgetExceeded")
    assert "daily budget exhausted: $5.000000 spent" in task.error_message
    assert "ORBIT_LLM_DAILY_BUDGET_USD" in task.error_message


def test_re_executing_the_step_reuses_the_accepted_answer_without_a_call(
    instance, ledger, llm_emulator, sample_payload
):
    task, first = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    before = load_plan(ledger.engine, task.id)
    again = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions(parent_run_id=first.run_id, step_selection=["decompose_task*"]),
    )
    assert again.success and len(llm_emulator.requests) == 1
    assert load_plan(ledger.engine, task.id) == before
    metadata = events(again, DagsterEventType.STEP_OUTPUT)[0].step_output_data.metadata
    assert metadata["reused_stored_answer"].value is True


def test_an_ai_fix_continues_the_conversation_with_the_operators_feedback(
    instance, ledger, llm_emulator, sample_payload
):
    task, first = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    subtasks, _ = load_plan(ledger.engine, task.id)
    # The emulator plans its own way (one storage subtask for both entities): the model is found by category.
    invoice_model = next(s.id for s in subtasks if s.category.value == "DATA_MODEL")
    revised = [
        {
            **s.model_dump(
                mode="json", exclude={"tech_requirements", "coding_standards", "project_rules", "best_practices"}
            ),
            "estimated_effort_hours": 8.0 if s.id == invoice_model else s.estimated_effort_hours,
        }
        for s in subtasks
    ]
    llm_emulator.answer_next(json.dumps({"subtasks": revised}))
    config = llm_config(llm_emulator, task.id, feedback="The invoice model needs 8 hours: it has audit history.")
    again = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config=config,
        reexecution_options=ReexecutionOptions(parent_run_id=first.run_id, step_selection=["decompose_task*"]),
    )
    assert again.success
    sent = llm_emulator.requests[1].messages
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert "audit history" in sent[3]["content"]
    assert kinds(task.id, ledger) == ["system", "task", "answer", "feedback", "answer"]
    stored = {s.id: s for s in load_plan(ledger.engine, task.id)[0]}
    assert stored[invoice_model].estimated_effort_hours == 8.0
    assert any("AI fix requested: The invoice model needs 8 hours" in (e["note"] or "") for e in ledger.events(task.id))


def test_an_unconfigured_endpoint_fails_naming_the_variables(instance, ledger, llm_emulator, sample_payload):
    task, _ = decompose_with_llm(instance, ledger, llm_emulator, sample_payload, base_url="", model="")
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "LLMNotConfigured")
    assert "ORBIT_LLM_BASE_URL and ORBIT_LLM_MODEL" in task.error_message


def test_the_strategy_defaults_to_deterministic_and_orbit_decomposer_changes_it(monkeypatch):
    from orbit_pipelines.jobs.task_decomposition.ops import DecomposeConfig, Strategy, default_strategy

    assert DecomposeConfig().strategy == Strategy(os.environ.get("ORBIT_DECOMPOSER") or "deterministic")
    monkeypatch.setenv("ORBIT_DECOMPOSER", "llm")
    assert default_strategy() == Strategy.llm
    monkeypatch.setenv("ORBIT_DECOMPOSER", "gpt")
    with pytest.raises(ValueError, match="ORBIT_DECOMPOSER must be one of deterministic, llm, got 'gpt'"):
        default_strategy()


def test_orbit_task_show_reports_the_model_spending(instance, ledger, llm_emulator, sample_payload):
    from orbit_pipelines.reports import task_report_json, task_report_markdown

    task, _ = decompose_with_llm(instance, ledger, llm_emulator, sample_payload)
    usage = usage_for_task(ledger.engine, task.id)
    assert (
        f"- model calls: 1, {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens, "
        f"${usage.cost_usd}"
    ) in task_report_markdown(ledger, task.id)
    assert json.loads(task_report_json(ledger, task.id))["model_usage"]["cost_usd"] == str(usage.cost_usd)


def test_in_a_batch_a_task_the_model_cannot_plan_fails_alone(instance, ledger, llm_emulator, sample_payload):
    from orbit_pipelines.runtime.intake import submit_task

    first, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "First"})
    second, _ = submit_task(ledger, "decomposition", {**sample_payload, "title": "Second"})
    claimed = ledger.claim_pending(limit=2, kinds=["decomposition"], batch_size=2)
    llm_emulator.next("partial", "partial")  # the first task's two attempts; the second gets good answers
    config = llm_config(llm_emulator, first.id, max_attempts=2)
    config["ops"]["load_task"] = {"config": {"task_ids": [t.id for t in claimed]}}
    result = execute_job(recon_job("task_decomposition"), instance=instance, raise_on_error=False, run_config=config)
    assert result.success
    failed, done = ledger.get(first.id), ledger.get(second.id)
    assert (failed.status, failed.error_class, failed.error_step) == (
        TaskStatus.FAILED,
        "InvalidModelAnswer",
        "decompose_task",
    )
    assert done.status == TaskStatus.COMPLETED and load_plan(ledger.engine, done.id)[0]
    metadata = events(result, DagsterEventType.STEP_OUTPUT)[0].step_output_data.metadata
    assert (metadata["model_calls"].value, metadata["failed"].value) == (3, 1)

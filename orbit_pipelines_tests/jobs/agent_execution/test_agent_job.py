"""agent_execution end to end: the real job on the Postgres-backed instance, each prompt run through
the Pipes wrapper and a fake agent script (fake_agent.py) in a real per-task git working directory."""

import json
import os
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.agent_execution.models import PromptStatus
from orbit_pipelines.jobs.agent_execution.store import load_results
from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.jobs.task_decomposition.models import Category, Prompt, Subtask
from orbit_pipelines.jobs.task_decomposition.store import save_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import PayloadError, submit_task
from orbit_pipelines_tests.support import recon_job

FAKE_AGENT = str(Path(__file__).with_name("fake_agent.py"))
D, S, H, T = Category.DATA_MODEL, Category.SERVICE, Category.HTTP_API, Category.TESTING
CHAIN = {D: [], S: [D], H: [S], T: [S, H]}


def subtask(category: Category, needs: list[Category]) -> Subtask:
    return Subtask(
        id=f"{category.value.lower()}.invoice",
        category=category,
        title=f"{category.value} work",
        description="Invoices.",
        requirements=["Do it"],
        dependencies=[f"{c.value.lower()}.invoice" for c in needs],
        estimated_effort_hours=1,
        priority="MEDIUM",
    )


def decomposed(ledger, behaviours: dict, needs: dict = CHAIN) -> int:
    """A decomposition task whose prompt for each category asks the fake agent for a behaviour."""
    task, _ = submit_task(ledger, "decomposition", {"title": "Invoices", "description": "Invoice export."})
    subtasks = [subtask(c, needs.get(c, [])) for c in behaviours]
    prompts = [
        Prompt(category=c, subtask_ids=[f"{c.value.lower()}.invoice"], text=f"# {c.value} prompt\nFAKE-AGENT: {b}\n")
        for c, b in behaviours.items()
    ]
    save_plan(ledger.engine, task.id, "decomposed-by-test", subtasks, prompts)
    return task.id


@pytest.fixture
def agents_root(tmp_path):
    return tmp_path / "agents"


@pytest.fixture
def run_agents(instance, ledger, agents_root):
    """Submit an agent task for a decomposition task and run it, as the dispatch sensor would."""

    def run(decomposition_task_id, categories=(), timeout=20.0, max_retries=1, agent=None, **resource):
        task, _ = submit_task(
            ledger, "agent", {"decomposition_task_id": decomposition_task_id, "categories": list(categories)}
        )
        ledger.claim_pending(limit=1, kinds=["agent"])
        kind, tasks = get_kind("agent"), [ledger.get(task.id)]
        config = kind.run_config(tasks)
        config["ops"]["run_prompts"] = {"config": {"timeout_seconds": timeout, "max_retries": max_retries}}
        settings = {
            "command_json": json.dumps(agent or [sys.executable, FAKE_AGENT]),
            "workdir_root": str(agents_root),
            "kill_grace_seconds": 0.5,
            **resource,
        }
        config["resources"] = {"agent": {"config": settings}}
        result = execute_job(
            recon_job("agent_execution"),
            instance=instance,
            run_config=config,
            tags=kind.tags_for(tasks),
            raise_on_error=False,
        )
        return ledger.get(task.id), result

    return run


def results(ledger, task_id):
    return {c: r.result for c, r in load_results(ledger.engine, task_id).items()}


def logs(instance, result) -> list[str]:
    return [r.user_message for r in instance.all_logs(result.run_id) if r.dagster_event is None]


def retries(result):
    return [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]


def test_every_prompt_of_a_decomposed_task_runs_and_the_task_completes(
    instance, ledger, sample_payload, run_agents, agents_root
):
    from orbit_pipelines_tests.jobs.task_decomposition.test_job import dispatched, run_task

    source = dispatched(ledger, sample_payload)
    assert run_task(instance, ledger, source.id).success
    task, result = run_agents(source.id)
    assert result.success and task.status == TaskStatus.COMPLETED
    stored = results(ledger, task.id)
    assert list(stored) == [D, S, H, T]
    assert all(r.status == PromptStatus.SUCCEEDED and r.exit_code == 0 for r in stored.values())
    workdir = agents_root / f"task-{source.id}"
    assert (workdir / ".git").is_dir()
    assert stored[S].changed_files == ["service.txt"] and "service.txt | 1 +" in stored[S].diff_stat
    assert (workdir / "service.txt").read_text() == f"# Service layer: {sample_payload['title']}\n"


def test_the_run_log_shows_each_stage_and_the_agents_output(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "succeed"}))
    lines = [m for m in logs(instance, result) if m.startswith("[agent DATA_MODEL]")]
    stages = [m.split(" ", 4)[4].split(":")[0] for m in lines if " stage " in m]
    assert stages == ["initializing", "validating", "executing", "processing output", "finalizing"]
    assert "[agent DATA_MODEL] fake agent: succeed for DATA_MODEL" in lines
    assert "[agent DATA_MODEL] wrote data_model.txt" in lines


def test_dependencies_between_subtasks_decide_the_order(instance, ledger, run_agents):
    tests_first = {T: [], D: [T], S: [D], H: [S]}
    task, result = run_agents(decomposed(ledger, {D: "succeed", S: "succeed", H: "succeed", T: "succeed"}, tests_first))
    started = [m.split()[1].rstrip("]") for m in logs(instance, result) if " stage 1/5 initializing" in m]
    assert started == ["TESTING", "DATA_MODEL", "SERVICE", "HTTP_API"]
    assert result.success


def test_a_dependency_cycle_fails_the_task_naming_it(instance, ledger, run_agents):
    cyclic = {D: [], S: [D, H], H: [S]}
    task, result = run_agents(decomposed(ledger, {D: "succeed", S: "succeed", H: "succeed"}, cyclic))
    assert (task.status, task.error_class, task.error_step) == (TaskStatus.FAILED, "DependencyCycle", "load_agent_task")
    assert "dependency cycle: SERVICE -> HTTP_API -> SERVICE" in task.error_message
    assert results(ledger, task.id) == {}


def test_a_clean_non_zero_exit_is_the_agents_answer_recorded_without_retry(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "succeed", S: "fail", H: "succeed", T: "succeed"}))
    assert not retries(result)
    assert (task.status, task.error_class, task.error_step) == (TaskStatus.FAILED, "AgentFailed", "run_prompts")
    assert "prompt SERVICE: the agent exited with code 3" in task.error_message
    assert "not run because a prompt they depend on did not succeed: HTTP_API, TESTING" in task.error_message
    assert "the schema conflicts with the existing migration" in task.error_message
    stored = results(ledger, task.id)
    assert [stored[c].status for c in (D, S, H, T)] == [
        PromptStatus.SUCCEEDED,
        PromptStatus.FAILED,
        PromptStatus.SKIPPED,
        PromptStatus.SKIPPED,
    ]
    assert stored[S].exit_code == 3 and stored[H].detail == "needs SERVICE, which did not succeed"


def test_an_agent_that_hangs_is_killed_with_its_children_at_the_timeout_and_retried(
    instance, ledger, run_agents, agents_root
):
    source = decomposed(ledger, {D: "hang"})
    task, result = run_agents(source, timeout=2.0, max_retries=1)
    assert len(retries(result)) == 1
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "AgentTimedOut")
    assert "prompt DATA_MODEL: timed out after 2." in task.error_message
    (row,) = load_results(ledger.engine, task.id).values()
    assert row.attempts == 2 and row.result.status == PromptStatus.TIMED_OUT and row.result.signal == "SIGKILL"
    assert 2.0 <= row.result.duration_seconds < 8
    for pid in (agents_root / f"task-{source}" / "hang.pids").read_text().split():
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_a_crashing_agent_is_retried_and_then_fails_naming_the_signal(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "crash"}), max_retries=1)
    assert len(retries(result)) == 1
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "AgentCrashed")
    assert "prompt DATA_MODEL: the agent crashed (SIGKILL)" in task.error_message


def test_a_crash_that_does_not_recur_is_healed_by_the_retry(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "succeed", S: "crash-once"}), max_retries=2)
    assert task.status == TaskStatus.COMPLETED and len(retries(result)) == 1
    rows = load_results(ledger.engine, task.id)
    assert (rows[D].attempts, rows[S].attempts) == (1, 2), "the retry did not run DATA_MODEL again"


def test_a_flood_of_output_keeps_only_the_tail_and_streams_a_capped_number_of_lines(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "flood"}), log_lines=20, tail_bytes=4096)
    assert task.status == TaskStatus.COMPLETED
    stored = results(ledger, task.id)[D]
    assert stored.output_lines == 100_002 and stored.output_bytes > 5_000_000
    assert len(stored.output_tail.encode()) <= 4096 and stored.output_tail.endswith("flood done")
    agent_lines = [m for m in logs(instance, result) if m.startswith("[agent DATA_MODEL]") and " stage " not in m]
    assert len(agent_lines) == 21
    assert "output beyond 20 lines is not streamed to the event log" in agent_lines[-1]


def test_the_agent_sees_only_allowed_variables(instance, ledger, run_agents, agents_root, monkeypatch):
    monkeypatch.setenv("ORBIT_TEST_AGENT_SECRET", "must-not-leak")
    monkeypatch.setenv("ORBIT_TEST_AGENT_TOKEN", "allowed-token")
    source = decomposed(ledger, {D: "read-secret"})
    task, result = run_agents(source, env_allow="ORBIT_TEST_AGENT_TOKEN")
    assert task.status == TaskStatus.COMPLETED
    seen = json.loads((agents_root / f"task-{source}" / "env.json").read_text())
    assert "ORBIT_TEST_AGENT_SECRET" not in seen and seen["ORBIT_TEST_AGENT_TOKEN"] == "allowed-token"
    assert set(seen) - {"LC_CTYPE"} <= {
        "PATH",
        "HOME",
        "LANG",
        "ORBIT_TEST_AGENT_TOKEN",
        "ORBIT_TASK_ID",
        "ORBIT_PROMPT_CATEGORY",
    }
    assert "must-not-leak" not in json.dumps(seen) and "DAGSTER_PG_URL" in os.environ
    assert "secret visible: False" in results(ledger, task.id)[D].output_tail


@pytest.mark.parametrize("via,extra", [("stdin", []), ("file", ["--prompt-file", "{prompt_file}"])])
def test_the_prompt_can_go_on_stdin_or_in_a_file(via, extra, instance, ledger, run_agents, agents_root):
    source = decomposed(ledger, {D: "succeed"})
    task, _ = run_agents(source, agent=[sys.executable, FAKE_AGENT, *extra], prompt_via=via)
    assert task.status == TaskStatus.COMPLETED
    assert (agents_root / f"task-{source}" / "data_model.txt").read_text() == "# DATA_MODEL prompt\n"


def test_re_executing_after_a_fix_runs_only_what_had_not_succeeded(instance, ledger, run_agents, agents_root):
    source = decomposed(ledger, {D: "succeed", S: "fail-until-fixed", H: "succeed"})
    task, first = run_agents(source)
    assert task.status == TaskStatus.FAILED
    (agents_root / f"task-{source}" / "fixed").write_text("an operator fixed the build\n")
    again = execute_job(
        recon_job("agent_execution"),
        instance=instance,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions.from_failure(first.run_id, instance),
    )
    assert again.success and ledger.get(task.id).status == TaskStatus.COMPLETED
    rows = load_results(ledger.engine, task.id)
    assert list(rows) == [D, S, H]
    assert [rows[c].attempts for c in (D, S, H)] == [1, 2, 2]
    assert all(r.result.status == PromptStatus.SUCCEEDED for r in rows.values())
    assert rows[S].result.changed_files == ["service.txt"], "the fix made before the re-execution is not its change"


def test_only_the_selected_categories_run(instance, ledger, run_agents):
    task, result = run_agents(
        decomposed(ledger, {D: "succeed", S: "succeed", H: "fail", T: "succeed"}), categories=["TESTING", "SERVICE"]
    )
    assert task.status == TaskStatus.COMPLETED
    assert list(results(ledger, task.id)) == [S, T]


def test_a_decomposition_without_prompts_fails_saying_so(instance, ledger, run_agents):
    empty, _ = submit_task(ledger, "decomposition", {"title": "Nothing yet", "description": "Not decomposed."})
    task, _ = run_agents(empty.id)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "NothingToRun")
    assert f"decomposition task {empty.id}: it has no prompts (decompose it first)" in task.error_message


def test_a_missing_category_is_named(instance, ledger, run_agents):
    task, _ = run_agents(decomposed(ledger, {D: "succeed"}), categories=["HTTP_API"])
    assert "categories: it has no prompt for HTTP_API (it has DATA_MODEL)" in task.error_message


def test_an_unconfigured_agent_command_fails_naming_the_variable(instance, ledger, run_agents):
    task, _ = run_agents(decomposed(ledger, {D: "succeed"}), command_json="")
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "AgentNotConfigured")
    assert "ORBIT_AGENT_COMMAND is not set" in task.error_message


def test_a_command_that_does_not_exist_is_not_started_and_not_retried(instance, ledger, run_agents):
    task, result = run_agents(decomposed(ledger, {D: "succeed"}), agent=["no-such-agent-cli", "-p"])
    assert not retries(result)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "AgentNotStarted")
    assert "'no-such-agent-cli' is not an executable on PATH" in task.error_message


def test_a_bad_agent_payload_is_refused_at_submission_naming_the_field(ledger):
    with pytest.raises(PayloadError, match=r"categories\.0: Input should be 'DATA_MODEL'"):
        submit_task(ledger, "agent", {"decomposition_task_id": 1, "categories": ["UI"]})
    with pytest.raises(PayloadError, match="decomposition_task_id: Input should be greater than 0"):
        submit_task(ledger, "agent", {"decomposition_task_id": 0})


def test_an_agent_waits_while_another_run_holds_the_agents_pool(instance, ledger, run_agents):
    storage = instance.event_log_storage
    if "agents" not in {pool.name for pool in storage.get_pool_limits()}:
        # Only once: on Postgres a second call fails inside Dagster (its duplicate-key fallback runs
        # in the aborted transaction).
        storage.initialize_concurrency_limit_to_default("agents")
    assert storage.claim_concurrency_slot("agents", "another-run", "run_prompts").is_claimed
    waited = threading.Event()

    def release_once_our_step_waits() -> None:
        # The other run lets go only once our run_prompts is queued behind it (however slowly our run
        # starts on a loaded machine), and at the latest after 120 s, so the test cannot hang.
        deadline, since = time.monotonic() + 120, datetime.now(timezone.utc)

        def ours_waits() -> bool:
            pending = storage.get_concurrency_info("agents").pending_steps
            return any(p.run_id != "another-run" and p.enqueued_timestamp >= since for p in pending)

        while time.monotonic() < deadline and not ours_waits():
            time.sleep(0.1)
        waited.set()
        time.sleep(0.5)
        storage.free_concurrency_slot_for_step("another-run", "run_prompts")

    release = threading.Thread(target=release_once_our_step_waits)
    release.start()
    try:
        task, result = run_agents(decomposed(ledger, {D: "succeed"}))
    finally:
        release.join()
    assert waited.is_set() and task.status == TaskStatus.COMPLETED
    blocked = [
        e
        for e in result.all_events
        if e.event_type == DagsterEventType.ENGINE_EVENT
        and e.step_key == "run_prompts"
        and e.message == "Step blocked by limit for pool agents"
    ]
    assert blocked, "run_prompts waited for the slot the other run held"


def test_agents_share_one_pool_and_one_run_per_working_directory(instance, ledger):
    from orbit_pipelines.jobs.agent_execution.ops import run_prompts

    assert run_prompts.pool == "agents"
    assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
    limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": "orbit/agent_workdir", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
    task, _ = submit_task(ledger, "agent", {"decomposition_task_id": 42})
    assert get_kind("agent").tags_for([task])["orbit/agent_workdir"] == "task-42"


def test_orbit_task_show_lists_the_prompt_results(instance, ledger, run_agents):
    from orbit_pipelines.reports import task_report_json, task_report_markdown

    task, _ = run_agents(decomposed(ledger, {D: "succeed", S: "fail"}))
    shown = task_report_markdown(ledger, task.id)
    assert "- error: AgentFailed in step run_prompts: " in shown
    assert "| SERVICE | FAILED | 3 |" in shown and "| DATA_MODEL | SUCCEEDED | 0 |" in shown
    as_json = json.loads(task_report_json(ledger, task.id))
    assert [(r["category"], r["status"], r["attempts"]) for r in as_json["agent_results"]] == [
        ("DATA_MODEL", "SUCCEEDED", 1),
        ("SERVICE", "FAILED", 1),
    ]

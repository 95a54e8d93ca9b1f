"""agent_execution's pure parts: prompt order, blocking, failure summaries, and the wrapper's helpers."""

import signal
from pathlib import Path

import pytest

from orbit_pipelines.jobs.agent_execution.logic import (
    NothingToRun,
    blocked_by,
    execution_order,
    failure_summary,
    results_markdown,
)
from orbit_pipelines.jobs.agent_execution.models import AgentResult, PromptStatus
from orbit_pipelines.jobs.agent_execution.resources import AgentRunner
from orbit_pipelines.jobs.agent_execution.wrapper import Tail, agent_argv, agent_environment, classify
from orbit_pipelines.jobs.task_decomposition.decompose import PlanError
from orbit_pipelines.jobs.task_decomposition.models import Category, Prompt
from orbit_pipelines_tests.jobs.agent_execution.test_agent_job import CHAIN, subtask

D, S, H, T = Category.DATA_MODEL, Category.SERVICE, Category.HTTP_API, Category.TESTING


def prompts(*categories):
    return [Prompt(category=c, subtask_ids=[], text=f"do {c.value}") for c in categories]


def test_prompts_run_after_the_categories_their_subtasks_depend_on():
    plan = [subtask(c, CHAIN[c]) for c in (D, S, H, T)]
    order = execution_order(prompts(T, H, S, D), plan)
    assert [p.category for p in order] == [D, S, H, T]
    assert order[3].depends_on == [S, H] and order[0].depends_on == []
    assert len(order[0].sha256) == 64


def test_without_dependencies_the_category_order_holds_and_a_selection_is_kept_to():
    plan = [subtask(c, []) for c in (D, S, H, T)]
    assert [p.category for p in execution_order(prompts(T, D, S), plan, [T, S])] == [S, T]


def test_a_dependency_on_an_unselected_category_does_not_hold_a_prompt_back():
    plan = [subtask(c, CHAIN[c]) for c in (D, S, H, T)]
    (only,) = execution_order(prompts(D, S, H, T), plan, [H])
    assert only.category == H and only.depends_on == []


def test_a_cycle_between_categories_is_named():
    plan = [subtask(D, [T]), subtask(S, [D]), subtask(T, [S])]
    with pytest.raises(PlanError, match="dependency cycle: DATA_MODEL -> TESTING -> SERVICE -> DATA_MODEL"):
        execution_order(prompts(D, S, T), plan)


def test_nothing_to_run_says_what_is_missing():
    with pytest.raises(NothingToRun, match="no prompts"):
        execution_order([], [])
    with pytest.raises(NothingToRun, match="no prompt for TESTING, HTTP_API"):
        execution_order(prompts(D), [], [T, H])


def test_a_prompt_is_blocked_by_the_first_dependency_that_did_not_succeed():
    plan = [subtask(c, CHAIN[c]) for c in (D, S, H, T)]
    testing = execution_order(prompts(D, S, H, T), plan)[3]
    assert blocked_by(testing, {S: PromptStatus.SUCCEEDED, H: PromptStatus.SUCCEEDED}) is None
    assert blocked_by(testing, {S: PromptStatus.SUCCEEDED, H: PromptStatus.SKIPPED}) == H


def test_the_failure_summary_names_the_first_failure_the_skipped_and_the_output():
    results = [
        AgentResult(category=D, status=PromptStatus.SUCCEEDED, exit_code=0),
        AgentResult(
            category=S,
            status=PromptStatus.TIMED_OUT,
            exit_code=-9,
            signal="SIGKILL",
            duration_seconds=30.04,
            output_tail="step 1\nstill thinking",
        ),
        AgentResult(category=H, status=PromptStatus.SKIPPED, detail="needs SERVICE, which did not succeed"),
    ]
    error_class, message = failure_summary(results)
    assert error_class == "AgentTimedOut"
    assert message == (
        "prompt SERVICE: timed out after 30.0 s and was killed; not run because a prompt they "
        "depend on did not succeed: HTTP_API; last output of SERVICE: step 1\nstill thinking"
    )
    assert failure_summary(results[:1]) is None
    assert "| SERVICE | TIMED_OUT | SIGKILL | 30.0 | n/a |" in results_markdown(results)


def test_the_agent_environment_holds_the_basics_and_allowed_names_only():
    environ = {
        "PATH": "/bin",
        "HOME": "/home/a",
        "LANG": "C.UTF-8",
        "AWS_SECRET_ACCESS_KEY": "s",
        "ANTHROPIC_API_KEY": "k",
        "DAGSTER_PG_URL": "postgresql://x",
    }
    env = agent_environment(environ, ["ANTHROPIC_API_KEY", "NOT_SET"], {"ORBIT_TASK_ID": "7"})
    assert env == {"PATH": "/bin", "HOME": "/home/a", "LANG": "C.UTF-8", "ANTHROPIC_API_KEY": "k", "ORBIT_TASK_ID": "7"}


def test_the_prompt_goes_at_its_placeholder_or_at_the_end(tmp_path):
    file = tmp_path / "prompt.md"
    assert agent_argv(["claude", "-p"], "do it", "argument", file) == (["claude", "-p", "do it"], None)
    assert agent_argv(["aider", "--message", "{prompt}", "--yes"], "do it", "argument", file) == (
        ["aider", "--message", "do it", "--yes"],
        None,
    )
    assert agent_argv(["claude", "-p"], "do it", "stdin", file) == (["claude", "-p"], "do it")
    assert agent_argv(["aider", "--message-file", "{prompt_file}"], "do it", "file", file) == (
        ["aider", "--message-file", str(file)],
        None,
    )
    assert file.read_text() == "do it"
    with pytest.raises(ValueError, match="prompt_via must be argument, stdin or file, got 'pipe'"):
        agent_argv(["x"], "do it", "pipe", file)


def test_the_tail_keeps_the_last_bytes_in_whole_lines():
    tail = Tail(max_bytes=21)  # three lines of "line N\n"
    for n in range(10):
        tail.add(f"line {n}")
    assert tail.text() == "line 7\nline 8\nline 9" and (tail.total_lines, tail.total_bytes) == (10, 70)
    tail.add("x" * 100)
    assert tail.text() == "x" * 20


def test_exit_codes_mean_success_the_agents_refusal_or_a_crash():
    assert classify(0, False) == (PromptStatus.SUCCEEDED, None)
    assert classify(3, False) == (PromptStatus.FAILED, None)
    assert classify(-signal.SIGABRT, False) == (PromptStatus.CRASHED, "SIGABRT")
    assert classify(-signal.SIGKILL, True) == (PromptStatus.TIMED_OUT, "SIGKILL")


def test_the_agent_command_and_allow_list_are_checked_naming_the_variable(tmp_path):
    assert AgentRunner(command_json='["claude", "-p"]').argv() == ["claude", "-p"]
    for bad, why in (("claude -p", "not valid JSON"), ('"claude"', "non-empty JSON list"), ("[]", "non-empty")):
        with pytest.raises(ValueError, match=f"ORBIT_AGENT_COMMAND.*{why}"):
            AgentRunner(command_json=bad).argv()
    assert AgentRunner(env_allow="A_KEY, B_KEY C").allowed_names() == ["A_KEY", "B_KEY", "C"]
    with pytest.raises(ValueError, match="ORBIT_AGENT_ENV_ALLOW: not variable names: A-B"):
        AgentRunner(env_allow="A-B").allowed_names()
    assert AgentRunner(workdir_root=str(tmp_path)).workdir(5) == Path(tmp_path).resolve() / "task-5"

"""worksheet_generation with the `llm` strategy: the real job on the Postgres-backed instance, a real
pdflatex, and the OpenAI-compatible emulator over HTTP (its worksheet mode) as the model."""

import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.llm.store import load_conversation, usage_for_task
from orbit_pipelines.local.llm_emulator_worksheets import BROKEN_LINE
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines_tests.support import recon_job

from .conftest import pdf_text
from .test_worksheet_job import stored_pdf

pytestmark = pytest.mark.usefixtures("tex")


@pytest.fixture(autouse=True)
def llm_key(llm_emulator, monkeypatch):
    # The key reaches the resource through EnvVar, as in production; never through run config.
    monkeypatch.setenv("ORBIT_TEST_LLM_KEY", llm_emulator.api_key)


def llm_run_config(emulator, task_id, fix_attempts=2, **resource):
    return {
        "ops": {
            "load_worksheet_task": {"config": {"task_id": task_id, "strategy": "llm", "fix_attempts": fix_attempts}}
        },
        "resources": {
            "llm": {
                "config": {
                    "base_url": emulator.base_url,
                    "model": "gpt-test",
                    "api_key": {"env": "ORBIT_TEST_LLM_KEY"},
                    "read_timeout": 5.0,
                    **resource,
                }
            }
        },
    }


def run_with_model(instance, ledger, emulator, payload, **kwargs):
    task, _ = submit_task(ledger, "worksheet", payload)
    ledger.claim_pending(limit=1, kinds=["worksheet"])
    result = execute_job(
        recon_job("worksheet_generation"),
        instance=instance,
        run_config=llm_run_config(emulator, task.id, **kwargs),
        tags=get_kind("worksheet").tags_for([ledger.get(task.id)]),
        raise_on_error=False,
    )
    return ledger.get(task.id), result


def turns(ledger, task_id):
    return [(t["phase"], t["kind"]) for t in load_conversation(ledger.engine, task_id)]


def steps_started(result) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]


def test_the_models_design_and_latex_become_a_stored_pdf_with_the_exercises(
    instance, ledger, local_services, llm_emulator, tmp_path
):
    task, result = run_with_model(instance, ledger, llm_emulator, {"prompt": "8 fraction exercises for year 5"})
    assert result.success and task.status == TaskStatus.COMPLETED
    row = load_worksheet(ledger.engine, task.id)
    assert (row["status"], row["latex_source"], row["attempts"]) == ("stored", "model", 1)
    assert row["design"]["title"].startswith("Practice sheet:"), "the model's design, not the rules'"
    assert "\\section*{Answer key}" in row["latex"] and "fancyhdr" not in row["latex"], "the model's LaTeX"
    text = pdf_text(stored_pdf(row), tmp_path)
    exercises = [e for s in row["design"]["sections"] for e in s["exercises"]]
    assert len(exercises) == 8 and all(e["question"] in text and e["answer"] in text for e in exercises)
    assert turns(ledger, task.id) == [
        ("design", "system"),
        ("design", "task"),
        ("design", "answer"),
        ("latex", "system"),
        ("latex", "task"),
        ("latex", "answer"),
    ]
    assert usage_for_task(ledger.engine, task.id).calls == 2


def test_an_invalid_design_is_sent_back_with_the_validation_errors_in_the_same_conversation(
    instance, ledger, local_services, llm_emulator
):
    llm_emulator.next("partial")
    task, result = run_with_model(instance, ledger, llm_emulator, {"prompt": "6 sums up to 20"})
    assert result.success and task.status == TaskStatus.COMPLETED
    conversation = load_conversation(ledger.engine, task.id)
    errors = next(t for t in conversation if t["kind"] == "errors")
    assert "sections.0.exercises.0.answer: Field required" in errors["problems"]
    second = llm_emulator.requests[1].messages
    assert second[-1]["content"] == errors["content"] and second[0] == llm_emulator.requests[0].messages[0]


def test_latex_that_does_not_compile_is_fixed_by_the_model_in_one_conversation_and_stored_once(
    instance, ledger, local_services, llm_emulator, tmp_path
):
    llm_emulator.next("good", "latex_broken")  # the design, then a broken document; the fix is good
    task, result = run_with_model(instance, ledger, llm_emulator, {"prompt": "5 equations to solve"})
    assert result.success and task.status == TaskStatus.COMPLETED
    row = load_worksheet(ledger.engine, task.id)
    assert (row["status"], row["attempts"], row["latex_source"]) == ("stored", 2, "model")
    assert BROKEN_LINE not in row["latex"]
    assert [k for p, k in turns(ledger, task.id) if p == "latex"] == [
        "system",
        "task",
        "answer",
        "compile_errors",
        "answer",
    ]
    fix_request = llm_emulator.requests[2].messages
    assert "Undefined control sequence" in fix_request[-1]["content"] and BROKEN_LINE in fix_request[-1]["content"]
    assert fix_request[-2]["content"].count(BROKEN_LINE) == 1, "the model sees its own broken answer"
    assert steps_started(result).count("store_worksheet") == 1
    assert "Solve each equation for x." in pdf_text(stored_pdf(row), tmp_path)


def test_when_the_fixes_run_out_the_task_waits_and_a_re_execution_reuses_every_stored_answer(
    instance, ledger, local_services, llm_emulator
):
    llm_emulator.next("good", "latex_broken", "latex_broken")
    task, first = run_with_model(instance, ledger, llm_emulator, {"prompt": "4 sums"}, fix_attempts=1)
    assert not first.success and task.status == TaskStatus.WAITING_MANUAL
    assert task.error_class == "LatexDoesNotCompile" and any(
        "after 1 fix by the model" in (e["note"] or "") for e in ledger.events(task.id)
    )
    assert load_worksheet(ledger.engine, task.id)["attempts"] == 2
    assert len(llm_emulator.requests) == 3

    again = execute_job(
        recon_job("worksheet_generation"),
        instance=instance,
        run_config=first.dagster_run.run_config,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions(
            parent_run_id=first.run_id,
            step_selection=["design", "render_latex_source", "compile_pdf", "store_worksheet"],
        ),
    )
    assert again.success and ledger.get(task.id).status == TaskStatus.COMPLETED
    assert len(llm_emulator.requests) == 4, "the design and the first document were reused; only a new fix was paid"
    assert load_worksheet(ledger.engine, task.id)["attempts"] == 4


@pytest.mark.parametrize("command", ["\\input{/etc/passwd}", "\\immediate\\write18"])
def test_a_model_answer_with_a_forbidden_command_is_refused_before_compiling_naming_it(
    instance, ledger, local_services, llm_emulator, command
):
    llm_emulator.next("good", "latex_forbidden")
    task, result = run_with_model(instance, ledger, llm_emulator, {"prompt": "3 sums"})
    assert (task.status, task.error_class, task.error_step) == (
        TaskStatus.FAILED,
        "ForbiddenLatex",
        "render_latex_source",
    )
    assert command in task.error_message
    assert "compile_pdf" not in steps_started(result) and load_worksheet(ledger.engine, task.id) is None
    refused = load_conversation(ledger.engine, task.id)[-1]
    assert refused["kind"] == "answer" and refused["valid"] is False and refused["refused"]

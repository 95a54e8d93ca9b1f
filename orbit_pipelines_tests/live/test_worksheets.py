"""Worksheets at the doors a user takes, on the live stack: `orbit task submit --kind worksheet`, a
Launchpad-style launch through GraphQL whose LaTeX does not compile, and `orbit worksheet edit` or
`orbit worksheet ai-fix`, which continue that run from compile_pdf only."""

import json
import shutil
import subprocess
import sys

import pytest

from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.llm.store import load_conversation
from orbit_pipelines.local.llm_emulator import LLMEmulator
from orbit_pipelines_tests.live.stack import RUN_ID, orbit, run_finished
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed (make tex)")

BROKEN = "\\documentclass{article}\n\\begin{document}\nEight sums\n\\notacommand\n\\end{document}\n"


def test_a_worksheet_submitted_with_the_cli_is_compiled_stored_and_shown(stack, tmp_path):
    payload = tmp_path / "sheet.json"
    payload.write_text(json.dumps({"prompt": "10 unit conversion exercises for year 4"}))
    submitted = orbit(stack, "task", "submit", "--kind", "worksheet", "--payload", str(payload), "--wait", "180")
    task_id = int(submitted.stdout.split("submitted task ")[1].split()[0])
    assert stack.ledger.get(task_id).status == TaskStatus.COMPLETED
    shown = orbit(stack, "task", "show", str(task_id)).stdout
    assert "## Worksheet" in shown and "- PDF: s3://" in shown and "(units, 10 exercises)" in shown


def test_latex_that_does_not_compile_waits_for_a_person_whose_edit_finishes_the_run_from_compile(stack, tmp_path):
    config = {
        "ops": {
            "load_worksheet_task": {"config": {"request": {"prompt": "8 addition sums"}}},
            "compile_pdf": {"config": {"latex_override": BROKEN}},
        }
    }
    first = stack.api.launch("worksheet_generation", config)
    assert run_finished(stack, first, timeout=180) == "FAILURE"
    [task] = stack.ledger.tasks_for_run(first)
    assert stack.ledger.get(task.id).status == TaskStatus.WAITING_MANUAL
    waiting = orbit(stack, "task", "list", "--status", "WAITING_MANUAL").stdout
    assert str(task.id) in waiting
    assert orbit(stack, "worksheet", "latex", str(task.id)).stdout == BROKEN

    fixed = tmp_path / "fixed.tex"
    fixed.write_text(BROKEN.replace("\\notacommand", "Fixed by hand"))
    edited = orbit(stack, "worksheet", "edit", str(task.id), "--latex", str(fixed)).stdout
    (second,) = [r for r in RUN_ID.findall(edited) if r != first]
    assert run_finished(stack, second, timeout=180) == "SUCCESS"

    assert stack.ledger.get(task.id).status == TaskStatus.COMPLETED
    steps = {s.step_key for s in stack.instance.get_run_step_stats(second)}
    assert steps == {"compile_pdf", "store_worksheet"}, "the design and the LaTeX were not made again"
    history = orbit(stack, "task", "show", str(task.id)).stdout
    assert "LaTeX edited by a person" in history and "LaTeX does not compile (line 4" in history


@pytest.fixture(scope="module")
def model():
    """The OpenAI-compatible emulator as the stack's model: the runs reach it through the run config's
    `llm` resource, the CLI through ORBIT_LLM_BASE_URL (the stack itself is started with no model)."""
    with LLMEmulator() as running:
        yield running


def test_a_sheet_the_model_could_not_fix_waits_and_ai_fix_finishes_it_from_compile_only(stack, model):
    model.reset()
    model.next("good", "latex_broken", "latex_broken")  # the design, a broken document, a broken fix
    config = {
        "ops": {
            "load_worksheet_task": {
                "config": {"request": {"prompt": "6 subtraction sums"}, "strategy": "llm", "fix_attempts": 1}
            }
        },
        "resources": {"llm": {"config": {"base_url": model.base_url, "model": "emulator"}}},
    }
    first = stack.api.launch("worksheet_generation", config)
    assert run_finished(stack, first, timeout=180) == "FAILURE"
    [task] = stack.ledger.tasks_for_run(first)
    assert stack.ledger.get(task.id).status == TaskStatus.WAITING_MANUAL

    cli_env = {**stack.env, "ORBIT_LLM_BASE_URL": model.base_url, "ORBIT_LLM_MODEL": "emulator"}
    fixed = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "worksheet", "ai-fix", str(task.id)]
        + ["--instruction", "Remove the command that does not exist"],
        env=cli_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    (second,) = [r for r in RUN_ID.findall(fixed.stdout) if r != first]
    assert run_finished(stack, second, timeout=180) == "SUCCESS"

    assert stack.ledger.get(task.id).status == TaskStatus.COMPLETED
    steps = {s.step_key for s in stack.instance.get_run_step_stats(second)}
    assert steps == {"compile_pdf", "store_worksheet"}, "the design and the LaTeX were not asked for again"
    assert load_worksheet(stack.ledger.engine, task.id)["latex_source"] == "model"
    latex_turns = [t["kind"] for t in load_conversation(stack.ledger.engine, task.id) if t["phase"] == "latex"]
    assert latex_turns == ["system", "task", "answer", "compile_errors", "answer", "instruction", "answer"]
    assert "Remove the command that does not exist" in model.requests[-1].messages[-1]["content"]
    history = orbit(stack, "task", "show", str(task.id)).stdout
    assert "AI fix requested: Remove the command" in history and "LaTeX edited by the model" in history

"""Fixes of a worksheet that does not compile: a person's edited LaTeX, or the model's answer to an
operator's instruction (`ai-fix`), is checked, recorded in the task's history, and compiled by a
re-execution of the task's run from `compile_pdf` (the design and the rendered LaTeX are reused;
nothing before that step runs again)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from orbit_pipelines.jobs.worksheet_generation.latex import forbidden_commands
from orbit_pipelines.jobs.worksheet_generation.models import KIND
from orbit_pipelines.ledger import Ledger, TaskStatus

FROM_COMPILE = ["compile_pdf", "store_worksheet"]
MAX_LATEX_BYTES = 1024 * 1024
# The run id the model's calls of `orbit worksheet ai-fix` are recorded under (they belong to no run).
AI_FIX_RUN = "orbit-worksheet-ai-fix"


class CannotEdit(ValueError):
    pass


@dataclass(frozen=True)
class Edit:
    task_id: int
    parent_run: str
    new_run: str


def _waiting_worksheet(ledger: Ledger, task_id: int):
    task = ledger.get(task_id)
    if task.kind != KIND:
        raise CannotEdit(f"task {task_id} is a {task.kind} task, not a worksheet")
    if task.status != TaskStatus.WAITING_MANUAL:
        raise CannotEdit(
            f"task {task_id} is {task.status.value}: only a worksheet waiting for a fix (WAITING_MANUAL) takes an edit"
        )
    if not task.run_id:
        raise CannotEdit(f"task {task_id} has no run to continue")
    return task


def edit_latex(ledger: Ledger, api, task_id: int, latex: str, who: str = "a person", origin: str = "person") -> Edit:
    task = _waiting_worksheet(ledger, task_id)
    if len(latex.encode("utf-8")) > MAX_LATEX_BYTES:
        raise CannotEdit(f"the LaTeX is larger than {MAX_LATEX_BYTES // 1024} KB")
    refused = forbidden_commands(latex)
    if refused:
        raise CannotEdit("the LaTeX is refused before compiling: " + "; ".join(refused))
    new_run = api.reexecute_steps(
        task.run_id,
        FROM_COMPILE,
        {"ops": {"compile_pdf": {"config": {"latex_override": latex, "latex_override_from": origin}}}},
    )
    digest = hashlib.sha256(latex.encode("utf-8")).hexdigest()[:12]
    ledger.record_note(
        task_id,
        f"LaTeX edited by {who} ({latex.count(chr(10)) + 1} lines, sha256 {digest}); compiling again as run {new_run}",
        new_run,
    )
    return Edit(task_id, task.run_id, new_run)


def ai_fix(ledger: Ledger, api, llm, task_id: int, instruction: str) -> Edit:
    """The model fixes the waiting sheet's LaTeX: the instruction, the errors and the LaTeX now go into the
    task's conversation (stored, turn by turn; a second ai-fix with the same instruction reuses the stored
    answer), and its answer is compiled as `orbit worksheet edit` compiles a person's."""
    from orbit_pipelines.jobs.worksheet_generation.conversation import (
        LATEX,
        AnswerRejected,
        LatexRefused,
        converse,
        instruction_turn,
        latex_opening,
        parse_latex,
    )
    from orbit_pipelines.jobs.worksheet_generation.llm_ops import not_configured
    from orbit_pipelines.jobs.worksheet_generation.models import WorksheetDesign
    from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
    from orbit_pipelines.llm import LLMError
    from orbit_pipelines.llm.budget import BudgetExceeded
    from orbit_pipelines.llm.store import append_turns, load_conversation

    if not instruction.strip():
        raise CannotEdit("--instruction: say what the model should change")
    task = _waiting_worksheet(ledger, task_id)
    row = load_worksheet(ledger.engine, task_id)
    if row is None:
        raise CannotEdit(f"task {task_id} has no LaTeX to fix yet")
    missing = not_configured(llm)
    if missing:
        raise CannotEdit(missing)
    sheet = WorksheetDesign.model_validate(row["design"])
    chat = llm.metered(ledger.engine, task_id, AI_FIX_RUN)
    ledger.record_note(task_id, f"AI fix requested: {instruction.strip()[:300]}", task.run_id)
    try:
        latex = converse(
            load_conversation(ledger.engine, task_id),
            LATEX,
            opening=lambda: latex_opening(sheet),
            parse=parse_latex,
            ask=lambda messages: chat.ask(messages, json_mode=False),
            remember=lambda turns: append_turns(ledger.engine, task_id, turns),
            run_id=AI_FIX_RUN,
            max_attempts=llm.max_attempts,
            request=instruction_turn(instruction, row["errors"], row["latex"]),
        ).value
    except (LatexRefused, AnswerRejected, BudgetExceeded, LLMError) as exc:
        raise CannotEdit(f"the model's fix is not compiled: {exc}") from None
    finally:
        chat.close()
    return edit_latex(ledger, api, task_id, latex, who="the model (orbit worksheet ai-fix)", origin="model")

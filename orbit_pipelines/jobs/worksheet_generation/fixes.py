"""A person's fix of a worksheet that does not compile: the edited LaTeX is checked, recorded in the
task's history, and compiled by a re-execution of the task's run from `compile_pdf` (the design and
the rendered LaTeX are reused; nothing before that step runs again)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from orbit_pipelines.jobs.worksheet_generation.latex import forbidden_commands
from orbit_pipelines.jobs.worksheet_generation.models import KIND
from orbit_pipelines.ledger import Ledger, TaskStatus

FROM_COMPILE = ["compile_pdf", "store_worksheet"]
MAX_LATEX_BYTES = 1024 * 1024


class CannotEdit(ValueError):
    pass


@dataclass(frozen=True)
class Edit:
    task_id: int
    parent_run: str
    new_run: str


def edit_latex(ledger: Ledger, api, task_id: int, latex: str, who: str = "a person") -> Edit:
    task = ledger.get(task_id)
    if task.kind != KIND:
        raise CannotEdit(f"task {task_id} is a {task.kind} task, not a worksheet")
    if task.status != TaskStatus.WAITING_MANUAL:
        raise CannotEdit(
            f"task {task_id} is {task.status.value}: only a worksheet waiting for a fix (WAITING_MANUAL) takes an edit"
        )
    if not task.run_id:
        raise CannotEdit(f"task {task_id} has no run to continue")
    if len(latex.encode("utf-8")) > MAX_LATEX_BYTES:
        raise CannotEdit(f"the LaTeX is larger than {MAX_LATEX_BYTES // 1024} KB")
    refused = forbidden_commands(latex)
    if refused:
        raise CannotEdit("the LaTeX is refused before compiling: " + "; ".join(refused))
    new_run = api.reexecute_steps(
        task.run_id, FROM_COMPILE, {"ops": {"compile_pdf": {"config": {"latex_override": latex}}}}
    )
    digest = hashlib.sha256(latex.encode("utf-8")).hexdigest()[:12]
    ledger.record_note(
        task_id,
        f"LaTeX edited by {who} ({latex.count(chr(10)) + 1} lines, sha256 {digest}); compiling again as run {new_run}",
        new_run,
    )
    return Edit(task_id, task.run_id, new_run)

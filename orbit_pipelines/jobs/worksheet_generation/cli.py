"""`orbit worksheet`: see the LaTeX of a worksheet that does not compile, and give it a fixed one."""

from __future__ import annotations

import click

from orbit_pipelines.cli.common import environment, ledger, reported


@click.group("worksheet")
def worksheet() -> None:
    """Worksheets: fix one that does not compile, by hand or by the model."""


@worksheet.command("latex")
@click.argument("task_id", type=int)
def show_latex(task_id: int) -> None:
    """Print the task's last LaTeX source (to edit and give back with `orbit worksheet edit`)."""
    from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
    from orbit_pipelines.ledger import TaskNotFound

    with environment() as env, reported(TaskNotFound):
        row = load_worksheet(ledger(env).engine, task_id)
    if row is None:
        raise click.ClickException(f"task {task_id} has no worksheet yet")
    click.echo(row["latex"], nl=False)


@worksheet.command("edit")
@click.argument("task_id", type=int)
@click.option("--latex", "latex_file", type=click.File("r", encoding="utf-8"), required=True, help="The fixed LaTeX.")
def edit(task_id: int, latex_file) -> None:
    """Compile a person's fix of a waiting worksheet: its run continues from compile_pdf only."""
    from orbit_pipelines.jobs.worksheet_generation.fixes import CannotEdit, edit_latex
    from orbit_pipelines.ledger import TaskNotFound
    from orbit_pipelines.operations import DagsterApi, OperationError

    latex = latex_file.read()
    with environment() as env, reported(TaskNotFound, CannotEdit, OperationError):
        done = edit_latex(ledger(env), DagsterApi(), task_id, latex)
    click.echo(
        f"task {done.task_id}: compiling the edited LaTeX as run {done.new_run} "
        f"(re-execution of {done.parent_run} from compile_pdf); `orbit task show {done.task_id}` follows it"
    )


@worksheet.command("ai-fix")
@click.argument("task_id", type=int)
@click.option("--instruction", required=True, help="What the model should change, in words.")
def ai_fix_command(task_id: int, instruction: str) -> None:
    """Have the model fix a waiting worksheet's LaTeX (ORBIT_LLM_BASE_URL / ORBIT_LLM_MODEL): its answer is
    compiled by a re-execution from compile_pdf, as `orbit worksheet edit` does with a person's."""
    from orbit_pipelines.jobs.worksheet_generation.fixes import CannotEdit, ai_fix
    from orbit_pipelines.ledger import TaskNotFound
    from orbit_pipelines.operations import DagsterApi, OperationError
    from orbit_pipelines.resources.llm import llm_from_environment

    with environment() as env, reported(TaskNotFound, CannotEdit, OperationError):
        done = ai_fix(ledger(env), DagsterApi(), llm_from_environment(outside_dagster=True), task_id, instruction)
    click.echo(
        f"task {done.task_id}: compiling the model's fix as run {done.new_run} "
        f"(re-execution of {done.parent_run} from compile_pdf); `orbit task show {done.task_id}` follows it"
    )

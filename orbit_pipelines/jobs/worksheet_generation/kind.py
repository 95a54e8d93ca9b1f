"""How the ledger's `worksheet` tasks become worksheet_generation runs: found by the registry."""

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.worksheet_generation.models import KIND as _KIND
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetPayload


def _cli():
    from orbit_pipelines.jobs.worksheet_generation.cli import worksheet

    return worksheet


def _report_markdown(ledger, task):
    from orbit_pipelines.jobs.worksheet_generation.report import worksheet_markdown

    return worksheet_markdown(ledger, task)


def _report_json(ledger, task):
    from orbit_pipelines.jobs.worksheet_generation.report import worksheet_json

    return worksheet_json(ledger, task)


def _resources() -> dict:
    from orbit_pipelines.resources.llm import llm_from_environment

    return {"llm": llm_from_environment()}


KIND = JobKind(
    kind=_KIND,
    job_name="worksheet_generation",
    payload_model=WorksheetPayload,
    run_config=lambda tasks: {"ops": {"load_worksheet_task": {"config": {"task_id": tasks[0].id}}}},
    cli=_cli,
    report_markdown=_report_markdown,
    report_json=_report_json,
    resources=_resources,
    phases={
        "load_worksheet_task": "LOADING",
        "design": "DESIGNING",
        "render_latex_source": "RENDERING",
        "compile_pdf": "COMPILING",
        "store_worksheet": "STORING",
    },
)

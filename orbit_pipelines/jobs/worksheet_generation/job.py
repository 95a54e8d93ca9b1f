from orbit_pipelines.jobs.worksheet_generation.models import KIND
from orbit_pipelines.jobs.worksheet_generation.ops import (
    LAUNCHPAD_SAMPLE,
    compile_pdf,
    design,
    load_worksheet_task,
    render_latex_source,
    store_worksheet,
)
from orbit_pipelines.runtime.jobs import task_job


@task_job(
    KIND,
    "A worksheet from a request in words: design, LaTeX, a compiled PDF in S3 "
    "(the model or a person fixes what does not compile).",
    default_config={"ops": {"load_worksheet_task": {"config": LAUNCHPAD_SAMPLE}}},
)
def worksheet_generation():
    task_id, payload, method = load_worksheet_task()
    sheet = design(task_id, payload, method)
    latex = render_latex_source(task_id, sheet, method)
    compiled = compile_pdf(task_id, sheet, latex, method)
    store_worksheet(task_id, sheet, compiled)

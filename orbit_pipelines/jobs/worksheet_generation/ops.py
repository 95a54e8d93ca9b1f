"""Ops of worksheet_generation: thin wrappers over design.py, latex.py, compile.py, store.py and S3.

`compile_pdf` is where a person can step in: LaTeX that does not compile parks the task in
WAITING_MANUAL (not failed, not a dead letter) with the errors and the source kept, and fails the step
so that a re-execution from `compile_pdf` with `latex_override` (what `orbit worksheet edit` launches,
or the Launchpad) continues from there, reusing the design and the rendered LaTeX.
"""

import hashlib
from typing import Optional

from botocore.exceptions import ClientError
from dagster import Config, Failure, MetadataValue, OpExecutionContext, Out, Output, op
from pydantic import BaseModel, Field

from orbit_pipelines.jobs.worksheet_generation.compile import EngineMissing, compile_latex
from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
from orbit_pipelines.jobs.worksheet_generation.latex import UntypesettableText, forbidden_commands, render_latex
from orbit_pipelines.jobs.worksheet_generation.models import KIND, WorksheetDesign, WorksheetPayload
from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet, save_failed_attempt, save_stored
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage
from orbit_pipelines.runtime.intake import PayloadError, refuse_inline, settle_refused, submit_inline, validate_payload
from orbit_pipelines.runtime.lifecycle import complete_items, load_ledger_task, resume_items
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.remediation import remediation_for
from orbit_pipelines.runtime.retry import (
    TRANSIENT_RETRY,
    is_missing_s3_object,
    permanent_failure,
    retry_on_infrastructure_errors,
)

PDF_PREFIX = "worksheets"
DOES_NOT_COMPILE = "LatexDoesNotCompile"


class InlineWorksheet(Config):
    """A request typed into the Launchpad (or sent through GraphQL): recorded as a ledger task of the run."""

    prompt: str = Field(description='The request in words, e.g. "20 fraction exercises for year 5".')
    title: Optional[str] = None
    subject: Optional[str] = None
    level: Optional[str] = None
    exercise_count: Optional[int] = None
    include_answer_key: bool = True
    language: str = "en"
    paper: str = "a4"


class LoadWorksheetConfig(Config):
    task_id: Optional[int] = Field(
        default=None, description="Ledger worksheet task (set by the dispatch sensor); empty: the request below."
    )
    request: Optional[InlineWorksheet] = Field(default=None, description="The request, when no task id is given.")


# The Launchpad's starting point (the job's default config, used whole when a launch gives none).
LAUNCHPAD_SAMPLE = {"request": {"prompt": "12 fraction exercises for year 5, with an answer key"}}


class CompileConfig(Config):
    latex_override: Optional[str] = Field(
        default=None,
        description="LaTeX to compile instead of the rendered source: a person's fix of a sheet that did not "
        "compile (`orbit worksheet edit` sets it on a re-execution from this step).",
    )


class CompiledWorksheet(BaseModel):
    latex: str
    latex_source: str
    pdf: bytes
    pages: int
    log_tail: str


@op(
    retry_policy=TRANSIENT_RETRY,
    out={"task_id": Out(int, is_required=False), "payload": Out(WorksheetPayload, is_required=False)},
)
def load_worksheet_task(context: OpExecutionContext, config: LoadWorksheetConfig, ledger: LedgerResource):
    led = ledger.get()
    task_id = config.task_id
    if task_id is None and config.request is not None:
        given = config.request.model_dump()
        try:
            validated = validate_payload(KIND, given, prefix="request.")
        except PayloadError as exc:
            refuse_inline(context, led, KIND, given, "InvalidPayload", str(exc))
            raise permanent_failure(str(exc), "InvalidPayload") from None
        task = submit_inline(context, led, KIND, validated)
        settle_refused(context, led, task)
        task_id = task.id
    loaded = load_ledger_task(context, led, task_id, WorksheetPayload, KIND)
    if loaded is None:
        return  # stored already, or being made by another run
    task, payload = loaded
    yield Output(task.id, "task_id")
    yield Output(payload, "payload")


@op(retry_policy=TRANSIENT_RETRY)
def design(context: OpExecutionContext, payload: WorksheetPayload) -> WorksheetDesign:
    try:
        sheet = design_worksheet(payload)
    except ValueError as exc:
        raise permanent_failure(str(exc), "InvalidWorksheetRequest") from None
    context.add_output_metadata(
        {
            "subject": sheet.subject,
            "exercises": len(sheet.exercises),
            "exercise_table": MetadataValue.md(_exercise_table(sheet)),
        }
    )
    return sheet


@op(retry_policy=TRANSIENT_RETRY)
def render_latex_source(context: OpExecutionContext, sheet: WorksheetDesign) -> str:
    try:
        source = render_latex(sheet)
    except UntypesettableText as exc:
        raise permanent_failure(str(exc), "UntypesettableText") from None
    context.add_output_metadata({"latex_lines": source.count("\n") + 1})
    return source


@op
def compile_pdf(
    context: OpExecutionContext,
    config: CompileConfig,
    task_id: int,
    sheet: WorksheetDesign,
    latex: str,
    ledger: LedgerResource,
) -> CompiledWorksheet:
    led = ledger.get()
    resume_items(context, led, [task_id], note="compile again")
    source, origin = (config.latex_override, "person") if config.latex_override else (latex, "template")
    refused = forbidden_commands(source)
    if refused:
        raise permanent_failure(f"latex_override: refused before compiling: {'; '.join(refused)}", "ForbiddenLatex")
    try:
        result = compile_latex(source)
    except EngineMissing as exc:
        raise permanent_failure(str(exc), "TexEngineMissing") from None
    if not result.ok:
        errors = [e.as_dict() for e in result.errors]
        with retry_on_infrastructure_errors(context):
            save_failed_attempt(
                led.engine, task_id, sheet.model_dump(mode="json"), source, origin, errors, result.log, context.run_id
            )
        first = result.errors[0]
        where = f"line {first.line}: " if first.line else ""
        led.move_along(
            task_id,
            TaskStatus.WAITING_MANUAL,
            run_id=context.run_id,
            error=(DOES_NOT_COMPILE, f"{where}{first.message}", "compile_pdf"),
            note=f"LaTeX does not compile ({where}{first.message}); waiting for "
            f"`orbit worksheet edit {task_id} --latex FILE`",
        )
        raise Failure(
            description=f"the LaTeX does not compile: {where}{first.message}; task {task_id} waits for a person "
            f"(`orbit worksheet edit {task_id} --latex FILE`, or re-execute from compile_pdf with latex_override)",
            metadata={
                "error_class": DOES_NOT_COMPILE,
                "remediation": remediation_for(DOES_NOT_COMPILE).replace("TASK_ID", str(task_id)),
                "errors": MetadataValue.json(errors),
                "snippet": MetadataValue.md(f"```\n{first.snippet}\n```"),
                "log_tail": MetadataValue.text(result.log[-3000:]),
            },
            allow_retries=False,
        )
    context.add_output_metadata({"pages": result.pages, "latex_from": origin, "pdf_bytes": len(result.pdf or b"")})
    return CompiledWorksheet(
        latex=source, latex_source=origin, pdf=result.pdf or b"", pages=result.pages, log_tail=result.log[-20_000:]
    )


@op(retry_policy=TRANSIENT_RETRY)
def store_worksheet(
    context: OpExecutionContext,
    task_id: int,
    sheet: WorksheetDesign,
    compiled: CompiledWorksheet,
    storage: DocumentStorage,
    ledger: LedgerResource,
) -> str:
    """The PDF in S3 under its content hash (one conditional PUT), the row upserted, the task completed."""
    led = ledger.get()
    sha = hashlib.sha256(compiled.pdf).hexdigest()
    key = f"{PDF_PREFIX}/{sha[:2]}/{sha}.pdf"
    s3 = storage.client()
    if storage.create_bucket:
        try:
            s3.head_bucket(Bucket=storage.bucket)
        except ClientError as exc:
            if not is_missing_s3_object(exc):
                raise  # S3's trouble, not a missing bucket: the op's retry policy tries again
            s3.create_bucket(Bucket=storage.bucket)
    try:
        s3.put_object(Bucket=storage.bucket, Key=key, Body=compiled.pdf, IfNoneMatch="*", ContentType="application/pdf")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "PreconditionFailed":
            raise  # transient ones are retried by the op's policy
    before = load_worksheet(led.engine, task_id)
    again = before is not None and before["status"] == "stored" and before["pdf_sha256"] == sha
    save_stored(
        led.engine,
        task_id,
        sheet.model_dump(mode="json"),
        compiled.latex,
        compiled.latex_source,
        compiled.log_tail,
        storage.bucket,
        key,
        sha,
        len(compiled.pdf),
        compiled.pages,
        context.run_id,
        counts_as_attempt=not again,
    )
    complete_items(context, led, [task_id], note=f"worksheet stored: {storage.uri(key)}")
    metadata = {
        "pages": compiled.pages,
        "pdf": MetadataValue.text(storage.uri(key)),
        "exercises": MetadataValue.md(_exercise_table(sheet)),
    }
    console = storage.console_url(key)
    if console:
        metadata["pdf_in_console"] = MetadataValue.url(console)
    context.add_output_metadata(metadata)
    return storage.uri(key)


def _exercise_table(sheet: WorksheetDesign) -> str:
    rows = [(i, e.question, e.answer) for i, e in enumerate(sheet.exercises, start=1)]
    return table(["#", "exercise", "answer"], rows, limit=60)

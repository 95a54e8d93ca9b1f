"""Ops of worksheet_generation: thin wrappers over design.py, latex.py, compile.py, store.py and S3.

`compile_pdf` is where a person can step in: LaTeX that does not compile (after the model's
`fix_attempts`, with the `llm` strategy) parks the task in WAITING_MANUAL (not failed, not a dead
letter) with the errors and the source kept, and fails the step so that a re-execution from
`compile_pdf` with `latex_override` (what `orbit worksheet edit` and `ai-fix` launch, or the
Launchpad) continues from there, reusing the design and the rendered LaTeX.
"""

import hashlib
import os
from enum import Enum
from typing import Optional

from botocore.exceptions import ClientError
from dagster import Config, Failure, MetadataValue, OpExecutionContext, Out, Output, op
from pydantic import BaseModel, Field

from orbit_pipelines.jobs.worksheet_generation.compile import EngineMissing, compile_latex
from orbit_pipelines.jobs.worksheet_generation.conversation import latest_latex
from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
from orbit_pipelines.jobs.worksheet_generation.latex import UntypesettableText, forbidden_commands, render_latex
from orbit_pipelines.jobs.worksheet_generation.llm_ops import (
    FORBIDDEN_LATEX,
    design_with_model,
    fix_with_model,
    latex_with_model,
)
from orbit_pipelines.jobs.worksheet_generation.models import KIND, WorksheetDesign, WorksheetPayload
from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet, save_failed_attempt, save_stored
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.llm.store import load_conversation
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage
from orbit_pipelines.resources.llm import LLMResource
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
from orbit_pipelines.runtime.step_budget import STEP_BUDGET_TAG

PDF_PREFIX = "worksheets"
DOES_NOT_COMPILE = "LatexDoesNotCompile"
DEFAULT_FIX_ATTEMPTS = 2


class Strategy(str, Enum):
    deterministic = "deterministic"
    llm = "llm"


def default_strategy() -> Strategy:
    """ORBIT_WORKSHEET_STRATEGY, read when the code location loads, so the Launchpad shows it as the default."""
    value = os.environ.get("ORBIT_WORKSHEET_STRATEGY", "").strip() or Strategy.deterministic.value
    try:
        return Strategy(value)
    except ValueError:
        raise ValueError(
            f"ORBIT_WORKSHEET_STRATEGY must be one of {', '.join(s.value for s in Strategy)}, got {value!r}"
        ) from None


class Method(BaseModel):
    """How this run makes its sheet: an output of the first step, so a re-execution keeps its run's choice."""

    strategy: Strategy
    fix_attempts: int


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
    strategy: Strategy = Field(
        default=default_strategy(),
        description="deterministic: offline rules (same request, same sheet). llm: the model configured by "
        "ORBIT_LLM_BASE_URL / ORBIT_LLM_MODEL designs the sheet and writes its LaTeX, in the task's stored "
        "conversation.",
    )
    fix_attempts: int = Field(
        default=DEFAULT_FIX_ATTEMPTS,
        ge=0,
        le=10,
        description="llm: how many times the model is given the compile errors to correct its LaTeX before "
        "the task waits for a person (WAITING_MANUAL).",
    )


# The Launchpad's starting point (the job's default config, used whole when a launch gives none).
LAUNCHPAD_SAMPLE = {"request": {"prompt": "12 fraction exercises for year 5, with an answer key"}}


class CompileConfig(Config):
    latex_override: Optional[str] = Field(
        default=None,
        description="LaTeX to compile instead of the rendered source: a person's fix of a sheet that did not "
        "compile (`orbit worksheet edit` sets it on a re-execution from this step).",
    )
    latex_override_from: str = Field(
        default="person",
        description="Who wrote latex_override: person, or model (`orbit worksheet ai-fix`).",
    )


class CompiledWorksheet(BaseModel):
    latex: str
    latex_source: str
    pdf: bytes
    pages: int
    log_tail: str


@op(
    retry_policy=TRANSIENT_RETRY,
    out={
        "task_id": Out(int, is_required=False),
        "payload": Out(WorksheetPayload, is_required=False),
        "method": Out(Method, is_required=False),
    },
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
    yield Output(Method(strategy=config.strategy, fix_attempts=config.fix_attempts), "method")


# No RetryPolicy on the steps that may ask the model (a call may take minutes, and Dagster turns a cancel
# that interrupts an op with a RetryPolicy into a retry): database blips and the model's retryable
# answers are retried explicitly instead.
@op(tags={STEP_BUDGET_TAG: "900"})
def design(
    context: OpExecutionContext,
    task_id: int,
    payload: WorksheetPayload,
    method: Method,
    ledger: LedgerResource,
    llm: LLMResource,
) -> WorksheetDesign:
    figures: dict = {}
    with retry_on_infrastructure_errors(context):
        if method.strategy == Strategy.llm:
            sheet, figures = design_with_model(context, task_id, payload, ledger.get(), llm)
        else:
            try:
                sheet = design_worksheet(payload)
            except ValueError as exc:
                raise permanent_failure(str(exc), "InvalidWorksheetRequest") from None
    context.add_output_metadata(
        {
            "strategy": method.strategy.value,
            "subject": sheet.subject,
            "exercises": len(sheet.exercises),
            "exercise_table": MetadataValue.md(_exercise_table(sheet)),
            **figures,
        }
    )
    return sheet


@op
def render_latex_source(
    context: OpExecutionContext,
    task_id: int,
    sheet: WorksheetDesign,
    method: Method,
    ledger: LedgerResource,
    llm: LLMResource,
) -> str:
    figures: dict = {}
    if method.strategy == Strategy.llm:
        with retry_on_infrastructure_errors(context):
            source, figures = latex_with_model(context, task_id, sheet, ledger.get(), llm)
    else:
        try:
            source = render_latex(sheet)
        except UntypesettableText as exc:
            raise permanent_failure(str(exc), "UntypesettableText") from None
    context.add_output_metadata({"latex_lines": source.count("\n") + 1, **figures})
    return source


def _source(config: CompileConfig, method: Method, latex: str, task_id: int, led) -> tuple[str, str]:
    """What to compile and who wrote it: an override, else the model's newest document (a re-execution
    after fixes compiles the last fix, not the first answer again), else the template's."""
    if config.latex_override:
        if config.latex_override_from not in ("person", "model"):
            raise permanent_failure(
                f"latex_override_from: {config.latex_override_from!r} is not person or model", "InvalidInput"
            )
        return config.latex_override, config.latex_override_from
    if method.strategy == Strategy.llm:
        return latest_latex(load_conversation(led.engine, task_id)) or latex, "model"
    return latex, "template"


def _fixes_used(led, task_id: int, run_id: str) -> int:
    """The fixes this run was answered already (a retry after a 429 keeps its count; a request still
    waiting for its answer is not one)."""
    turns = [t for t in load_conversation(led.engine, task_id) if t.get("phase") == "latex"]
    return sum(
        1
        for asked, answered in zip(turns, turns[1:], strict=False)
        if asked["kind"] == "compile_errors" and asked.get("run_id") == run_id and answered["kind"] == "answer"
    )


@op(tags={STEP_BUDGET_TAG: "300"})
def compile_pdf(
    context: OpExecutionContext,
    config: CompileConfig,
    task_id: int,
    sheet: WorksheetDesign,
    latex: str,
    method: Method,
    ledger: LedgerResource,
    llm: LLMResource,
) -> CompiledWorksheet:
    led = ledger.get()
    resume_items(context, led, [task_id], note="compile again")
    with retry_on_infrastructure_errors(context):
        source, origin = _source(config, method, latex, task_id, led)
        # The model corrects its own documents, not a person's override (nor its answer to `ai-fix`).
        may_fix = method.strategy == Strategy.llm and not config.latex_override
        fixes = _fixes_used(led, task_id, context.run_id) if may_fix else 0
    while True:
        refused = forbidden_commands(source)
        if refused:
            where = "latex_override" if config.latex_override else f"the LaTeX ({origin})"
            raise permanent_failure(f"{where}: refused before compiling: {'; '.join(refused)}", FORBIDDEN_LATEX)
        try:
            result = compile_latex(source)
        except EngineMissing as exc:
            raise permanent_failure(str(exc), "TexEngineMissing") from None
        if result.ok:
            break
        errors = [e.as_dict() for e in result.errors]
        with retry_on_infrastructure_errors(context):
            save_failed_attempt(
                led.engine, task_id, sheet.model_dump(mode="json"), source, origin, errors, result.log, context.run_id
            )
        if not may_fix or fixes >= method.fix_attempts:
            _wait_for_a_person(context, led, task_id, result, errors, fixes)
        fixes += 1
        context.log.info(
            f"the LaTeX does not compile; the model is given the errors (fix {fixes} of {method.fix_attempts})"
        )
        with retry_on_infrastructure_errors(context):
            source = fix_with_model(context, task_id, sheet, errors, result.log, led, llm)
    context.add_output_metadata(
        {"pages": result.pages, "latex_from": origin, "pdf_bytes": len(result.pdf or b""), "model_fixes": fixes}
    )
    return CompiledWorksheet(
        latex=source, latex_source=origin, pdf=result.pdf or b"", pages=result.pages, log_tail=result.log[-20_000:]
    )


def _wait_for_a_person(context: OpExecutionContext, led, task_id: int, result, errors: list[dict], fixes: int):
    first = result.errors[0]
    where = f"line {first.line}: " if first.line else ""
    after = f" after {fixes} fix{'es' if fixes != 1 else ''} by the model" if fixes else ""
    led.move_along(
        task_id,
        TaskStatus.WAITING_MANUAL,
        run_id=context.run_id,
        error=(DOES_NOT_COMPILE, f"{where}{first.message}", "compile_pdf"),
        note=f"LaTeX does not compile ({where}{first.message}){after}; waiting for "
        f"`orbit worksheet edit {task_id} --latex FILE` or `orbit worksheet ai-fix {task_id} --instruction TEXT`",
    )
    raise Failure(
        description=f"the LaTeX does not compile: {where}{first.message}{after}; task {task_id} waits for a person "
        f"(`orbit worksheet edit {task_id} --latex FILE`, `orbit worksheet ai-fix {task_id} --instruction TEXT`, "
        "or re-execute from compile_pdf with latex_override)",
        metadata={
            "error_class": DOES_NOT_COMPILE,
            "remediation": remediation_for(DOES_NOT_COMPILE).replace("TASK_ID", str(task_id)),
            "errors": MetadataValue.json(errors),
            "snippet": MetadataValue.md(f"```\n{first.snippet}\n```"),
            "log_tail": MetadataValue.text(result.log[-3000:]),
            "model_fixes": fixes,
        },
        allow_retries=False,
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

"""Ops of document_processing. Each op works on the whole batch with a bounded thread pool,
records per-document failures instead of failing the batch, and can run again safely: objects
are content-addressed, Veryfi answers are stored before use, rows are upserts."""

from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field, ValidationError

from orbit_pipelines.jobs.document_processing.extraction import upload_and_extract_all
from orbit_pipelines.jobs.document_processing.files import MAX_BYTES, BadDocument, inspect_file
from orbit_pipelines.jobs.document_processing.kind import document_tags
from orbit_pipelines.jobs.document_processing.models import KIND, DocumentItem, DocumentPayload
from orbit_pipelines.jobs.document_processing.store import load_veryfi_responses
from orbit_pipelines.jobs.document_processing.storing import store_answers
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage, VeryfiResource
from orbit_pipelines.runtime.intake import describe_validation_error, refuse_inline, settle_refused, submit_inline
from orbit_pipelines.runtime.items import Item
from orbit_pipelines.runtime.lifecycle import (
    checked_tasks,
    fail_if_none_left,
    record_failures,
    resume_items,
    start_items,
)
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.remediation import remediation_for
from orbit_pipelines.runtime.retry import (
    TRANSIENT_RETRY,
    permanent_failure,
    retry_on_infrastructure_errors,
)
from orbit_pipelines.runtime.tags import IDEMPOTENCY_KEY_TAG


class LoadDocumentsConfig(Config):
    task_ids: list[int] = Field(default=[], description="Ledger tasks to process (set by the dispatch sensor).")
    paths: list[str] = Field(
        default=[],
        description="Or: absolute file paths or s3://bucket/key URIs to process (Launchpad/GraphQL). "
        "Each becomes a ledger task.",
    )


def _fetch_s3_source(uri: str, storage: DocumentStorage) -> str:
    """Stream an s3:// document to the run worker's disk; the rest of the run treats it as a file."""
    from orbit_pipelines.settings import orbit_home

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise BadDocument(f"{uri}: not an s3://bucket/key URI")
    downloads = (orbit_home() / "downloads").resolve()
    target = (downloads / bucket / key).resolve()
    if not target.is_relative_to(downloads / bucket) or "/../" in f"/{key}/":
        raise BadDocument(f"{uri}: the key must not contain '..'")
    client = storage.client()
    try:
        size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > MAX_BYTES:
            raise BadDocument(
                f"{uri}: {size} bytes exceeds Veryfi's limit of {MAX_BYTES} bytes (20 MB); not downloaded"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
    except ClientError as exc:
        raise BadDocument(f"{uri}: could not be downloaded ({exc})") from None
    return str(target)


def _submit_paths(context: OpExecutionContext, ledger: Ledger, paths: list[str], storage: DocumentStorage) -> list[int]:
    """Files (or s3:// objects) named in the Launchpad or a GraphQL launch: one task each, keyed by content
    (and the run's idempotency key, if it has one), QUEUED under this run. A path that cannot be processed
    becomes a FAILED task of its own (a dead letter naming the file) and the others go on."""
    if not paths:
        message = "paths: nothing to process: give task_ids, or paths of files or s3:// objects"
        refuse_inline(context, ledger, KIND, {"paths": []}, "EmptyBatch", message)
        raise permanent_failure(message, "EmptyBatch")
    ids, refused = [], []
    for given in dict.fromkeys(paths):
        try:
            path = _fetch_s3_source(given, storage) if given.startswith("s3://") else given
            facts = inspect_file(path)
        except BadDocument as exc:
            refused.append(refuse_inline(context, ledger, KIND, {"path": given}, "BadDocument", str(exc), what=given))
            continue
        payload = DocumentPayload(
            path=str(Path(path).resolve()), source_name=facts.name, sha256=facts.sha256, size_bytes=facts.size_bytes
        )
        key = context.run.tags.get(IDEMPOTENCY_KEY_TAG, "") + facts.sha256
        known = ledger.find_by_key(key)
        if known is not None and known.payload.get("path") != payload.path:
            # The same content under another name: one task per content, so it is that task (done or not).
            context.log.info(f"{given}: same content as {known.payload.get('source_name')} (task {known.id})")
            task = known
        else:
            task = submit_inline(context, ledger, KIND, payload, idempotency_key=key)
        settle_refused(context, ledger, task, what=given)
        ids.append(task.id)
    if not ids:
        first = refused[0].error_message or "refused"
        message = first if len(refused) == 1 else f"all {len(refused)} paths refused; the first: {first}"
        raise permanent_failure(message, "BadDocument", task_ids=[t.id for t in refused][:100])
    return ids


@op(retry_policy=TRANSIENT_RETRY)
def load_documents(
    context: OpExecutionContext, config: LoadDocumentsConfig, ledger: LedgerResource, storage: DocumentStorage
) -> list[DocumentItem]:
    """Read the batch's tasks and mark them RUNNING under this run."""
    led = ledger.get()
    task_ids = list(config.task_ids) or _submit_paths(context, led, config.paths, storage)
    tasks = checked_tasks(led, task_ids, KIND)
    started = start_items(context, led, tasks, extra_tags=document_tags)
    items, invalid = [], []
    for task in started:
        try:
            payload = DocumentPayload.model_validate(task.payload)
        except ValidationError as exc:
            invalid.append(
                Item(task_id=task.id).failed(
                    "InvalidPayload",
                    f"task {task.id}: invalid {KIND} payload: {describe_validation_error(exc)}",
                    "load_documents",
                )
            )
            continue
        items.append(
            DocumentItem(
                task_id=task.id,
                path=payload.path,
                source_name=payload.source_name,
                document_key=payload.sha256,
                size_bytes=payload.size_bytes,
            )
        )
    record_failures(context, led, invalid, "load_documents")
    fail_if_none_left([*items, *invalid], "load_documents")
    skipped = len(tasks) - len(started)
    context.add_output_metadata(
        {
            "documents": len(items),
            "skipped": skipped,
            "bytes": sum(i.size_bytes for i in items),
            "files": MetadataValue.md(
                table(
                    ["task", "file", "bytes", "document key"],
                    [(i.task_id, i.source_name, i.size_bytes, i.document_key) for i in items],
                    limit=50,
                    right=["bytes"],
                )
            ),
        }
    )
    return items


# One step, not an upload step and then an extraction step: each worker uploads a document and then
# sends it to Veryfi, so uploads overlap the other documents' Veryfi calls. Two steps in sequence
# would add the whole upload time (seconds per thousand documents) to every batch.
@op(pool="veryfi")
def upload_and_extract(
    context: OpExecutionContext,
    items: list[DocumentItem],
    storage: DocumentStorage,
    veryfi: VeryfiResource,
    ledger: LedgerResource,
) -> list[DocumentItem]:
    """Each document: checked, put in S3 under its content hash unless already there, then sent to
    Veryfi once (its answer is stored before anything else); ORBIT_VERYFI_CONCURRENCY at a time."""
    with retry_on_infrastructure_errors(context):
        return upload_and_extract_all(context, items, storage, veryfi, ledger)


@op(retry_policy=TRANSIENT_RETRY)
def store_documents(
    context: OpExecutionContext, items: list[DocumentItem], ledger: LedgerResource
) -> list[DocumentItem]:
    """Upsert one row per document from its stored Veryfi answer and complete its task: what
    upload_and_extract's storer has not done already (a re-execution, an answer an earlier run stored)."""
    led = ledger.get()
    left = [i for i in items if i.ok and not i.stored]
    resume_items(context, led, [i.task_id for i in left])
    # Every document still in play has its answer stored by now (upload_and_extract fails the others).
    answers = load_veryfi_responses(led.engine, [i.document_key for i in left])
    done = store_answers(context, led, left, answers)
    by_task = {i.task_id: i for i in done.items}
    out = [by_task.get(i.task_id, i) for i in items]
    fail_if_none_left(out, "store_documents")
    context.add_output_metadata(
        {
            "stored": sum(1 for i in out if i.stored),
            "stored_by_this_step": done.stored,
            "stored_with_warnings": len(done.warned),
            "warnings": MetadataValue.md(
                table(
                    ["task", "file", "field stored as null"],
                    [(i.task_id, i.source_name, w) for i, ws in done.warned for w in ws],
                    limit=50,
                )
                if done.warned
                else "none"
            ),
        }
    )
    return out


@op
def summarize(
    context: OpExecutionContext, items: list[DocumentItem], ledger: LedgerResource, storage: DocumentStorage
) -> dict:
    """What happened to the batch: counts, totals per currency, failures with reasons."""
    from orbit_pipelines.jobs.document_processing.store import documents_for_tasks, save_run_summary

    led = ledger.get()
    stored = documents_for_tasks(led.engine, [i.task_id for i in items if i.stored])
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in stored:
        if row["total"] is not None:
            totals[row["currency"] or "unknown"] += row["total"]
    failures = [i for i in items if not i.ok]
    by_class = Counter(i.failed_with.error_class for i in failures)
    summary: dict[str, Any] = {
        "documents": len(items),
        "stored": len(stored),
        "failed": len(failures),
        "totals": {c: str(v) for c, v in sorted(totals.items())},
        "failures": [
            {
                "task_id": i.task_id,
                "file": i.source_name,
                "step": i.failed_with.step,
                "error_class": i.failed_with.error_class,
                "message": i.failed_with.message,
            }
            for i in failures
        ],
    }
    documents = table(
        ["task", "file", "vendor", "date", "subtotal", "tax", "total", "currency", "object"],
        [
            (
                row["task_id"],
                row["source_name"],
                row["vendor_name"],
                row["document_date"].date().isoformat() if row["document_date"] else "",
                row["subtotal"],
                row["tax"],
                row["total"],
                row["currency"],
                storage.link_markdown(row["s3_key"], row["s3_bucket"]),
            )
            for row in stored
        ],
        right=["subtotal", "tax", "total"],
    )
    failure_table = table(
        ["task", "file", "step", "error", "message", "what to do"],
        [
            (
                f["task_id"],
                f["file"],
                f["step"],
                f["error_class"],
                f["message"][:300],
                remediation_for(f["error_class"]),
            )
            for f in summary["failures"]
        ],
    )
    save_run_summary(led.engine, context.run_id, summary)
    context.add_output_metadata(
        {
            "stored": len(stored),
            "failed": len(failures),
            "totals_per_currency": MetadataValue.json(summary["totals"]),
            "failures_by_class": MetadataValue.json(dict(by_class)),
            "documents": MetadataValue.md(documents),
            "failures": MetadataValue.md(failure_table if failures else "none"),
        }
    )
    return summary

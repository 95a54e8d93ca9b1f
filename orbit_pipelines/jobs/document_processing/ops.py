"""Ops of document_processing. Each op works on the whole batch with a bounded thread pool,
records per-document failures instead of failing the batch, and can run again safely: objects
are content-addressed, Veryfi answers are stored before use, rows are upserts."""

import threading
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError
from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from orbit_pipelines.jobs.document_processing.files import MAX_BYTES, BadDocument, inspect_file, object_key
from orbit_pipelines.jobs.document_processing.kind import document_tags
from orbit_pipelines.jobs.document_processing.models import KIND, DocumentItem, DocumentPayload
from orbit_pipelines.jobs.document_processing.store import (
    document_row,
    load_veryfi_responses,
    save_veryfi_response,
    upsert_documents,
)
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.observability.veryfi_calls import VeryfiCallLog
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage, VeryfiResource
from orbit_pipelines.runtime.intake import describe_validation_error, submit_inline
from orbit_pipelines.runtime.lifecycle import (
    checked_tasks,
    complete_items,
    record_failures,
    resume_items,
    start_items,
)
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.remediation import remediation_for
from orbit_pipelines.runtime.retry import (
    TRANSIENT_RETRY,
    backoff_seconds,
    is_missing_s3_object,
    is_transient_s3_error,
    permanent_failure,
    retry_on_infrastructure_errors,
    retry_requested,
)
from orbit_pipelines.runtime.tags import IDEMPOTENCY_KEY_TAG
from orbit_pipelines.veryfi import VeryfiError, VeryfiReadTimeout, VeryfiResponseError, parse_document

# Transient per-document errors make the op ask for a retry of the documents still undone.
DOCUMENT_RETRIES = 4


class LoadDocumentsConfig(Config):
    task_ids: list[int] = Field(default=[], description="Ledger tasks to process (set by the dispatch sensor).")
    paths: list[str] = Field(
        default=[],
        description="Or: absolute file paths or s3://bucket/key URIs to process (Launchpad/GraphQL). "
        "Each becomes a ledger task.",
    )


def _file_label(item: DocumentItem) -> str:
    return f" ({item.source_name})"


def _pool(items: list, fn: Callable, workers: int) -> list:
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


def _fetch_s3_source(uri: str, storage: DocumentStorage) -> str:
    """Stream an s3:// document to the run worker's disk; the rest of the run treats it as a file."""
    from orbit_pipelines.settings import orbit_home

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise permanent_failure(f"{uri}: not an s3://bucket/key URI", "BadDocument", path=uri)
    downloads = (orbit_home() / "downloads").resolve()
    target = (downloads / bucket / key).resolve()
    if not target.is_relative_to(downloads / bucket) or "/../" in f"/{key}/":
        raise permanent_failure(f"{uri}: the key must not contain '..'", "BadDocument", path=uri)
    client = storage.client()
    try:
        size = client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        if size > MAX_BYTES:
            raise permanent_failure(
                f"{uri}: {size} bytes exceeds Veryfi's limit of {MAX_BYTES} bytes (20 MB); not downloaded",
                "BadDocument",
                path=uri,
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
    except ClientError as exc:
        raise permanent_failure(f"{uri}: could not be downloaded ({exc})", "BadDocument", path=uri) from None
    return str(target)


def _submit_paths(context: OpExecutionContext, ledger: Ledger, paths: list[str], storage: DocumentStorage) -> list[int]:
    """Files (or s3:// objects) named in the Launchpad or a GraphQL launch: one task each, keyed by content
    (and the run's idempotency key, if it has one), QUEUED under this run."""
    ids = []
    for path in paths:
        if path.startswith("s3://"):
            path = _fetch_s3_source(path, storage)
        try:
            facts = inspect_file(path)
        except BadDocument as exc:
            raise permanent_failure(str(exc), "BadDocument", path=path) from None
        payload = DocumentPayload(
            path=str(Path(path).resolve()), source_name=facts.name, sha256=facts.sha256, size_bytes=facts.size_bytes
        )
        key = context.run.tags.get(IDEMPOTENCY_KEY_TAG, "") + facts.sha256
        ids.append(submit_inline(context, ledger, KIND, payload, idempotency_key=key).id)
    return ids


@op(retry_policy=TRANSIENT_RETRY)
def load_documents(
    context: OpExecutionContext, config: LoadDocumentsConfig, ledger: LedgerResource, storage: DocumentStorage
) -> list[DocumentItem]:
    """Read the batch's tasks and mark them RUNNING under this run."""
    led = ledger.get()
    task_ids = list(config.task_ids) or _submit_paths(context, led, config.paths, storage)
    if not task_ids:
        raise permanent_failure("nothing to process: give task_ids or paths", "EmptyBatch")
    tasks = checked_tasks(led, task_ids, KIND)
    started = start_items(context, led, tasks, extra_tags=document_tags)
    items, invalid = [], []
    for task in started:
        try:
            payload = DocumentPayload.model_validate(task.payload)
        except ValidationError as exc:
            invalid.append(
                DocumentItem(task_id=task.id, path="", source_name="", document_key="", size_bytes=0).failed(
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


def _retry_or_give_up(
    context: OpExecutionContext, step: str, items: list[DocumentItem], transient: dict[int, str], wait: float
) -> list[DocumentItem]:
    """Retry the op for the documents that failed transiently; after the last retry, fail just them."""
    if not transient:
        return items
    # The batch waits for the longest the server asked for, and never less than the schedule says.
    retry = retry_requested(
        context, max_retries=DOCUMENT_RETRIES, wait=max(wait, backoff_seconds(context.retry_number + 1))
    )
    if retry is not None:
        context.log.warning(
            f"{step}: {len(transient)} document(s) failed transiently; retrying them in {retry.seconds_to_wait:.1f} s"
        )
        raise retry
    return [
        item.failed(
            "TransientErrorsExhausted",
            f"gave up after {DOCUMENT_RETRIES + 1} attempts: {transient[item.task_id]}",
            step,
        )
        if item.task_id in transient
        else item
        for item in items
    ]


STEP = "upload_and_extract"


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
        return _upload_and_extract_all(context, items, storage, veryfi, ledger)


class _Uploader:
    """Puts documents in S3 under their content hash, once: a conditional PUT (If-None-Match: *) is one
    request whether the object is new or already there (412)."""

    def __init__(self, storage: DocumentStorage):
        self.storage, self.s3 = storage, storage.client()
        self.sent_bytes: list[int] = []
        if storage.create_bucket:
            try:
                self.s3.head_bucket(Bucket=storage.bucket)
            except ClientError as exc:
                if not is_missing_s3_object(exc):
                    raise  # transient ones are retried by retry_on_infrastructure_errors
                self.s3.create_bucket(Bucket=storage.bucket)

    def upload(self, item: DocumentItem, transient: dict[int, str]) -> DocumentItem:
        try:
            facts = inspect_file(item.path)
        except BadDocument as exc:
            return item.failed("BadDocument", str(exc), STEP)
        if facts.sha256 != item.document_key:
            return item.failed(
                "DocumentChanged",
                f"{item.path}: content changed since it was submitted (SHA-256 differs); submit it again",
                STEP,
            )
        key = object_key(self.storage.prefix, facts)
        try:
            with open(facts.path, "rb") as body:
                self.s3.put_object(
                    Bucket=self.storage.bucket,
                    Key=key,
                    Body=body,
                    IfNoneMatch="*",
                    ContentType=facts.content_type,
                    Metadata={"source-name": facts.name[:512]},
                )
            self.sent_bytes.append(facts.size_bytes)
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                pass  # already there: same key, same content
            elif not is_transient_s3_error(exc):
                return item.failed("S3Refused", f"{item.source_name}: S3 refused the upload: {exc}", STEP)
            else:
                transient[item.task_id] = f"S3: {exc}"
                return item
        return item.model_copy(
            update={
                "s3_bucket": self.storage.bucket,
                "s3_key": key,
                "content_type": facts.content_type,
                "uploaded": True,
            }
        )


def _upload_and_extract_all(
    context: OpExecutionContext,
    items: list[DocumentItem],
    storage: DocumentStorage,
    veryfi: VeryfiResource,
    ledger: LedgerResource,
) -> list[DocumentItem]:
    led = ledger.get()
    resume_items(context, led, [i.task_id for i in items if i.ok])
    uploader = _Uploader(storage)
    already = load_veryfi_responses(led.engine, [i.document_key for i in items if i.ok])
    local = threading.local()
    transient: dict[int, str] = {}
    waits: list[float] = [0.0]
    calls = VeryfiCallLog()
    traces: list[tuple] = []
    sent: list[int] = []
    presign = veryfi.upload_mode == "file_url"

    def client():
        if not hasattr(local, "client"):
            local.client = veryfi.client()
        return local.client

    def extract(item: DocumentItem) -> DocumentItem:
        if item.document_key in already:
            return item.model_copy(update={"veryfi_id": already[item.document_key].get("id")})
        try:
            if context.retry_number > 0 or context.run.parent_run_id:
                # A timed-out attempt, or one cut short by a crash or cancel, may still have been
                # processed (and billed): ask before sending again.
                found = calls.call("lookup", client().list_documents, external_id=item.document_key).documents
                if found:
                    result = calls.call("fetch", client().get_document, found[0].id)
                    save_veryfi_response(
                        led.engine, item.document_key, result.raw, result.document.id, result.trace_id, context.run_id
                    )
                    return item.model_copy(update={"veryfi_id": result.document.id})
            if presign:
                url = uploader.s3.generate_presigned_url(
                    "get_object",
                    ExpiresIn=storage.presign_seconds,
                    Params={"Bucket": item.s3_bucket, "Key": item.s3_key},
                )
                result = calls.call("process", client().process_url, url, external_id=item.document_key)
            else:
                result = calls.call(
                    "process", client().process_file, item.path, item.source_name, external_id=item.document_key
                )
        except VeryfiError as exc:
            if exc.retryable:
                transient[item.task_id] = str(exc)
                # A call that timed out may still be running at Veryfi: give it another read timeout
                # to finish before the retry asks for it, or the retry would pay for it again.
                settle = veryfi.read_timeout if isinstance(exc, VeryfiReadTimeout) else 0.0
                waits.append(max(exc.retry_after or 0.0, settle))
                return item
            return item.failed(type(exc).__name__, str(exc), STEP)
        save_veryfi_response(
            led.engine, item.document_key, result.raw, result.document.id, result.trace_id, context.run_id
        )
        sent.append(item.task_id)
        traces.append((item.task_id, item.source_name, result.document.id, result.trace_id or ""))
        return item.model_copy(update={"veryfi_id": result.document.id})

    def process(item: DocumentItem) -> DocumentItem:
        if item.ok and not item.uploaded:
            item = uploader.upload(item, transient)
        if item.ok and item.uploaded and item.veryfi_id is None:
            item = extract(item)
        return item

    try:
        items = _pool(items, process, veryfi.concurrency)
    finally:
        _save_calls(context, calls, led)
    items = _retry_or_give_up(context, STEP, items, transient, wait=max(waits))
    record_failures(context, led, items, STEP, label=_file_label)
    uploaded = [i for i in items if i.uploaded]
    metadata = {
        "uploaded": len(uploaded),
        "sent_to_s3": len(uploader.sent_bytes),
        "already_in_s3": len(uploaded) - len(uploader.sent_bytes),
        "bytes_sent": sum(uploader.sent_bytes),
        "bucket": storage.bucket,
        "first_object": MetadataValue.text(storage.uri(uploaded[0].object_key))
        if uploaded
        else MetadataValue.text("-"),
        "objects": MetadataValue.md(
            table(
                ["task", "file", "object"],
                [(i.task_id, i.source_name, storage.link_markdown(i.object_key)) for i in uploaded],
                limit=50,
            )
        ),
        "sent_to_veryfi": len(sent),
        "reused_stored_answers": len(already),
        "extracted": sum(1 for i in items if i.veryfi_id is not None),
        "failed": sum(1 for i in items if not i.ok),
        **{k: MetadataValue.json(v) if isinstance(v, dict) else v for k, v in calls.summary().items()},
        "veryfi_documents": MetadataValue.md(
            table(["task", "file", "Veryfi id", "trace id"], sorted(traces), limit=50)
        ),
    }
    console = storage.console_url(uploaded[0].object_key) if uploaded else None
    if console:
        metadata["first_object_in_console"] = MetadataValue.url(console)
    context.add_output_metadata(metadata)
    return items


def _save_calls(context: OpExecutionContext, calls: VeryfiCallLog, ledger: Ledger) -> None:
    """Call figures are for metrics: losing them must never fail the documents."""
    try:
        calls.save(ledger.engine, context.run_id)
    except SQLAlchemyError as exc:
        context.log.warning(f"could not record {len(calls.calls)} Veryfi call(s) for metrics: {exc}")


@op(retry_policy=TRANSIENT_RETRY)
def store_documents(
    context: OpExecutionContext, items: list[DocumentItem], ledger: LedgerResource
) -> list[DocumentItem]:
    """Upsert one row per document from its stored Veryfi answer and complete its task."""
    led = ledger.get()
    resume_items(context, led, [i.task_id for i in items if i.ok])
    ready = [i for i in items if i.ok and i.veryfi_id is not None]
    answers = load_veryfi_responses(led.engine, [i.document_key for i in ready])
    rows, out = [], []
    for item in items:
        if item.ok and item.veryfi_id is not None:
            raw = answers.get(item.document_key)
            try:
                if raw is None:
                    raise VeryfiResponseError("no stored Veryfi answer for this document")
                rows.append(document_row(item, parse_document(raw), raw, context.run_id))
                item = item.model_copy(update={"stored": True})
            except VeryfiResponseError as exc:
                item = item.failed("UnusableVeryfiAnswer", f"{item.source_name}: {exc}", "store_documents")
        out.append(item)
    refused = upsert_documents(led.engine, rows)
    out = [
        item.model_copy(update={"stored": False}).failed(
            "UnusableVeryfiAnswer",
            f"{item.source_name}: the database refused it: {refused[item.document_key]}",
            "store_documents",
        )
        if item.stored and item.document_key in refused
        else item
        for item in out
    ]
    complete_items(context, led, [i.task_id for i in out if i.stored], note="document stored")
    record_failures(context, led, out, "store_documents", label=_file_label)
    context.add_output_metadata({"stored": len(rows) - len(refused)})
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

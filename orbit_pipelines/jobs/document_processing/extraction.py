"""The work of `upload_and_extract`, document by document on a bounded pool of workers: each one checks a
document, puts it in S3 under its content hash unless it is there, then sends it to Veryfi once,
storing the answer before anything else. Transient failures retry the op for the documents still
undone; the rest of the batch goes on. A pause of the run (`orbit task pause`) stops the batch at a document
boundary (runtime/batch_pause.py): no document starts once the step has seen it, those in flight are answered
and stored, the others' tasks become PAUSED and `orbit task resume` runs this step again for them."""

import functools
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Optional

from botocore.exceptions import BotoCoreError, ClientError
from dagster import MetadataValue, OpExecutionContext
from sqlalchemy.exc import SQLAlchemyError

from orbit_pipelines.jobs.document_processing.doubts import mark_sending, sends_in_doubt, settle
from orbit_pipelines.jobs.document_processing.files import BadDocument, inspect_file, object_key
from orbit_pipelines.jobs.document_processing.models import DocumentItem
from orbit_pipelines.jobs.document_processing.store import (
    load_veryfi_responses,
    save_veryfi_response,
)
from orbit_pipelines.jobs.document_processing.storing import Storer, file_label
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.observability.veryfi_calls import VeryfiCallLog
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.resources.documents import DocumentStorage, VeryfiResource
from orbit_pipelines.runtime.batch_pause import PauseWatch, pause_left, run_pause_watch
from orbit_pipelines.runtime.lifecycle import (
    fail_if_none_left,
    record_failures,
    resume_items,
)
from orbit_pipelines.runtime.markdown import table
from orbit_pipelines.runtime.progress import BatchProgress
from orbit_pipelines.runtime.retry import (
    backoff_seconds,
    is_missing_s3_object,
    is_transient_s3_error,
    retry_requested,
)
from orbit_pipelines.veryfi import (
    VeryfiError,
    VeryfiRateLimited,
    VeryfiReadTimeout,
    VeryfiUnusableAnswer,
)

# Transient per-document errors make the op ask for a retry of the documents still undone.
DOCUMENT_RETRIES = 4
STEP = "upload_and_extract"


# S3 uploads run on a pool of their own, ahead of the Veryfi calls: a Veryfi slot never waits for an
# upload, so ORBIT_VERYFI_CONCURRENCY requests stay in flight (a slot that uploaded first spent ~30 ms
# per document outside Veryfi: 18.1 s for 1,000 documents where Veryfi needs 15.6, bench.doc_submit).
UPLOAD_WORKERS = 4


def _pipeline(items: list, first: Callable, then: Callable, workers: int) -> list:
    """`then(first(item))` for every item, in the order given: `first` on UPLOAD_WORKERS threads, `then` on
    `workers` threads, each item handed on the moment its `first` is done."""
    if len(items) <= 1:
        return [then(first(i)) for i in items]
    handed: dict[int, Future] = {}
    with (
        ThreadPoolExecutor(max_workers=min(UPLOAD_WORKERS, len(items))) as ahead,
        ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool,
    ):

        def after(done: Future) -> Any:
            return then(done.result())  # an error of `first` surfaces here, where the results are read

        def hand_on(index: int, done: Future) -> None:
            handed[index] = pool.submit(after, done)

        for index, item in enumerate(items):
            ahead.submit(first, item).add_done_callback(functools.partial(hand_on, index))
        ahead.shutdown(wait=True)  # every callback has run: `handed` is complete
        return [handed[i].result() for i in range(len(items))]


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


def _prepared(context: OpExecutionContext, led: Ledger, items: list[DocumentItem]) -> list[DocumentItem]:
    """The items, those stored and completed by an earlier attempt of this step marked so (its storer
    runs as answers arrive); the tasks of the rest RUNNING under this run. Only a task not already RUNNING
    under it is read whole: in the run that started them that is none of 10,000."""
    states, _ = led.states_of([i.task_id for i in items])
    items = [
        i.model_copy(update={"stored": True}) if states.get(i.task_id, (None,))[0] == TaskStatus.COMPLETED else i
        for i in items
    ]
    mine = (TaskStatus.RUNNING, context.run_id)
    resume_items(
        context,
        led,
        [i.task_id for i in items if i.ok and not i.stored and states.get(i.task_id, (None, None))[:2] != mine],
    )
    return items


def upload_and_extract_all(
    context: OpExecutionContext,
    items: list[DocumentItem],
    storage: DocumentStorage,
    veryfi: VeryfiResource,
    ledger: LedgerResource,
    watch: Optional[PauseWatch] = None,
) -> list[DocumentItem]:
    led = ledger.get()
    watch = watch or run_pause_watch(context, led, STEP, "Veryfi call")
    # The S3 client (boto3's import, the bucket check) is made while the ledger is read: both come before
    # the first request.
    with ThreadPoolExecutor(max_workers=1) as setup:
        uploader_made = setup.submit(_Uploader, storage)
        items = _prepared(context, led, items)
    uploader = uploader_made.result()
    already = load_veryfi_responses(led.engine, [i.document_key for i in items if i.ok and not i.stored])
    to_send = [i.document_key for i in items if i.ok and not i.stored and i.document_key not in already]
    # What an earlier attempt or run sent without learning whether Veryfi processed it; this attempt's
    # own sends are marked before they leave, so a crash leaves them in doubt too.
    in_doubt = sends_in_doubt(led.engine, to_send)
    mark_sending(led.engine, to_send, context.run_id)
    outcomes: dict[str, Optional[str]] = {}
    local = threading.local()
    transient: dict[int, str] = {}
    waits: list[float] = [0.0]
    calls = VeryfiCallLog()
    pacer = veryfi.pacer()
    traces: list[tuple] = []
    sent: list[int] = []
    presign = veryfi.upload_mode == "file_url"

    def client():
        if not hasattr(local, "client"):
            local.client = veryfi.client(pacer=pacer)
        return local.client

    def paced(operation: str, fn: Callable, *args, **kwargs):
        """A call, sent again after each 429 once the pacer's hold (Retry-After) is over, within a time
        budget rather than a count: a 429 says "slower", never "this document cannot be done"."""
        deadline = time.monotonic() + veryfi.rate_limit_wait_seconds
        while True:
            try:
                return calls.call(operation, fn, *args, **kwargs)
            except VeryfiRateLimited as exc:
                if time.monotonic() + (exc.retry_after or 0.0) > deadline:
                    raise

    def extract(item: DocumentItem) -> DocumentItem:
        key = item.document_key
        if key in already:
            item = item.model_copy(update={"veryfi_id": already[key].get("id")})
            storer.put(item, already[key])
            return item
        if watch.paused:  # no call starts once a pause is seen: the document is left for the resume
            return item
        try:
            if key in in_doubt:
                found = _processed_before(paced, client(), key)
                if found is not None:
                    result = paced("fetch", client().get_document, found)
                    save_veryfi_response(
                        led.engine, key, result.raw, result.document.id, result.trace_id, context.run_id
                    )
                    outcomes[key] = None
                    item = item.model_copy(update={"veryfi_id": result.document.id})
                    storer.put(item, result.raw)
                    return item
            if presign:
                url = uploader.s3.generate_presigned_url(
                    "get_object",
                    ExpiresIn=storage.presign_seconds,
                    Params={"Bucket": item.s3_bucket, "Key": item.s3_key},
                )
                result = paced("process", client().process_url, url, external_id=key)
            else:
                result = paced("process", client().process_file, item.path, item.source_name, external_id=key)
        except VeryfiUnusableAnswer as exc:
            # Billed, perhaps: kept as it came, never asked for again; store_documents re-reads it
            # (and `orbit dlq retry` does, without a new call) and says why it cannot be used.
            veryfi_id = exc.raw.get("id") if isinstance(exc.raw, dict) and isinstance(exc.raw.get("id"), int) else None
            save_veryfi_response(led.engine, key, exc.raw, veryfi_id, exc.trace_id, context.run_id)
            outcomes[key] = None
            sent.append(item.task_id)
            item = item.model_copy(update={"veryfi_id": veryfi_id})
            storer.put(item, exc.raw)  # it fails there, saying why the answer cannot be used
            return item
        except VeryfiError as exc:
            # Still in doubt if this attempt could not settle an earlier doubt, or made a new one.
            doubt = exc.may_have_been_processed or (key in in_doubt and exc.retryable)
            outcomes[key] = str(exc) if doubt else None
            if exc.retryable:
                transient[item.task_id] = str(exc)
                # A call that timed out may still be running at Veryfi: give it another read timeout
                # to finish before the retry asks for it, or the retry would pay for it again.
                settle_wait = veryfi.read_timeout if isinstance(exc, VeryfiReadTimeout) else 0.0
                waits.append(max(exc.retry_after or 0.0, settle_wait))
                return item
            progress.advance(1, failed=1)
            return item.failed(type(exc).__name__, str(exc), STEP)
        save_veryfi_response(led.engine, key, result.raw, result.document.id, result.trace_id, context.run_id)
        outcomes[key] = None
        sent.append(item.task_id)
        traces.append((item.task_id, item.source_name, result.document.id, result.trace_id or ""))
        item = item.model_copy(update={"veryfi_id": result.document.id})
        storer.put(item, result.raw)  # stored before anything else used it; now its row and its task
        return item

    def upload(item: DocumentItem) -> DocumentItem:
        if watch.paused or not item.ok or item.uploaded or item.stored:
            return item
        return uploader.upload(item, transient)

    def send(item: DocumentItem) -> DocumentItem:
        return extract(item) if item.ok and item.uploaded and item.veryfi_id is None and not item.stored else item

    progress = BatchProgress(context, len(items), "documents")
    storer = Storer(context, led, progress)
    try:
        with watch:
            items = _pipeline(items, upload, send, veryfi.concurrency)
    finally:
        stored = storer.close(raising=sys.exc_info()[0] is None)
        items = [stored.get(i.task_id, i) for i in items]
        # Marked but never sent (an upload that failed, say): nothing to doubt, unless an earlier doubt stands.
        never_sent: dict[str, Optional[str]] = {k: None for k in to_send if k not in in_doubt}
        _settle_doubts(context, led, never_sent | outcomes)
        _save_calls(context, calls, led)
    # Paused: what is left (not sent, or failed transiently) waits for the resume, which gives it its attempts.
    left = [i.task_id for i in items if i.ok and not i.stored] if watch.paused else []
    items = _retry_or_give_up(context, STEP, items, {} if left else transient, wait=max(waits))
    record_failures(context, led, items, STEP, label=file_label)
    progress.finish(sum(1 for i in items if i.stored or not i.ok), sum(1 for i in items if not i.ok))
    done, who = sum(1 for i in items if i.stored), watch.requested_by or ""
    paused = pause_left(context, led, STEP, left, done, len(items), who, "documents") if left else []
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
        "looked_up_in_doubt": len(in_doubt),
        "rate_limit_waves": pacer.waves,
        "failed": sum(1 for i in items if not i.ok),
        "paused": len(paused),
        **{k: MetadataValue.json(v) if isinstance(v, dict) else v for k, v in calls.summary().items()},
        "veryfi_documents": MetadataValue.md(
            table(["task", "file", "Veryfi id", "trace id"], sorted(traces), limit=50)
        ),
    }
    console = storage.console_url(uploaded[0].object_key) if uploaded else None
    if console:
        metadata["first_object_in_console"] = MetadataValue.url(console)
    context.add_output_metadata(metadata)
    fail_if_none_left(items, STEP)  # a lone document's failure is its run's: red, re-executable from here
    return items


# Pages of a lookup by external_id read at most: the same external_id on more documents than this is
# not something our own submissions make.
_LOOKUP_PAGES = 5


def _processed_before(paced: Callable, client, external_id: str) -> int | None:
    """The id of a document Veryfi already processed for this external_id, or None. Only a document whose
    external_id equals ours counts (an API that ignores the filter answers with others), page by page."""
    for page in range(1, _LOOKUP_PAGES + 1):
        found = paced("lookup", client.list_documents, page=page, external_id=external_id).documents
        mine = [d.id for d in found if d.external_id == external_id]
        if mine:
            return mine[0]
        if len(found) < 50:  # the client's page size: a short page is the last
            return None
    return None


def _settle_doubts(context: OpExecutionContext, ledger: Ledger, outcomes: dict[str, Optional[str]]) -> None:
    """Losing this write leaves documents in doubt: the next attempt asks Veryfi about them, no more."""
    try:
        settle(ledger.engine, outcomes, context.run_id)
    except SQLAlchemyError as exc:
        context.log.warning(f"could not settle {len(outcomes)} Veryfi send(s); they will be looked up: {exc}")


def _save_calls(context: OpExecutionContext, calls: VeryfiCallLog, ledger: Ledger) -> None:
    """Call figures are for metrics: losing them must never fail the documents."""
    try:
        calls.save(ledger.engine, context.run_id)
    except SQLAlchemyError as exc:
        context.log.warning(f"could not record {len(calls.calls)} Veryfi call(s) for metrics: {exc}")

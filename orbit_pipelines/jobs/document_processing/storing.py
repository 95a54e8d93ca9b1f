"""Documents stored and their tasks completed: one row per document from its stored Veryfi answer, the
task COMPLETED (its history says with how many warnings when fields had to be stored as null), or
FAILED with the reason when the answer cannot be used.

`Storer` does it while upload_and_extract is still sending the rest of the batch, in small batches on
a thread of its own, so a document is stored the moment its answer arrives and the run does not end
with a store of the whole batch (1.4 s after the last answer for 1,000 documents, bench.doc_submit);
store_documents does it for whatever is left (a re-execution, an answer stored by an earlier run)."""

import queue
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from dagster import OpExecutionContext

from orbit_pipelines.jobs.document_processing.models import DocumentItem
from orbit_pipelines.jobs.document_processing.store import document_row, storable_json, upsert_documents
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.runtime.lifecycle import complete_items, record_failures
from orbit_pipelines.runtime.progress import BatchProgress
from orbit_pipelines.veryfi import VeryfiResponseError, salvage_document

STEP = "store_documents"


def file_label(item: DocumentItem) -> str:
    """How a document is named in a log line after its task id: ` (receipt.pdf)`."""
    return f" ({item.source_name})"


@dataclass
class Stored:
    items: list[DocumentItem] = field(default_factory=list)  # in the order given, stored or failed
    warned: list[tuple[DocumentItem, list[str]]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for i in self.items if i.stored)


def store_answers(
    context: OpExecutionContext, ledger: Ledger, items: list[DocumentItem], answers: dict[str, dict]
) -> Stored:
    """Store each item from its answer (`answers`: document key -> raw Veryfi answer) and complete its
    task; an item without a usable answer fails here, by name. Items already stored or failed pass."""
    done = Stored()
    rows = []
    for item in items:
        if item.ok and not item.stored:
            raw = answers.get(item.document_key)
            try:
                if raw is None:
                    raise VeryfiResponseError("no stored Veryfi answer for this document")
                document, warnings = salvage_document(raw)
                rows.append(document_row(item, document, raw, context.run_id, warnings))
                item = item.model_copy(update={"stored": True})
                if warnings:
                    done.warned.append((item, warnings))
            except VeryfiResponseError as exc:
                item = item.failed("UnusableVeryfiAnswer", f"{item.source_name}: {exc}", STEP)
        done.items.append(item)
    for item, warnings in done.warned:
        context.log.warning(f"task {item.task_id}{file_label(item)} stored with {len(warnings)} warning(s): {warnings}")
    refused = upsert_documents(ledger.engine, rows)
    done.items = [
        item.model_copy(update={"stored": False}).failed(
            "UnusableVeryfiAnswer", f"{item.source_name}: the database refused it: {refused[item.document_key]}", STEP
        )
        if item.stored and item.document_key in refused
        else item
        for item in done.items
    ]
    new = {r["document_key"] for r in rows} - set(refused)
    stored = {i.task_id for i in done.items if i.stored and i.document_key in new}
    done.warned = [(item, w) for item, w in done.warned if item.task_id in stored]
    warned_ids = {item.task_id for item, _ in done.warned}
    if stored - warned_ids:
        complete_items(context, ledger, sorted(stored - warned_ids), note="document stored")
    by_count: dict[int, list[int]] = defaultdict(list)  # one statement per count, not per document
    for item, warnings in done.warned:
        by_count[len(warnings)].append(item.task_id)
    for count, task_ids in sorted(by_count.items()):  # completed, and the history says with what
        complete_items(context, ledger, task_ids, note=f"document stored with {count} warning(s)")
    given = {i.task_id: i for i in items}
    record_failures(
        context, ledger, [i for i in done.items if i.failure is not None and given[i.task_id].ok], STEP, file_label
    )
    return done


# The storer takes what has arrived every this often (or this many at once): few statements, and a
# document is stored within a fraction of a second of its answer.
BATCH_SECONDS = 0.2
BATCH_MAX = 200


class Storer:
    """Stores documents as their answers arrive (`put`), on one thread, in batches; `close` waits for
    the last and returns what became of each item, by task id. An error in storing is raised by `close`:
    the step fails and its retry or re-execution stores what is left (rows are upserts)."""

    def __init__(self, context: OpExecutionContext, ledger: Ledger, progress: BatchProgress | None = None):
        self.context, self.ledger, self.progress = context, ledger, progress
        self.arrived: queue.Queue = queue.Queue()
        self.results: dict[int, DocumentItem] = {}
        self.warned: list[tuple[DocumentItem, list[str]]] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="orbit-document-storer", daemon=True)
        self.thread.start()

    def put(self, item: DocumentItem, raw: dict) -> None:
        # As save_veryfi_response stored it (and store_documents would read it back): NULs cleaned away.
        self.arrived.put((item, storable_json(raw)))

    def _run(self) -> None:
        closing = False
        while not closing:
            batch = []
            try:
                batch.append(self.arrived.get(timeout=BATCH_SECONDS))
                while len(batch) < BATCH_MAX:
                    batch.append(self.arrived.get_nowait())
            except queue.Empty:
                pass
            closing = any(entry is None for entry in batch)
            batch = [entry for entry in batch if entry is not None]
            if batch and self.error is None:
                try:
                    done = store_answers(
                        self.context, self.ledger, [i for i, _ in batch], {i.document_key: raw for i, raw in batch}
                    )
                except BaseException as exc:  # raised again by close(), in the step's own thread
                    self.error = exc
                    continue
                self.results.update({i.task_id: i for i in done.items})
                self.warned += done.warned
                if self.progress is not None:
                    self.progress.advance(len(done.items), sum(1 for i in done.items if i.failure is not None))

    def close(self, raising: bool = True) -> dict[int, DocumentItem]:
        """`raising=False` while another error is on its way out of the step: that one is the step's."""
        self.arrived.put(None)
        self.thread.join()
        if self.error is not None and raising:
            raise self.error
        return self.results

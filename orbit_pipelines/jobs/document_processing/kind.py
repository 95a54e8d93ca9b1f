"""How the ledger's `document` tasks become document_processing runs (batched)."""

import os

from orbit_pipelines.jobs.document_processing.models import KIND as _KIND
from orbit_pipelines.jobs.document_processing.models import DocumentPayload
from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.ledger import Task
from orbit_pipelines.runtime.tags import DOCUMENT_KEY_TAG

# Runs of a kind share the `veryfi` pool, one extraction at a time (that keeps the instance at
# ORBIT_VERYFI_CONCURRENCY calls in flight): more, smaller runs only add run starts and waits for the
# pool (10,000 documents in runs of 1,000: 299 s = 1.92 x ideal, bench.doc_submit). Documents are
# stored and completed as their answers arrive, so a big run loses nothing a small one would keep.
DEFAULT_BATCH_SIZE = 10_000


def batch_size() -> int:
    return int(os.environ.get("ORBIT_DOCUMENT_BATCH_SIZE", DEFAULT_BATCH_SIZE))


def document_tags(tasks: list[Task]) -> dict[str, str]:
    """A lone document's run carries its key, so the Runs page finds it; a batch is found by orbit/batch
    (Dagster's tag filters match whole values, and one tag per document would bury the page)."""
    return {DOCUMENT_KEY_TAG: tasks[0].payload["sha256"]} if len(tasks) == 1 and "sha256" in tasks[0].payload else {}


def _inbox():
    from orbit_pipelines.jobs.document_processing.intake import DOCUMENT_INBOX

    return DOCUMENT_INBOX


KIND = JobKind(
    kind=_KIND,
    job_name="document_processing",
    payload_model=DocumentPayload,
    run_config=lambda tasks: {"ops": {"load_documents": {"config": {"task_ids": [t.id for t in tasks]}}}},
    batch_size=batch_size,
    run_tags=document_tags,
    inbox=_inbox,
    phases={
        "load_documents": "LOADING",
        "upload_and_extract": "EXTRACTING",
        "store_documents": "STORING",
        "summarize": "SUMMARIZING",
    },
)

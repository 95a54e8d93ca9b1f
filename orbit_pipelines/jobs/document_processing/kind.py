"""How the ledger's `document` tasks become document_processing runs (batched)."""

import os

from orbit_pipelines.jobs.document_processing.job import document_processing
from orbit_pipelines.jobs.document_processing.models import KIND as _KIND
from orbit_pipelines.jobs.document_processing.models import DocumentPayload
from orbit_pipelines.jobs.document_processing.ops import document_tags
from orbit_pipelines.jobs.registry import JobKind

DEFAULT_BATCH_SIZE = 100


def batch_size() -> int:
    return int(os.environ.get("ORBIT_DOCUMENT_BATCH_SIZE", DEFAULT_BATCH_SIZE))


KIND = JobKind(
    kind=_KIND,
    job=document_processing,
    payload_model=DocumentPayload,
    run_config=lambda tasks: {"ops": {"load_documents": {"config": {"task_ids": [t.id for t in tasks]}}}},
    batch_size=batch_size,
    run_tags=document_tags,
)

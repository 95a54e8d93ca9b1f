"""document_processing's public reads, for the rest of the project (`orbit task show/list`, the table of
`orbit doc submit --wait`, `orbit doc refused`, `orbit status`): what it extracted from each document,
and which inbox files it refused. Its tables stay its own; callers go through these."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import Engine, text

from orbit_pipelines.jobs.document_processing.intake import RefusedFile, inbox_dir, refused_files
from orbit_pipelines.ledger import Ledger

__all__ = ["RefusedFile", "documents_for_tasks", "inbox_dir", "refused_inbox_files"]


def documents_for_tasks(engine: Engine, task_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The stored extraction of each of these tasks' documents: document_key, task_id, source_name,
    s3_bucket, s3_key, size_bytes, content_type, document_type, vendor_name, document_date, currency,
    subtotal, tax, total, category, line_item_count, veryfi_id, run_id, updated_at, and warnings (the
    answer's fields that did not validate, stored as null)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT document_key, task_id, source_name, s3_bucket, s3_key, size_bytes, content_type, "
                "document_type, vendor_name, document_date, currency, subtotal, tax, total, category, "
                "jsonb_array_length(line_items) AS line_item_count, veryfi_id, run_id, updated_at, warnings "
                "FROM orbit.documents WHERE task_id = ANY(:ids) ORDER BY task_id"
            ),
            {"ids": list(task_ids)},
        )
        return [dict(r._mapping) for r in rows]


def refused_inbox_files(ledger: Ledger, inbox: Path | None = None) -> list[RefusedFile]:
    """The files in the inbox (ORBIT_INBOX_DIR by default) that it refused, until replaced or removed."""
    return refused_files(ledger, inbox or inbox_dir())

"""document_processing's tables: stored Veryfi answers and extracted documents."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import Any, Iterable

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import DataError

from orbit_pipelines.jobs.document_processing.models import DocumentItem
from orbit_pipelines.veryfi import VeryfiDocument

# NUL, and surrogates that a JSON "\ud800" escape can leave in a str without their pair.
_UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def storable_json(value: Any) -> Any:
    """JSON that Postgres can hold: NUL and lone surrogates become U+FFFD, non-finite numbers null.

    jsonb has no room for any of them, and an answer we paid for must be kept, not refused whole.
    """
    if isinstance(value, str):
        return _UNSTORABLE_CHARACTERS.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {storable_json(k) if isinstance(k, str) else k: storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(v) for v in value]
    return value


def save_veryfi_response(
    engine: Engine, document_key: str, raw: dict, veryfi_id: int | None, trace_id: str | None, run_id: str
) -> None:
    """Keep Veryfi's answer before doing anything else with it. First answer wins: it is what we paid for.

    What is stored is `storable_json(raw)`, and the rest of the run reads the stored answer."""
    stmt = text(
        """
        INSERT INTO orbit.veryfi_responses (document_key, veryfi_id, trace_id, raw, run_id)
        VALUES (:key, :veryfi_id, :trace_id, :raw, :run_id)
        ON CONFLICT (document_key) DO NOTHING
        """
    ).bindparams(bindparam("raw", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(
            stmt,
            {
                "key": document_key,
                "veryfi_id": veryfi_id,
                "trace_id": trace_id,
                "raw": storable_json(raw),
                "run_id": run_id,
            },
        )


def load_veryfi_responses(engine: Engine, document_keys: Iterable[str]) -> dict[str, dict]:
    keys = list(document_keys)
    if not keys:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT document_key, raw FROM orbit.veryfi_responses WHERE document_key = ANY(:k)"), {"k": keys}
        )
        return {key: raw for key, raw in rows}


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))


def document_row(
    item: DocumentItem, doc: VeryfiDocument, raw: dict, run_id: str, warnings: list[str] | None = None
) -> dict[str, Any]:
    return {
        "document_key": item.document_key,
        "task_id": item.task_id,
        "source_name": item.source_name,
        "s3_bucket": item.s3_bucket,
        "s3_key": item.s3_key,
        "size_bytes": item.size_bytes,
        "content_type": item.content_type,
        "veryfi_id": doc.id,
        "document_type": doc.document_type,
        "vendor_name": doc.vendor.name if doc.vendor else None,
        "document_date": doc.date,
        "currency": doc.currency_code,
        "subtotal": _money(doc.subtotal),
        "tax": _money(doc.tax),
        "total": _money(doc.total),
        "category": doc.category,
        "line_items": [li.model_dump(mode="json", exclude_none=True) for li in doc.line_items],
        "raw": raw,
        "warnings": list(warnings or []),
        "status": "extracted",
        "run_id": run_id,
    }


def upsert_documents(engine: Engine, rows: list[dict[str, Any]]) -> dict[str, str]:
    """One row per document key, however often the step runs.

    Returns {document key: reason} for rows the database refused: the batch is written in one
    statement and, if that fails on the data, row by row, so one bad row never sinks the others.
    """
    if not rows:
        return {}
    stmt = text(
        """
        INSERT INTO orbit.documents (document_key, task_id, source_name, s3_bucket, s3_key, size_bytes,
            content_type, veryfi_id, document_type, vendor_name, document_date, currency, subtotal, tax, total,
            category, line_items, raw, warnings, status, run_id)
        VALUES (:document_key, :task_id, :source_name, :s3_bucket, :s3_key, :size_bytes, :content_type,
            :veryfi_id, :document_type, :vendor_name, :document_date, :currency, :subtotal, :tax, :total,
            :category, :line_items, :raw, :warnings, :status, :run_id)
        ON CONFLICT (document_key) DO UPDATE SET
            task_id = EXCLUDED.task_id, source_name = EXCLUDED.source_name, s3_bucket = EXCLUDED.s3_bucket,
            s3_key = EXCLUDED.s3_key, size_bytes = EXCLUDED.size_bytes, content_type = EXCLUDED.content_type,
            veryfi_id = EXCLUDED.veryfi_id, document_type = EXCLUDED.document_type,
            vendor_name = EXCLUDED.vendor_name, document_date = EXCLUDED.document_date,
            currency = EXCLUDED.currency, subtotal = EXCLUDED.subtotal, tax = EXCLUDED.tax, total = EXCLUDED.total,
            category = EXCLUDED.category, line_items = EXCLUDED.line_items, raw = EXCLUDED.raw,
            warnings = EXCLUDED.warnings, status = EXCLUDED.status, run_id = EXCLUDED.run_id, updated_at = now()
        """
    ).bindparams(
        bindparam("line_items", type_=JSONB), bindparam("raw", type_=JSONB), bindparam("warnings", type_=JSONB)
    )
    try:
        with engine.begin() as conn:
            conn.execute(stmt, rows)
        return {}
    except DataError:
        pass
    refused = {}
    for row in rows:
        try:
            with engine.begin() as conn:
                conn.execute(stmt, [row])
        except DataError as exc:
            refused[row["document_key"]] = str(exc.orig).strip().splitlines()[0]
    return refused


def documents_for_tasks(engine: Engine, task_ids: Iterable[int]) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT document_key, task_id, source_name, s3_bucket, s3_key, vendor_name, document_date, "
                "currency, subtotal, tax, total, document_type, line_items, warnings FROM orbit.documents "
                "WHERE task_id = ANY(:ids) ORDER BY task_id"
            ),
            {"ids": list(task_ids)},
        )
        return [dict(r._mapping) for r in rows]


def save_run_summary(engine: Engine, run_id: str, summary: dict) -> None:
    stmt = text(
        "INSERT INTO orbit.run_summaries (run_id, kind, summary) VALUES (:run_id, 'document', :summary) "
        "ON CONFLICT (run_id) DO UPDATE SET summary = EXCLUDED.summary, created_at = now()"
    ).bindparams(bindparam("summary", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(stmt, {"run_id": run_id, "summary": summary})

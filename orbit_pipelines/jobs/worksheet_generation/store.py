"""worksheet_generation's table: the worksheet of each task, one row, whatever the attempts."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

_UPSERT = """
    INSERT INTO orbit.worksheets (task_id, status, design, latex, latex_source, errors, compile_log,
        pdf_bucket, pdf_key, pdf_sha256, pdf_bytes, pages, run_id)
    VALUES (:task_id, :status, :design, :latex, :latex_source, :errors, :compile_log,
        :pdf_bucket, :pdf_key, :pdf_sha256, :pdf_bytes, :pages, :run_id)
    ON CONFLICT (task_id) DO UPDATE SET
        status = EXCLUDED.status, design = EXCLUDED.design, latex = EXCLUDED.latex,
        latex_source = EXCLUDED.latex_source, errors = EXCLUDED.errors, compile_log = EXCLUDED.compile_log,
        pdf_bucket = EXCLUDED.pdf_bucket, pdf_key = EXCLUDED.pdf_key, pdf_sha256 = EXCLUDED.pdf_sha256,
        pdf_bytes = EXCLUDED.pdf_bytes, pages = EXCLUDED.pages, run_id = EXCLUDED.run_id,
        attempts = orbit.worksheets.attempts + :counts, updated_at = now()
"""


def _write(engine: Engine, row: dict[str, Any], counts_as_attempt: bool) -> None:
    stmt = text(_UPSERT).bindparams(bindparam("design", type_=JSONB), bindparam("errors", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(stmt, {**row, "counts": 1 if counts_as_attempt else 0})


def save_failed_attempt(
    engine: Engine,
    task_id: int,
    design: dict,
    latex: str,
    latex_source: str,
    errors: list[dict],
    log: str,
    run_id: str,
) -> None:
    _write(
        engine,
        {
            "task_id": task_id,
            "status": "does_not_compile",
            "design": design,
            "latex": latex,
            "latex_source": latex_source,
            "errors": errors,
            "compile_log": log,
            "pdf_bucket": None,
            "pdf_key": None,
            "pdf_sha256": None,
            "pdf_bytes": None,
            "pages": None,
            "run_id": run_id,
        },
        counts_as_attempt=True,
    )


def save_stored(
    engine: Engine,
    task_id: int,
    design: dict,
    latex: str,
    latex_source: str,
    log: str,
    bucket: str,
    key: str,
    sha256: str,
    size: int,
    pages: int,
    run_id: str,
    counts_as_attempt: bool,
) -> None:
    _write(
        engine,
        {
            "task_id": task_id,
            "status": "stored",
            "design": design,
            "latex": latex,
            "latex_source": latex_source,
            "errors": [],
            "compile_log": log,
            "pdf_bucket": bucket,
            "pdf_key": key,
            "pdf_sha256": sha256,
            "pdf_bytes": size,
            "pages": pages,
            "run_id": run_id,
        },
        counts_as_attempt=counts_as_attempt,
    )


def load_worksheet(engine: Engine, task_id: int) -> Optional[dict[str, Any]]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM orbit.worksheets WHERE task_id = :id"), {"id": task_id}).first()
        return dict(row._mapping) if row is not None else None

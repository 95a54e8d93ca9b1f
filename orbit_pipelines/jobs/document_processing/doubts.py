"""Which documents Veryfi may have processed without our knowing: `orbit.veryfi_sends_in_doubt`.

Before an attempt sends, every document it may send is marked (one statement); when it ends, each mark
is settled from what the attempt learned (one transaction): an answer stored, or one that says Veryfi
did not process the request (a 429, a 4xx, a refused connection), removes it; a timeout, a dropped
connection or a 5xx other than 503 keeps it, with the reason. An attempt that crashed settles nothing,
so what it was sending stays in doubt. The next attempt looks up by external_id only what is in doubt.
"""

from __future__ import annotations

from typing import Iterable, Optional

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

SENDING = "sent by a run that ended before it could tell whether Veryfi processed it"


def sends_in_doubt(engine: Engine, document_keys: Iterable[str]) -> set[str]:
    keys = list(document_keys)
    if not keys:
        return set()
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT document_key FROM orbit.veryfi_sends_in_doubt WHERE document_key = ANY(:k)"), {"k": keys}
        )
        return {key for (key,) in rows}


def mark_sending(engine: Engine, document_keys: Iterable[str], run_id: str) -> None:
    """Mark what this attempt may send; a mark already there keeps its reason until settled."""
    keys = list(document_keys)
    if not keys:
        return
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orbit.veryfi_sends_in_doubt (document_key, run_id, reason) "
                "SELECT k, :run_id, :reason FROM unnest(CAST(:keys AS text[])) AS k "
                "ON CONFLICT (document_key) DO NOTHING"
            ),
            {"keys": keys, "run_id": run_id, "reason": SENDING},
        )


def settle(engine: Engine, outcomes: dict[str, Optional[str]], run_id: str) -> None:
    """{document key: None when its outcome is known, else why it is still in doubt}."""
    known = [k for k, reason in outcomes.items() if reason is None]
    doubtful = [{"key": k, "reason": reason[:500]} for k, reason in outcomes.items() if reason is not None]
    if not outcomes:
        return
    with engine.begin() as conn:
        if known:
            conn.execute(text("DELETE FROM orbit.veryfi_sends_in_doubt WHERE document_key = ANY(:k)"), {"k": known})
        if doubtful:
            conn.execute(
                text(
                    "INSERT INTO orbit.veryfi_sends_in_doubt (document_key, run_id, reason) "
                    "SELECT key, :run_id, reason FROM jsonb_to_recordset(:rows) AS r(key text, reason text) "
                    "ON CONFLICT (document_key) DO UPDATE SET "
                    "run_id = EXCLUDED.run_id, reason = EXCLUDED.reason, at = now()"
                ).bindparams(bindparam("rows", type_=JSONB)),
                {"rows": doubtful, "run_id": run_id},
            )

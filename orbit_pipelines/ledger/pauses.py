"""Requests to pause one run at its next step boundary (`orbit task pause`), in orbit.pause_requests: the
CLI asks, the gate between every job's steps (runtime/pause_gate.py) reads and answers, and so does a batch
step that pauses at its items' boundaries (runtime/batch_pause.py). Keyed by run, so a
re-execution that resumes a paused run is never paused by its parent's request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from orbit_pipelines.ledger.store import Ledger


@dataclass(frozen=True)
class PauseRequest:
    run_id: str
    requested_by: str
    requested_at: datetime
    paused_after: str | None  # the step the run stopped after; None while it has not reached a boundary
    paused_at: datetime | None
    # The step named by paused_after paused itself inside (a batch at a document boundary,
    # runtime/batch_pause.py) and is run again on resume; False: the gate paused after it finished.
    cut_short: bool = False


def request_pause(ledger: Ledger, run_id: str, by: str) -> PauseRequest:
    """Ask `run_id` to stop before its next step; asking again keeps the first request."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO orbit.pause_requests (run_id, requested_by) VALUES (:run, :by) ON CONFLICT DO NOTHING"),
            {"run": run_id, "by": by},
        )
    found = pause_request(ledger, run_id)
    assert found is not None
    return found


def pause_request(ledger: Ledger, run_id: str) -> PauseRequest | None:
    with ledger.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM orbit.pause_requests WHERE run_id = :run"), {"run": run_id}).first()
    return PauseRequest(**row._mapping) if row is not None else None


def record_paused(ledger: Ledger, run_id: str, step: str, cut_short: bool = False) -> None:
    """The run stopped: after `step` (the gate), or inside it with `cut_short` (a batch step)."""
    with ledger.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.pause_requests SET paused_after = :step, paused_at = now(), cut_short = :cut "
                "WHERE run_id = :run"
            ),
            {"run": run_id, "step": step, "cut": cut_short},
        )

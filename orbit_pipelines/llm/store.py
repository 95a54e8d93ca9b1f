"""Model calls in the ledger: each task's conversation and every call's tokens and cost."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB


def load_conversation(engine: Engine, task_id: int) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        turns = conn.execute(
            text("SELECT turns FROM orbit.llm_conversations WHERE task_id = :id"), {"id": task_id}
        ).scalar()
    return list(turns or [])


def append_turns(engine: Engine, task_id: int, turns: list[dict[str, Any]]) -> None:
    """Append in one statement: two writers can never interleave half of their turns."""
    at = datetime.now(timezone.utc).isoformat()
    stmt = text(
        """
        INSERT INTO orbit.llm_conversations (task_id, turns) VALUES (:id, :turns)
        ON CONFLICT (task_id) DO UPDATE
        SET turns = orbit.llm_conversations.turns || EXCLUDED.turns, updated_at = now()
        """
    ).bindparams(bindparam("turns", type_=JSONB))
    with engine.begin() as conn:
        conn.execute(stmt, {"id": task_id, "turns": [{**t, "at": at} for t in turns]})


def record_usage(
    engine: Engine,
    *,
    task_id: int,
    run_id: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    cost_usd: Decimal,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orbit.llm_usage (task_id, run_id, model, prompt_tokens, completion_tokens, cost_usd) "
                "VALUES (:task_id, :run_id, :model, :prompt, :completion, :cost)"
            ),
            {
                "task_id": task_id,
                "run_id": run_id,
                "model": model,
                "prompt": prompt_tokens,
                "completion": completion_tokens,
                "cost": cost_usd,
            },
        )


@dataclass(frozen=True)
class Usage:
    calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal


_SUMS = (
    "SELECT count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0), "
    "coalesce(sum(cost_usd), 0) FROM orbit.llm_usage WHERE "
)


def _usage(engine: Engine, where: str, params: dict[str, Any]) -> Usage:
    with engine.connect() as conn:
        calls, prompt, completion, cost = conn.execute(text(_SUMS + where), params).one()
    return Usage(int(calls), int(prompt), int(completion), Decimal(cost))


def usage_for_task(engine: Engine, task_id: int) -> Usage:
    return _usage(engine, "task_id = :id", {"id": task_id})


def usage_for_run(engine: Engine, run_id: str) -> Usage:
    return _usage(engine, "run_id = :id", {"id": run_id})


def usage_today(engine: Engine) -> Usage:
    """Every call since midnight UTC, whatever the task."""
    return _usage(engine, "at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'", {})

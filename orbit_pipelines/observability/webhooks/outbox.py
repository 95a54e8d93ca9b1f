"""SQL for webhooks: new ledger changes, the tasks of runs, and the delivery log (orbit.webhook_deliveries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.observability.webhooks.cursor import IdCursor
from orbit_pipelines.observability.webhooks.events import WebhookEvent

RETENTION = timedelta(days=7)
# A delivery still failing this long after it was logged (or after `orbit webhooks retry`) is given up.
GIVE_UP_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    event_type: str
    task_id: int
    url: str
    body: str
    attempts: int
    created_at: datetime


class Outbox:
    def __init__(self, engine: Engine):
        self.engine = engine

    # -- reading events ------------------------------------------------------------------------

    def newest_change_id(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT coalesce(max(id), 0) FROM orbit.task_events")).scalar_one()

    def last_change_id_before(self, seconds_ago: float) -> int:
        """The newest change older than `seconds_ago` (read backwards by id: only recent rows are touched)."""
        with self.engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT coalesce((SELECT id FROM orbit.task_events WHERE at < now() - make_interval(secs => :s) "
                    "ORDER BY id DESC LIMIT 1), 0)"
                ),
                {"s": seconds_ago},
            ).scalar_one()

    def changes(self, cursor: IdCursor, limit: int, task_id: int | None = None) -> list[dict[str, Any]]:
        """task_events rows after the cursor (and its gaps) with their task, in id order; only one
        task's with `task_id` (the event stream's `?task=`)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    """
                SELECT e.id, e.task_id, e.from_status, e.to_status, e.run_id, e.note, e.at, e.phase,
                       e.event, e.step, e.detail,
                       t.kind, t.lane, t.priority, t.idempotency_key, t.error_class, t.error_message, t.error_step
                FROM orbit.task_events e JOIN orbit.tasks t ON t.id = e.task_id
                WHERE (e.id > :last OR e.id = ANY(:gaps)) AND (CAST(:task AS BIGINT) IS NULL OR e.task_id = :task)
                ORDER BY e.id LIMIT :limit
                """
                ),
                {"last": cursor.last_id, "gaps": list(cursor.gaps), "limit": limit, "task": task_id},
            )
            return [dict(r._mapping) for r in rows]

    def tasks_of_runs(self, run_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Every task each run worked on (orbit.task_runs), as it is now."""
        found: dict[str, list[dict[str, Any]]] = {}
        if not run_ids:
            return found
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    """
                SELECT r.run_id AS event_run_id, t.id AS task_id, t.kind, t.status, t.lane, t.priority,
                       t.idempotency_key, t.run_id, t.finished_at
                FROM orbit.task_runs r JOIN orbit.tasks t ON t.id = r.task_id
                WHERE r.run_id = ANY(:runs) ORDER BY t.id
                """
                ),
                {"runs": list(run_ids)},
            )
            for row in rows:
                found.setdefault(row.event_run_id, []).append(dict(row._mapping))
        return found

    # -- the delivery log ----------------------------------------------------------------------

    def enqueue(self, events: Sequence[WebhookEvent], urls: Sequence[str], now: datetime) -> int:
        """One delivery per event and URL, in the order given; an event already logged is not added twice."""
        rows = [
            {"n": n, "event_id": e.id, "event_type": e.type, "task_id": e.task.id, "url": url, "body": e.body()}
            for n, (e, url) in enumerate((e, url) for e in events for url in urls)
        ]
        if not rows:
            return 0
        stmt = text(
            """
            INSERT INTO orbit.webhook_deliveries (event_id, event_type, task_id, url, body, next_attempt_at,
                                                  give_up_at, created_at)
            SELECT event_id, event_type, task_id, url, body, :now, :give_up_at, :now
            FROM jsonb_to_recordset(:rows)
                 AS r(n integer, event_id text, event_type text, task_id bigint, url text, body text)
            ORDER BY n
            ON CONFLICT (event_id, url) DO NOTHING
            """
        ).bindparams(bindparam("rows", type_=JSONB))
        with self.engine.begin() as conn:
            return conn.execute(stmt, {"rows": rows, "now": now, "give_up_at": now + GIVE_UP_AFTER}).rowcount

    def due(self, now: datetime, limit: int) -> list[Delivery]:
        """Pending deliveries whose (receiver, task) chain may go now: a chain waits behind its oldest
        pending delivery, so a task's events arrive in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    """
                WITH heads AS (
                    SELECT DISTINCT ON (url, task_id) url, task_id, next_attempt_at
                    FROM orbit.webhook_deliveries WHERE status = 'pending'
                    ORDER BY url, task_id, id
                )
                SELECT d.id, d.event_id, d.event_type, d.task_id, d.url, d.body, d.attempts, d.created_at
                FROM orbit.webhook_deliveries d JOIN heads h ON h.url = d.url AND h.task_id = d.task_id
                WHERE d.status = 'pending' AND h.next_attempt_at <= :now
                ORDER BY d.id LIMIT :limit
                """
                ),
                {"now": now, "limit": limit},
            )
            return [Delivery(**r._mapping) for r in rows]

    def delivered(self, delivery_id: int, status: int, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE orbit.webhook_deliveries SET status = 'delivered', attempts = attempts + 1, "
                    "last_status = :status, last_error = NULL, delivered_at = :now WHERE id = :id"
                ),
                {"id": delivery_id, "status": status, "now": now},
            )

    def failed_attempt(self, delivery_id: int, status: int | None, error: str, retry_at: datetime) -> bool:
        """Record a failed attempt to be tried again at `retry_at`, unless that is past the delivery's
        give-up time: then it is `failed`. Returns True when given up."""
        with self.engine.begin() as conn:
            return (
                conn.execute(
                    text(
                        "UPDATE orbit.webhook_deliveries SET attempts = attempts + 1, last_status = :status, "
                        "last_error = :error, next_attempt_at = :retry_at, "
                        "status = CASE WHEN :retry_at > give_up_at THEN 'failed' ELSE 'pending' END "
                        "WHERE id = :id RETURNING status"
                    ),
                    {"id": delivery_id, "status": status, "error": error[:1000], "retry_at": retry_at},
                ).scalar()
                == "failed"
            )

    def receiver_is_back(self, url: str, now: datetime) -> None:
        """The receiver answered again: its other pending deliveries need not wait out their backoff."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE orbit.webhook_deliveries SET next_attempt_at = :now "
                    "WHERE url = :url AND status = 'pending' AND next_attempt_at > :now"
                ),
                {"url": url, "now": now},
            )

    def prune(self, now: datetime, limit: int = 1000) -> int:
        """Forget settled deliveries older than RETENTION, a bounded batch per call."""
        with self.engine.begin() as conn:
            return conn.execute(
                text(
                    "DELETE FROM orbit.webhook_deliveries WHERE id IN (SELECT id FROM orbit.webhook_deliveries "
                    "WHERE created_at < :before AND status <> 'pending' ORDER BY created_at LIMIT :limit)"
                ),
                {"before": now - RETENTION, "limit": limit},
            ).rowcount

    def log(self, *, status: str | None = None, task_id: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {"limit": limit}
        if status:
            clauses.append("status = :status")
            params["status"] = status
        if task_id is not None:
            clauses.append("task_id = :task_id")
            params["task_id"] = task_id
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, event_id, event_type, task_id, url, status, attempts, last_status, last_error, "
                    f"created_at, next_attempt_at, delivered_at FROM orbit.webhook_deliveries {where} "
                    "ORDER BY id DESC LIMIT :limit"
                ),
                params,
            )
            return [dict(r._mapping) for r in rows]

    def retry(self, now: datetime, ids: Sequence[int] = (), all_failed: bool = False) -> int:
        """Send given-up (or still pending) deliveries again from now, with a fresh retry period."""
        condition = "status = 'failed'" if all_failed else "id = ANY(:ids) AND status <> 'delivered'"
        with self.engine.begin() as conn:
            return conn.execute(
                text(
                    "UPDATE orbit.webhook_deliveries SET status = 'pending', next_attempt_at = :now, "
                    f"give_up_at = :give_up_at WHERE {condition}"
                ),
                {"now": now, "give_up_at": now + GIVE_UP_AFTER, "ids": list(ids)},
            ).rowcount

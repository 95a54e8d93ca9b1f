"""What a stream client reads from the ledger: the task_events rows after its cursor (the webhook
outbox's query), one task's or all, and where a new client starts."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text

from orbit_pipelines.observability.webhooks.cursor import IdCursor
from orbit_pipelines.observability.webhooks.outbox import Outbox

BATCH = 500


class EventReader:
    """Rows after a cursor. The cursor keeps ids skipped over as gaps (webhooks/cursor.py): an id is
    handed out at insert but visible at commit, so row 41 can commit after row 42 was streamed, and is
    streamed when it appears."""

    def __init__(self, engine: Engine, task_id: int | None = None, batch: int = BATCH):
        self.engine, self.task_id, self.batch = engine, task_id, batch
        self.outbox = Outbox(engine)

    def task_exists(self) -> bool:
        with self.engine.connect() as conn:
            return (
                conn.execute(text("SELECT 1 FROM orbit.tasks WHERE id = :id"), {"id": self.task_id}).first() is not None
            )

    def start(self, after: int | None) -> IdCursor:
        """Where a client starts: after `after` (Last-Event-ID); else one task's stream from its first
        event, and the whole stream from now on (not the ledger's history)."""
        if after is not None:
            return IdCursor(after)
        if self.task_id is not None:
            return IdCursor(0)
        return IdCursor(self.outbox.newest_change_id())

    def read(self, cursor: IdCursor) -> tuple[list[dict[str, Any]], IdCursor]:
        """The next batch of rows after `cursor`, in id order, and the cursor after them; fewer than
        `batch` rows means nothing more is visible now."""
        if self.task_id is None:
            rows = self.outbox.changes(cursor, self.batch)
            return rows, cursor.advance((r["id"] for r in rows), time.time())
        # Other tasks' rows are no gaps of a task's stream. The ids visible are read before the task's
        # rows: a row of the task visible then is visible to the second read too, so none is passed over.
        visible = self._visible_ids(cursor)
        rows = self.outbox.changes(cursor, self.batch, self.task_id)
        seen = {r["id"] for r in rows}
        horizon = max(seen) if len(rows) == self.batch else max(visible | seen, default=0)
        seen |= {i for i in visible if i <= horizon}
        return rows, cursor.advance(seen, time.time())

    def _visible_ids(self, cursor: IdCursor) -> set[int]:
        with self.engine.connect() as conn:
            return set(
                conn.execute(
                    text(
                        "SELECT id FROM orbit.task_events WHERE id > :last OR id = ANY(:gaps) ORDER BY id LIMIT :limit"
                    ),
                    {"last": cursor.last_id, "gaps": list(cursor.gaps), "limit": self.batch},
                ).scalars()
            )

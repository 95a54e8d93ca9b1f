"""The webhook sensor's cursor: where it is in the ledger's task_events and in Dagster's event log.

Ids of task_events are handed out when a row is inserted but become visible when its transaction
commits, so id 41 can appear after id 42 has been read. A plain "last id" would skip 41 forever;
ids skipped over are therefore kept as gaps and looked for again until GAP_WAIT_SECONDS have passed
(ids of rolled-back transactions never appear). Pure: no database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

GAP_WAIT_SECONDS = 300
MAX_GAPS = 500


@dataclass(frozen=True)
class IdCursor:
    last_id: int = 0
    gaps: dict[int, float] = field(default_factory=dict)  # id -> when it was first missed (epoch seconds)

    def advance(self, seen: Iterable[int], now: float) -> "IdCursor":
        seen = set(seen)
        last = max([self.last_id, *seen])
        gaps = {i: t for i, t in self.gaps.items() if i not in seen and now - t < GAP_WAIT_SECONDS}
        for i in range(max(self.last_id + 1, last - MAX_GAPS), last):
            if i not in seen:
                gaps[i] = now
        if len(gaps) > MAX_GAPS:
            gaps = dict(sorted(gaps.items())[-MAX_GAPS:])
        return IdCursor(last, gaps)


@dataclass(frozen=True)
class WebhookCursor:
    ledger: IdCursor
    dagster: int  # storage id of the last Dagster event read

    def dumps(self) -> str:
        return json.dumps(
            {
                "ledger": {
                    "last_id": self.ledger.last_id,
                    "gaps": {str(k): v for k, v in sorted(self.ledger.gaps.items())},
                },
                "dagster": self.dagster,
            }
        )

    @classmethod
    def loads(cls, raw: str | None) -> "WebhookCursor | None":
        """None when there is no cursor yet (the sensor then starts from the newest events)."""
        if not raw:
            return None
        data = json.loads(raw)
        ledger = IdCursor(int(data["ledger"]["last_id"]), {int(k): float(v) for k, v in data["ledger"]["gaps"].items()})
        return cls(ledger, int(data["dagster"]))

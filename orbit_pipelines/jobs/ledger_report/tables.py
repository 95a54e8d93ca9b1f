"""The ledger as an operator reads it in the Dagster UI: pending tasks per kind and lane, tasks waiting for a
person, dead letters and the intake of each kind, as markdown tables and counts (no Dagster here; ops.py
attaches them to the run).

Each table is a snapshot taken when the run ran, and holds at most `max_rows` rows (per kind and lane for
the pending tasks); what is left out is counted, "and N more", with the command that lists it all.

The reads are the ones the `orbit` commands make: `Ledger.dead_letters` / `dead_letter_count` (`orbit dlq
list`), `Ledger.list` and `counts_by_status` (`orbit task list`), `Ledger.pauses` (`orbit status`). Only the
pending tasks oldest first in each kind and lane have no command of their own, so their query is here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby
from typing import Any, Sequence

from sqlalchemy import text

from orbit_pipelines.ledger import Ledger, Task, TaskStatus
from orbit_pipelines.ledger.states import PARKED
from orbit_pipelines.reports import title
from orbit_pipelines.run_control import ALL_KINDS
from orbit_pipelines.runtime.markdown import Markdown, table
from orbit_pipelines.runtime.remediation import remediation_for

# Enough to read on one screen; Launchpad: report_ledger.config.max_rows.
MAX_ROWS = 20
_WHEN = "%Y-%m-%d %H:%M:%S"
_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class LedgerReport:
    """What the run page shows: one markdown table per concern and the counts behind them."""

    pending: str
    waiting: str
    dead_letters: str
    intake: str
    pending_count: int
    waiting_count: int
    dead_letter_count: int
    paused_kinds: list[str]  # kinds whose intake is held back (every kind under a global pause)

    def summary(self) -> str:
        paused = f"intake paused for {', '.join(self.paused_kinds)}" if self.paused_kinds else "intake dispatching"
        return (
            f"{self.pending_count} pending, {self.waiting_count} waiting for a person, "
            f"{self.dead_letter_count} dead letter(s); {paused}"
        )


def age(seconds: float) -> str:
    """`45 s`, `12 min`, `3 h 05 min`, `2 d 04 h`: how long something has waited, to the unit that matters."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24:02d} h"


def _name(task: Task) -> str:
    """What a person calls the task (reports.title), or a worksheet's request."""
    return (title(task) or str(task.payload.get("prompt") or ""))[:80]


def _at(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):{_WHEN}}"


def _since(moment: datetime, now: datetime) -> str:
    return age((now - moment).total_seconds())


def _run_link(run_id: str | None) -> Markdown | str:
    """The run's first 8 characters, linking to its page (the UI opens links relative to itself)."""
    return Markdown(f"[{run_id[:8]}](/runs/{run_id})") if run_id else ""


def _short(message: str | None) -> str:
    message = " ".join((message or "").split())
    return message if len(message) <= _MESSAGE_CHARS else message[: _MESSAGE_CHARS - 1] + "…"


def _more(left_out: int, command: str) -> str:
    return f"\nand {left_out} more ({command} lists them)\n" if left_out > 0 else ""


def _none(what: str) -> str:
    return f"_{what}_\n"


# -- reads -------------------------------------------------------------------------------------------


def pending_oldest_first(ledger: Ledger, per_kind_and_lane: int) -> list[tuple[Task, int]]:
    """Up to `per_kind_and_lane` PENDING tasks of each kind and lane, oldest first, each with how many
    are pending in its kind and lane; ordered by kind, lane, then submission."""
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT * FROM (
                    SELECT t.*,
                           row_number() OVER (PARTITION BY kind, lane ORDER BY created_at, id) AS position,
                           count(*) OVER (PARTITION BY kind, lane) AS in_group
                    FROM orbit.tasks t WHERE status = 'PENDING'
                ) p
                WHERE position <= :limit
                ORDER BY kind, lane, position
                """
            ),
            {"limit": per_kind_and_lane},
        )
        return [(Task.from_row(row), row.in_group) for row in rows]


def _held_back(pauses: Sequence[dict[str, Any]], kinds: Sequence[str]) -> dict[str, dict[str, Any]]:
    """{kind: the pause that holds it back}: the global one before the kind's own (run_control.pause_of)."""
    by_kind = {p["kind"]: p for p in pauses}
    return {k: by_kind.get(ALL_KINDS) or by_kind[k] for k in kinds if ALL_KINDS in by_kind or k in by_kind}


# -- tables ------------------------------------------------------------------------------------------


def _pending_row(task: Task, held_back: dict[str, dict[str, Any]], now: datetime) -> list[object]:
    intake = "PAUSED" if task.kind in held_back else "dispatching"
    when = _at(task.created_at)
    return [task.kind, task.lane, task.id, _name(task), task.priority, when, _since(task.created_at, now), intake]


def pending_table(pending: list[tuple[Task, int]], held_back: dict[str, dict[str, Any]], now: datetime) -> str:
    """`pending_oldest_first`'s tasks; a kind and lane with more pending than shown ends with `and N more`."""
    if not pending:
        return _none("no pending tasks")
    headers = ["kind", "lane", "task", "title", "priority", "submitted (UTC)", "age", "intake"]
    rows: list[list[object]] = []
    for (kind, lane), group in groupby(pending, key=lambda shown: (shown[0].kind, shown[0].lane)):
        members = list(group)
        rows += [_pending_row(task, held_back, now) for task, _ in members]
        in_group = members[0][1]
        if in_group > len(members):
            rows.append([kind, lane, f"and {in_group - len(members)} more", "", "", "", "", ""])
    return table(headers, rows, limit=len(rows), right=("task", "priority"))


def waiting_for(task: Task) -> str:
    """What a parked task waits for: its status and, when its run said, why."""
    why = f": {task.error_class}: {_short(task.error_message)}" if task.error_class else ""
    return f"{task.status.value}{why}"


def continued_by(task: Task) -> str:
    """The command(s) that let a parked task go on, from the remediation vocabulary."""
    if task.status == TaskStatus.PAUSED:  # an operator stopped it at a step boundary (`orbit task pause`)
        return f"`orbit task resume {task.id}`, or `orbit cancel {task.id}`"
    if not task.error_class:
        return f"`orbit task show {task.id}` (its history says why it waits)"
    hint = remediation_for(task.error_class).replace("TASK_ID", str(task.id))
    return hint.replace("RUN_ID", task.run_id) if task.run_id else hint


def waiting_table(waiting: list[Task], counts: dict[str, int], max_rows: int, now: datetime) -> str:
    total = sum(counts.get(s.value, 0) for s in PARKED)
    if not waiting:
        return _none("no tasks waiting for a person")
    headers = ["task", "kind", "title", "run", "since (UTC)", "waited", "waits for", "to continue"]
    rows = [
        [
            t.id,
            t.kind,
            _name(t),
            _run_link(t.run_id),
            _at(t.updated_at),
            _since(t.updated_at, now),
            waiting_for(t),
            continued_by(t),
        ]
        for t in waiting[:max_rows]
    ]
    listings = " / ".join(f"`orbit task list --status {s}`" for s in sorted(s.value for s in PARKED))
    return table(headers, rows, limit=max_rows, right=("task",)) + _more(total - len(rows), listings)


def dead_letter_table(letters: list[dict[str, Any]], total: int, now: datetime) -> str:
    if not letters:
        return _none("no dead letters")
    headers = ["task", "kind", "run", "step", "error class", "message", "failures", "last failure", "retry"]
    rows = [
        [
            r["id"],
            r["kind"],
            _run_link(r["run_id"]),
            r["error_step"] or "",
            r["error_class"] or "",
            _short(r["error_message"]),
            r["failures"],
            f"{_since(r['last_failure'], now)} ago" if r["last_failure"] else "",
            f"`orbit dlq retry {r['id']}`",
        ]
        for r in letters
    ]
    return table(headers, rows, limit=len(rows), right=("task", "failures")) + _more(
        total - len(rows), "`orbit dlq list`"
    )


def intake_table(kinds: Sequence[str], held_back: dict[str, dict[str, Any]]) -> str:
    headers = ["kind", "intake", "since (UTC)", "reason", "to change"]
    rows = []
    for kind in kinds:
        pause = held_back.get(kind)
        if pause is None:
            rows.append([kind, "dispatching", "", "", f"`orbit pause --kind {kind} --reason ...`"])
            continue
        scope = " (all kinds)" if pause["kind"] == ALL_KINDS else ""
        resume = "`orbit resume`" if pause["kind"] == ALL_KINDS else f"`orbit resume --kind {kind}`"
        rows.append([kind, f"PAUSED{scope}", _at(pause["since"]), pause["reason"] or "", resume])
    return table(headers, rows, limit=len(rows))


def ledger_report(
    ledger: Ledger, kinds: Sequence[str], max_rows: int = MAX_ROWS, now: datetime | None = None
) -> LedgerReport:
    """The four tables and their counts, read from `ledger` now; `kinds` are the registered task kinds
    (registry.all_kinds()), listed in the intake table whether paused or not."""
    if max_rows < 1:
        raise ValueError(f"max_rows: must be at least 1, got {max_rows}")
    now = now or datetime.now(timezone.utc)
    counts = ledger.counts_by_status()
    held_back = _held_back(ledger.pauses(), kinds)
    pending = pending_oldest_first(ledger, max_rows)
    # Ledger.list gives the newest first; several parked states are merged, newest first again.
    parked = [t for s in PARKED for t in ledger.list(status=s, limit=max_rows)]
    waiting = sorted(parked, key=lambda t: t.id, reverse=True)
    dead_total = ledger.dead_letter_count()
    return LedgerReport(
        pending=pending_table(pending, held_back, now),
        waiting=waiting_table(waiting, counts, max_rows, now),
        dead_letters=dead_letter_table(ledger.dead_letters(limit=max_rows), dead_total, now),
        intake=intake_table(kinds, held_back),
        pending_count=counts.get(TaskStatus.PENDING.value, 0),
        waiting_count=sum(counts.get(s.value, 0) for s in PARKED),
        dead_letter_count=dead_total,
        paused_kinds=sorted(held_back),
    )

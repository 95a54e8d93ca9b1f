"""Where every submitted item ended up after a fault: the figures the reliability table reports.

An item is
- completed: its task is COMPLETED and its result is stored (a documents row; subtasks and prompts);
- failed with a reason: its task is FAILED with an error class and a message, on the dead-letter list;
- lost: anything else (still pending or running, completed without a result, failed without a reason);
- duplicated: its work was done twice (completed twice, or Veryfi paid more than once).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import text

from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines_tests.support import ROOT

REPORT = Path(os.environ.get("ORBIT_RELIABILITY_REPORT") or ROOT / "test-artifacts" / "reliability.json")
# One file of rows per test process (`main`, or an xdist worker's id), merged into REPORT at the end.
PARTS = REPORT.parent / f"{REPORT.stem}-parts"


@dataclass
class Outcome:
    fault: str
    items: int
    completed: int
    failed_with_reason: int
    lost: int
    duplicated: int
    # Paid Veryfi calls of each completed document: (min, max); (None, None) when nothing was paid for.
    paid_min: int | None = None
    paid_max: int | None = None
    recover_seconds: float | None = None
    note: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def paid_per_document(self) -> str:
        if self.paid_min is None:
            return "-"
        return str(self.paid_min) if self.paid_min == self.paid_max else f"{self.paid_min}-{self.paid_max}"

    def check(self) -> None:
        """The house rule: nothing lost, nothing doubled, each completed document paid for once."""
        assert self.completed + self.failed_with_reason + self.lost == self.items, self
        assert self.lost == 0, f"{self.fault}: {self.lost} item(s) lost: {self.problems[:10]}"
        assert self.duplicated == 0, f"{self.fault}: {self.duplicated} item(s) duplicated: {self.problems[:10]}"
        if self.paid_min is not None:
            assert (self.paid_min, self.paid_max) == (1, 1), f"{self.fault}: paid calls per document {self}"


def account(
    ledger: Ledger, task_ids: list[int], fault: str, *, emulator=None, recover_seconds=None, note: str = ""
) -> Outcome:
    tasks = ledger.get_many(task_ids)
    missing = set(task_ids) - {t.id for t in tasks}
    with ledger.engine.connect() as conn:
        completions = dict(
            conn.execute(
                text(
                    "SELECT task_id, count(*) FROM orbit.task_events "
                    "WHERE task_id = ANY(:ids) AND to_status = 'COMPLETED' "
                    "AND from_status IS DISTINCT FROM 'COMPLETED' GROUP BY task_id"
                ),
                {"ids": task_ids},
            ).all()
        )
        documents = dict(
            conn.execute(
                text("SELECT task_id, count(*) FROM orbit.documents WHERE task_id = ANY(:ids) GROUP BY task_id"),
                {"ids": task_ids},
            ).all()
        )
        plans = dict(
            conn.execute(
                text(
                    "SELECT s.task_id, count(*) FROM orbit.subtasks s WHERE s.task_id = ANY(:ids) "
                    "AND EXISTS (SELECT 1 FROM orbit.prompts p WHERE p.task_id = s.task_id) GROUP BY s.task_id"
                ),
                {"ids": task_ids},
            ).all()
        )
    dead = {row["id"] for row in ledger.dead_letters(limit=len(task_ids) + 1000)}
    outcome = Outcome(
        fault=fault,
        items=len(task_ids),
        completed=0,
        failed_with_reason=0,
        lost=len(missing),
        duplicated=0,
        recover_seconds=recover_seconds,
        note=note,
    )
    outcome.problems += [f"task {i} vanished" for i in sorted(missing)]
    paid: list[int] = []
    for task in tasks:
        has_result = documents.get(task.id, 0) == 1 if task.kind == "document" else plans.get(task.id, 0) > 0
        if task.status == TaskStatus.COMPLETED and has_result:
            outcome.completed += 1
            if emulator is not None and task.kind == "document":
                paid.append(emulator.paid_calls_for(task.payload["sha256"]))
        elif task.status == TaskStatus.FAILED and task.error_class and task.error_message and task.id in dead:
            outcome.failed_with_reason += 1
        else:
            outcome.lost += 1
            outcome.problems.append(
                f"task {task.id}: {task.status.value}, result rows "
                f"{documents.get(task.id, plans.get(task.id, 0))}, error {task.error_class!r}"
            )
        times_paid = emulator.paid_calls_for(task.payload["sha256"]) if emulator and task.kind == "document" else 0
        if completions.get(task.id, 0) > 1 or times_paid > 1:
            outcome.duplicated += 1
            outcome.problems.append(
                f"task {task.id} done twice: completed {completions.get(task.id, 0)}x, paid {times_paid}x"
            )
    if paid:
        outcome.paid_min, outcome.paid_max = min(paid), max(paid)
    return outcome


# -- the table ------------------------------------------------------------------------------------

COLUMNS = (
    "fault",
    "items",
    "completed",
    "failed with reason",
    "lost",
    "duplicated",
    "paid calls / completed doc",
    "time to recover (s)",
)


def table_rows(outcomes: list[Outcome]) -> list[tuple[str, ...]]:
    return [
        (
            o.fault,
            str(o.items),
            str(o.completed),
            str(o.failed_with_reason),
            str(o.lost),
            str(o.duplicated),
            o.paid_per_document,
            "-" if o.recover_seconds is None else f"{o.recover_seconds:.1f}",
        )
        for o in outcomes
    ]


def markdown_table(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(outcomes)]
    return "\n".join(lines)


def save(outcomes: list[Outcome], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{**asdict(o), "paid_per_document": o.paid_per_document} for o in outcomes], indent=2))


def load(path: Path) -> list[Outcome]:
    rows = json.loads(path.read_text())
    return [Outcome(**{k: v for k, v in row.items() if k != "paid_per_document"}) for row in rows]


def part_path(process: str) -> Path:
    return PARTS / f"{process}.json"


def clear_parts() -> None:
    """Forget the rows an earlier session left (called once, before any test process starts)."""
    for part in PARTS.glob("*.json"):
        part.unlink()


def merge_parts() -> list[Outcome]:
    """Every process's rows in one table, written to REPORT; [] when no fault scenario ran."""
    outcomes = [o for part in sorted(PARTS.glob("*.json")) for o in load(part)]
    if outcomes:
        save(outcomes, REPORT)
    for part in PARTS.glob("*.json"):
        part.unlink()
    return outcomes

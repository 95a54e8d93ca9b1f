"""Ledger tasks in the states the ledger report shows, made through the ledger's own API (the states a
run would leave them in, without running anything), and the report's markdown tables read back."""

from __future__ import annotations

import uuid

from orbit_pipelines.ledger import Ledger, Task, TaskStatus

DOES_NOT_COMPILE = ("LatexDoesNotCompile", "line 3: Undefined control sequence \\fracc", "compile_pdf")
REFUSED = ("VeryfiRejected", "Veryfi answered 400: the file is not a receipt", "upload_and_extract")


def pending(ledger: Ledger, kind: str = "decomposition", lane: str = "async", title: str = "Invoice export") -> Task:
    payload = {"title": title, "description": "Export invoices as CSV."} if kind == "decomposition" else {}
    if kind == "worksheet":
        payload = {"prompt": title}
    return ledger.submit(kind, payload, lane=lane, idempotency_key=f"report-{uuid.uuid4()}")[0]


def running(ledger: Ledger, kind: str = "decomposition", title: str = "Invoice export") -> Task:
    task = pending(ledger, kind, title=title)
    ledger.claim([task.id], f"task-{task.id}")
    return ledger.transition(task.id, TaskStatus.RUNNING, run_id=str(uuid.uuid4()))


def waiting(ledger: Ledger, title: str = "the 9 times table") -> Task:
    """A worksheet whose LaTeX did not compile: WAITING_MANUAL, as compile_pdf leaves it."""
    task = running(ledger, "worksheet", title)
    return ledger.transition(task.id, TaskStatus.WAITING_MANUAL, run_id=task.run_id, error=DOES_NOT_COMPILE)


def dead_letter(ledger: Ledger, kind: str = "document", error=REFUSED) -> Task:
    task = running(ledger, kind)
    return ledger.transition(task.id, TaskStatus.FAILED, run_id=task.run_id, error=error)


def table_rows(markdown: str) -> list[dict[str, str]]:
    """A markdown table as {header: cell} per row; the lines after it (`and N more ...`) are not rows."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    if not lines:
        return []

    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in line.strip().strip("|").split(" | ")]

    headers = cells(lines[0])
    return [dict(zip(headers, cells(line), strict=True)) for line in lines[2:]]

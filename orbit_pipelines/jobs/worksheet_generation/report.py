"""A worksheet task in `orbit task show`: where its PDF is, or why it waits and what to edit."""

from __future__ import annotations

from typing import Any

from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet


def worksheet_json(ledger, task) -> dict[str, Any] | None:
    row = load_worksheet(ledger.engine, task.id)
    if row is None:
        return None
    exercises = [e for s in row["design"].get("sections", []) for e in s.get("exercises", [])]
    return {
        "status": row["status"],
        "title": row["design"].get("title"),
        "subject": row["design"].get("subject"),
        "exercises": exercises,
        "attempts": row["attempts"],
        "latex_source": row["latex_source"],
        "pdf": f"s3://{row['pdf_bucket']}/{row['pdf_key']}" if row["pdf_key"] else None,
        "pages": row["pages"],
        "errors": row["errors"],
    }


def worksheet_markdown(ledger, task) -> list[str]:
    found = worksheet_json(ledger, task)
    if found is None:
        return ["## Worksheet", "", "- not made yet"]
    lines = ["## Worksheet", "", f"- {found['title']} ({found['subject']}, {len(found['exercises'])} exercises)"]
    if found["pdf"]:
        lines.append(f"- PDF: {found['pdf']} ({found['pages']} page(s), LaTeX from the {found['latex_source']})")
    for error in found["errors"]:
        where = f"line {error['line']}: " if error.get("line") else ""
        lines += [f"- does not compile: {where}{error['message']}", "", "```", error.get("snippet", ""), "```"]
    if found["status"] == "does_not_compile":
        lines.append(
            f"- fix it: `orbit worksheet latex {task.id} > sheet.tex`, edit, then "
            f"`orbit worksheet edit {task.id} --latex sheet.tex`"
        )
    lines += ["", "| # | exercise | answer |", "|---|---|---|"]
    lines += [f"| {i} | {e['question']} | {e['answer']} |" for i, e in enumerate(found["exercises"], start=1)]
    return lines

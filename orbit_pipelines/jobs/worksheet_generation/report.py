"""A worksheet task in `orbit task show`: where its PDF is, or why it waits and what to edit."""

from __future__ import annotations

from typing import Any

from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
from orbit_pipelines.llm.store import load_conversation


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
        "model_turns": len(load_conversation(ledger.engine, task.id)),
    }


def worksheet_markdown(ledger, task) -> list[str]:
    found = worksheet_json(ledger, task)
    if found is None:
        return ["## Worksheet", "", "- not made yet"]
    lines = ["## Worksheet", "", f"- {found['title']} ({found['subject']}, {len(found['exercises'])} exercises)"]
    if found["pdf"]:
        lines.append(f"- PDF: {found['pdf']} ({found['pages']} page(s), LaTeX from the {found['latex_source']})")
    if found["model_turns"]:
        lines.append(f"- the model's conversation: {found['model_turns']} turns, stored with the task")
    for error in found["errors"]:
        where = f"line {error['line']}: " if error.get("line") else ""
        lines += [f"- does not compile: {where}{error['message']}", "", "```", error.get("snippet", ""), "```"]
    if found["status"] == "does_not_compile":
        lines.append(
            f"- fix it: `orbit worksheet latex {task.id} > sheet.tex`, edit, then "
            f"`orbit worksheet edit {task.id} --latex sheet.tex`; or have the model do it: "
            f"`orbit worksheet ai-fix {task.id} --instruction TEXT`"
        )
    lines += ["", "| # | exercise | answer |", "|---|---|---|"]
    lines += [f"| {i} | {e['question']} | {e['answer']} |" for i, e in enumerate(found["exercises"], start=1)]
    return lines

"""The LLM emulator's worksheet mode (EMULATOR, no model): answers for worksheet_generation's `llm` strategy.

It recognises the strategy's two system prompts and answers as a good model would:
- design: a valid design for the request in the first user message, written unlike the deterministic
  designer's (its own title, the exercises in reverse order), so what passes is the design rules'
  doing, not an echo;
- LaTeX: its own document for the design (not the job's template) that pdflatex compiles, or, when
  the last message reports compile errors or asks for a fix, the corrected one.

The emulator's behaviours switch what the next worksheet calls get:

    latex_broken     a document with an undefined command (it does not compile)
    latex_forbidden  a document that `\\input`s /etc/passwd and `\\write18`s a command
    partial          a design whose exercises lack their answers
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

BEHAVIOURS = ("latex_broken", "latex_forbidden")
_JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.DOTALL)
BROKEN_LINE = "\\undefinedworksheetcommand"


# The first words of worksheet_generation's system prompts (templates/llm/*_system.md.j2).
_SYSTEM_PROMPTS = {"You design printable worksheets": "design", "You typeset worksheets as LaTeX": "latex"}


def _mode(messages: list[dict[str, str]]) -> Optional[str]:
    system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
    return next((mode for opening, mode in _SYSTEM_PROMPTS.items() if system.startswith(opening)), None)


def _data(messages: list[dict[str, str]]) -> dict[str, Any]:
    first = next((m["content"] for m in messages if m.get("role") == "user"), "")
    found = _JSON_BLOCK.search(first)
    return json.loads(found.group(1)) if found else {}


def _design(messages: list[dict[str, str]], behaviour: str) -> str:
    from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
    from orbit_pipelines.jobs.worksheet_generation.models import WorksheetPayload

    payload = WorksheetPayload.model_validate(_data(messages))
    sheet = design_worksheet(payload)
    sections = [
        {**s.model_dump(mode="json"), "exercises": [e.model_dump() for e in reversed(s.exercises)]}
        for s in sheet.sections
    ]
    answer = {**sheet.model_dump(mode="json"), "title": f"Practice sheet: {sheet.title}", "sections": sections}
    if behaviour == "partial":
        for section in answer["sections"]:
            section["exercises"] = [{"question": e["question"]} for e in section["exercises"]]
    return json.dumps(answer)


def _latex(messages: list[dict[str, str]], behaviour: str) -> str:
    from orbit_pipelines.jobs.worksheet_generation.latex import escape_tex

    design = _data(messages)
    sections = design.get("sections", [])
    lines = [
        f"\\documentclass[{design.get('paper', 'a4')}paper]{{article}}",
        "\\usepackage[T1]{fontenc}",
        "\\usepackage{lmodern}",
        "\\begin{document}",
        f"\\section*{{{escape_tex(design.get('title', 'Worksheet'))}}}",
    ]
    if behaviour == "latex_forbidden":
        lines += ["\\input{/etc/passwd}", "\\immediate\\write18{id > owned.txt}"]
    for section in sections:
        lines += [f"\\subsection*{{{escape_tex(section['title'])}}}", escape_tex(section.get("instructions", ""))]
        lines += ["\\begin{enumerate}", *(f"\\item {escape_tex(e['question'])}" for e in section["exercises"])]
        lines.append("\\end{enumerate}")
    if behaviour == "latex_broken":
        lines.append(BROKEN_LINE)
    items = [e for s in sections for e in s["exercises"]]
    if design.get("include_answer_key", True):
        lines += ["\\newpage", "\\section*{Answer key}", "\\begin{enumerate}"]
        lines += [f"\\item {escape_tex(e['answer'])}" for e in items]
        lines.append("\\end{enumerate}")
    lines.append("\\end{document}")
    return "\n".join(lines) + "\n"


def worksheet_answer(messages: list[dict[str, str]], behaviour: str) -> Optional[str]:
    """The emulator's answer when the conversation is worksheet_generation's, else None."""
    mode = _mode(messages)
    if mode is None:
        return None
    if mode == "design":
        return _design(messages, behaviour)
    # A fix (compile errors or an instruction in the last message) is answered with the good document,
    # unless the test asked for another broken one.
    return _latex(messages, behaviour)

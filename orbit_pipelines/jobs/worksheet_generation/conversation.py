"""The `llm` strategy's conversation with the model: asking, checking answers, re-asking. No Dagster, no HTTP.

One conversation per task (orbit.llm_conversations, every turn stored before the next call), in two
phases that each have their own fixed system prompt: `design` (the request -> a WorksheetDesign as
JSON) and `latex` (the design -> a LaTeX document; then compile errors or a person's instruction ->
a corrected document). A turn says its `phase` and `kind`: `system`, `task` (the phase's first user
message), `answer` (with `valid`), `errors` (what was wrong with the answer before it),
`compile_errors` (pdflatex's errors and log tail) and `instruction` (an operator's AI fix). The model
sees one phase's turns; the stored conversation keeps both, so retries, fixes and edits continue it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Optional

from jinja2 import Environment, PackageLoader, StrictUndefined
from pydantic import ValidationError

from orbit_pipelines.jobs.worksheet_generation.design import count_of
from orbit_pipelines.jobs.worksheet_generation.latex import UntypesettableText, check_typesettable, forbidden_commands
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetDesign, WorksheetPayload

Turn = dict[str, Any]
DESIGN, LATEX = "design", "latex"
# Log tails sent to the model: the end of the log is where pdflatex says what stopped it.
LOG_TAIL_CHARS = 2_000


class AnswerInvalid(ValueError):
    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class AnswerRejected(Exception):
    """The model gave no acceptable answer within the allowed attempts."""


class LatexRefused(Exception):
    """The model's LaTeX uses a forbidden command: never compiled, never re-asked (see docs/worksheets.md)."""

    def __init__(self, reasons: Sequence[str]):
        self.reasons = list(reasons)
        super().__init__("the model's LaTeX is refused before compiling: " + "; ".join(self.reasons))


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("orbit_pipelines.jobs.worksheet_generation", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # text for a model, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _render(template: str, **values: Any) -> str:
    return _templates().get_template(f"llm/{template}").render(**values).strip()


def _user(phase: str, kind: str, content: str, **extra: Any) -> Turn:
    return {"role": "user", "phase": phase, "kind": kind, "content": content, **extra}


def design_opening(payload: WorksheetPayload) -> list[Turn]:
    schema = json.dumps(WorksheetDesign.model_json_schema(), indent=1)
    request = json.dumps(payload.model_dump(mode="json"), indent=1, ensure_ascii=False)
    return [
        {"role": "system", "phase": DESIGN, "kind": "system", "content": _render("design_system.md.j2", schema=schema)},
        _user(DESIGN, "task", _render("design_request.md.j2", request_json=request, count=payload.exercise_count)),
    ]


def latex_opening(design: WorksheetDesign) -> list[Turn]:
    design_json = json.dumps(design.model_dump(mode="json"), indent=1, ensure_ascii=False)
    return [
        {"role": "system", "phase": LATEX, "kind": "system", "content": _render("latex_system.md.j2")},
        _user(LATEX, "task", _render("latex_request.md.j2", design_json=design_json, paper=design.paper)),
    ]


def compile_errors_turn(errors: Sequence[dict], log: str) -> Turn:
    content = _render("compile_errors.md.j2", errors=list(errors), log_tail=log[-LOG_TAIL_CHARS:].strip())
    return _user(LATEX, "compile_errors", content, errors=list(errors))


def instruction_turn(instruction: str, errors: Sequence[dict], latex: str) -> Turn:
    content = _render("instruction.md.j2", instruction=instruction.strip(), errors=list(errors), latex=latex)
    return _user(LATEX, "instruction", content)


def phase_turns(history: Sequence[Turn], phase: str) -> list[Turn]:
    return [t for t in history if t.get("phase") == phase]


def api_messages(history: Sequence[Turn], phase: str) -> list[dict[str, str]]:
    return [{"role": t["role"], "content": t["content"]} for t in phase_turns(history, phase)]


def latest_latex(history: Sequence[Turn]) -> Optional[str]:
    """The model's newest accepted document (a fix comes after what it fixes), or None."""
    for turn in reversed(phase_turns(history, LATEX)):
        if turn["kind"] == "answer" and turn.get("valid"):
            return parse_latex(turn["content"])
    return None


# ---------------------------------------------------------------------------------------------
# Reading answers
# ---------------------------------------------------------------------------------------------

_FENCED = re.compile(r"```[a-zA-Z]*\s*\n(.*?)\n?\s*```", re.DOTALL)


def _unfenced(content: str) -> str:
    # A code fence around an otherwise good answer is no reason to pay for another one.
    text = content.strip()
    fenced = _FENCED.fullmatch(text)
    return fenced.group(1).strip() if fenced else text


def parse_design(content: str, payload: WorksheetPayload) -> WorksheetDesign:
    """The design in a model's answer, or AnswerInvalid naming every problem (field paths included)."""
    try:
        data = json.loads(_unfenced(content))
    except ValueError as exc:
        detail = (
            f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        )
        raise AnswerInvalid([f"the answer is not valid JSON: {detail}"]) from None
    try:
        design = WorksheetDesign.model_validate(data)
    except ValidationError as exc:
        raise AnswerInvalid(
            [
                f"{'.'.join(str(p) for p in err['loc']) or '(answer)'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    problems = []
    wanted = count_of(payload)
    if len(design.exercises) != wanted:
        problems.append(f"sections: {len(design.exercises)} exercises in total, the request asks for {wanted}")
    if design.paper != payload.paper:
        problems.append(f"paper: {design.paper!r}, the request asks for {payload.paper!r}")
    if design.include_answer_key != payload.include_answer_key:
        problems.append(f"include_answer_key: must be {str(payload.include_answer_key).lower()} as in the request")
    try:
        check_typesettable(design)
    except UntypesettableText as exc:
        problems.append(str(exc))
    if problems:
        raise AnswerInvalid(problems)
    return design


def parse_latex(content: str) -> str:
    """The document in a model's answer: AnswerInvalid when it is not one, LatexRefused when it may not be compiled."""
    latex = _unfenced(content)
    problems = [
        f"the answer is not a complete LaTeX document: no {needed}"
        for needed in ("\\documentclass", "\\begin{document}", "\\end{document}")
        if needed not in latex
    ]
    if problems:
        raise AnswerInvalid(problems)
    refused = forbidden_commands(latex)
    if refused:
        raise LatexRefused(refused)
    return latex + "\n"


# ---------------------------------------------------------------------------------------------
# The conversation
# ---------------------------------------------------------------------------------------------


def _asked_already(turns: Sequence[Turn], request: Turn) -> bool:
    """A retry finds its request pending (stored, not answered yet) or answered: it is not asked twice."""
    if turns[-1]["content"] == request["content"]:
        return True
    return len(turns) >= 2 and turns[-1]["kind"] == "answer" and turns[-2]["content"] == request["content"]


@dataclass(frozen=True)
class Outcome:
    value: Any
    calls: int  # model calls made now; 0 when a stored answer was reused


def converse(
    history: Sequence[Turn],
    phase: str,
    *,
    opening: Callable[[], list[Turn]],
    parse: Callable[[str], Any],
    ask: Callable[[list[dict[str, str]]], Any],
    remember: Callable[[list[Turn]], None],
    run_id: str,
    max_attempts: int,
    request: Optional[Turn] = None,
) -> Outcome:
    """Continue the task's conversation in `phase` until the model gives an acceptable answer.

    `remember` persists new turns before the next call, so whatever interrupts this (a 429, a crash)
    the retry carries on from the same turn. The phase's last answer, when it was accepted and no new
    `request` (compile errors, an instruction) is pending, is reused without a call. Invalid answers
    are re-asked with their problems, at most `max_attempts` per run, then AnswerRejected. A refused
    answer (LatexRefused) is stored and raised: it is not something to negotiate with the model.
    """
    history = list(history)

    def add(*turns: Turn) -> None:
        stamped = [{**t, "run_id": run_id} for t in turns]
        remember(stamped)
        history.extend(stamped)

    if not phase_turns(history, phase):
        add(*opening())
    if request is not None and not _asked_already(phase_turns(history, phase), request):
        add(request)
    last = phase_turns(history, phase)[-1]
    if last["kind"] == "answer" and last.get("valid"):
        return Outcome(parse(last["content"]), calls=0)
    invalid = sum(
        1
        for t in phase_turns(history, phase)
        if t["kind"] == "answer" and not t.get("valid") and t.get("run_id") == run_id
    )
    calls = 0
    while True:
        if invalid >= max_attempts:
            problems: list[str] = next((t.get("problems", []) for t in reversed(history) if t["kind"] == "errors"), [])
            raise AnswerRejected(
                f"the model gave {invalid} invalid answer{'s' if invalid != 1 else ''} in this run "
                f"(at most {max_attempts}); last problems: {'; '.join(problems)}"
            )
        reply = ask(api_messages(history, phase))
        calls += 1
        try:
            value = parse(reply.content)
        except AnswerInvalid as exc:
            problems = exc.problems
            if reply.finish_reason == "length":
                problems = ["the answer was cut off at the token limit: answer more concisely", *problems]
            answer = {"role": "assistant", "phase": phase, "kind": "answer", "valid": False, "content": reply.content}
            add(
                answer,
                _user(phase, "errors", _render("errors.md.j2", problems=problems, phase=phase), problems=problems),
            )
            invalid += 1
            continue
        except LatexRefused as exc:
            add(
                {
                    "role": "assistant",
                    "phase": phase,
                    "kind": "answer",
                    "valid": False,
                    "refused": exc.reasons,
                    "content": reply.content,
                }
            )
            raise
        add({"role": "assistant", "phase": phase, "kind": "answer", "valid": True, "content": reply.content})
        return Outcome(value, calls)

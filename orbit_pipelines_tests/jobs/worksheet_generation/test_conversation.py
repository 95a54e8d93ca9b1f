"""The `llm` strategy's conversation logic on its own (no server): what is asked, what is reused, what is refused."""

import json
from dataclasses import dataclass

import pytest

from orbit_pipelines.jobs.worksheet_generation.conversation import (
    DESIGN,
    LATEX,
    AnswerInvalid,
    AnswerRejected,
    LatexRefused,
    converse,
    design_opening,
    instruction_turn,
    latest_latex,
    latex_opening,
    parse_design,
    parse_latex,
)
from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetPayload

PAYLOAD = WorksheetPayload(prompt="4 sums up to 20")
SHEET = design_worksheet(PAYLOAD)
DOCUMENT = "\\documentclass{article}\n\\begin{document}\nFour sums\n\\end{document}"


@dataclass(frozen=True)
class Reply:
    content: str
    finish_reason: str = "stop"


class Model:
    """Answers in turn what the test gives it, and keeps what it was asked."""

    def __init__(self, *answers: str):
        self.answers, self.asked = list(answers), []

    def __call__(self, messages):
        self.asked.append(messages)
        return Reply(self.answers.pop(0))


def talk(history, phase, model, run_id="run-1", request=None, max_attempts=3):
    stored: list = []
    opening = (lambda: design_opening(PAYLOAD)) if phase == DESIGN else (lambda: latex_opening(SHEET))
    parse = (lambda c: parse_design(c, PAYLOAD)) if phase == DESIGN else parse_latex
    outcome = converse(
        history,
        phase,
        opening=opening,
        parse=parse,
        ask=model,
        remember=stored.extend,
        run_id=run_id,
        max_attempts=max_attempts,
        request=request,
    )
    return outcome, [*history, *stored]


def test_a_stored_accepted_answer_is_reused_by_a_retry_without_a_call():
    _, history = talk([], LATEX, Model(DOCUMENT))
    again, after = talk(history, LATEX, Model(), run_id="run-2")
    assert (again.calls, after) == (0, history)


def test_the_model_sees_only_its_phase_but_the_conversation_keeps_both():
    _, history = talk([], DESIGN, Model(SHEET.model_dump_json()))
    model = Model(DOCUMENT)
    _, history = talk(history, LATEX, model)
    assert [m["role"] for m in model.asked[0]] == ["system", "user"]
    assert model.asked[0][0]["content"].startswith("You typeset worksheets as LaTeX")
    assert [(t["phase"], t["kind"]) for t in history][:3] == [(DESIGN, "system"), (DESIGN, "task"), (DESIGN, "answer")]


def test_an_instruction_already_answered_is_not_asked_again():
    _, history = talk([], LATEX, Model(DOCUMENT))
    request = instruction_turn("Make it bigger", [], DOCUMENT)
    first, history = talk(history, LATEX, Model(DOCUMENT.replace("Four", "4")), request=request)
    again, after = talk(history, LATEX, Model(), request=request)
    assert (first.calls, again.calls, after) == (1, 0, history)
    assert latest_latex(history).count("4 sums") == 1


def test_a_design_with_the_wrong_count_is_sent_back_naming_it_and_the_attempts_are_bounded():
    short = SHEET.model_copy(
        update={"sections": [SHEET.sections[0].model_copy(update={"exercises": SHEET.exercises[:2]})]}
    )
    with pytest.raises(AnswerRejected, match="2 invalid answers"):
        talk([], DESIGN, Model(short.model_dump_json(), "not json"), max_attempts=2)
    with pytest.raises(AnswerInvalid, match="2 exercises in total, the request asks for 4"):
        parse_design(short.model_dump_json(), PAYLOAD)


def test_a_fenced_document_is_accepted_and_a_forbidden_one_is_refused_by_name():
    assert parse_latex(f"```latex\n{DOCUMENT}\n```") == DOCUMENT + "\n"
    with pytest.raises(LatexRefused, match=r"line 4: \\input\{/etc/passwd\} includes a file outside its folder"):
        parse_latex(DOCUMENT.replace("Four sums", "Four sums\n\\input{/etc/passwd}"))


def test_a_refused_answer_is_stored_before_it_is_raised():
    stored: list = []
    with pytest.raises(LatexRefused):
        converse(
            [],
            LATEX,
            opening=lambda: latex_opening(SHEET),
            parse=parse_latex,
            ask=Model(DOCUMENT.replace("Four", "\\write18{id}")),
            remember=stored.extend,
            run_id="run-1",
            max_attempts=3,
        )
    assert (
        stored[-1]["kind"] == "answer" and stored[-1]["valid"] is False and "\\write18{id}" in stored[-1]["refused"][0]
    )
    assert json.dumps(stored)  # every turn is JSON, as orbit.llm_conversations stores it

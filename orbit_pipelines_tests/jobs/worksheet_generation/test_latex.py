"""LaTeX from a design: user text typeset literally, never read as TeX; what a model or a person writes
is checked before it is compiled; a compile error names its line."""

import pytest

from orbit_pipelines.jobs.worksheet_generation.compile import compile_latex
from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
from orbit_pipelines.jobs.worksheet_generation.latex import UntypesettableText, forbidden_commands, render_latex
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetPayload

from .conftest import pdf_text

pytestmark = pytest.mark.usefixtures("tex")

HOSTILE_TITLE = r"Fees \input{/etc/passwd} \write18{touch /tmp/pwned} 100% & $5 #1 ^_~ {x}"


def compiled_text(tmp_path, **payload) -> str:
    result = compile_latex(render_latex(design_worksheet(WorksheetPayload(**payload))))
    assert result.ok, result.errors
    return pdf_text(result.pdf, tmp_path)


def test_the_exercises_and_the_answer_key_are_in_the_pdf(tmp_path):
    design = design_worksheet(WorksheetPayload(prompt="the 7 times table, 12 questions"))
    result = compile_latex(render_latex(design))
    text = pdf_text(result.pdf, tmp_path)
    assert result.pages == 2 and "Answer key" in text
    for exercise in design.exercises:
        assert exercise.question.replace(" =", "") in " ".join(text.split())
        assert exercise.answer in text


def test_tex_specials_and_commands_in_the_request_are_typeset_as_text_never_run(tmp_path):
    text = " ".join(compiled_text(tmp_path, prompt="10 addition sums", title=HOSTILE_TITLE).split())
    assert r"\input{/etc/passwd} \write18{touch /tmp/pwned} 100% & $5 #1 ^_~ {x}" in text
    assert "root:" not in text


def test_text_outside_latin_script_is_refused_naming_where_it_is():
    design = design_worksheet(WorksheetPayload(prompt="10 sums", title="Задачи"))
    with pytest.raises(UntypesettableText, match=r"title: 'З' \(U\+0417"):
        render_latex(design)


@pytest.mark.parametrize(
    "latex, why",
    [
        (r"\immediate\write18{rm -rf /}", "writes or reads files"),
        (r"\input{/etc/passwd}", "includes a file outside its folder"),
        (r"\include{../../secret}", "includes a file outside its folder"),
        (r"\openin5=/etc/hosts", "writes or reads files"),
        (r"\usepackage{shellesc}", "escapes to the shell"),
    ],
)
def test_latex_that_would_run_programs_or_read_files_is_refused_before_compiling(latex, why):
    [reason] = forbidden_commands(f"\\documentclass{{article}}\n{latex}\n")[:1]
    assert reason.startswith("line 2:") and why in reason


def test_the_template_itself_passes_the_check():
    assert forbidden_commands(render_latex(design_worksheet(WorksheetPayload(prompt="5 sums")))) == []


def test_a_compile_error_is_parsed_into_its_line_message_and_snippet():
    result = compile_latex("\\documentclass{article}\n\\begin{document}\nfine\n\\undefinedthing\n\\end{document}\n")
    assert not result.ok and "Undefined control sequence" in result.log
    [error] = result.errors
    assert (error.line, error.message) == (4, "Undefined control sequence.")
    assert "   4> \\undefinedthing" in error.snippet


def test_even_a_file_the_engine_is_asked_to_read_directly_stays_out_of_reach():
    # openin_any=p: TeX itself refuses absolute paths, should a check ever miss one.
    result = compile_latex("\\documentclass{article}\n\\begin{document}\n\\input{/etc/hostname}\n\\end{document}\n")
    assert not result.ok

"""The deterministic design: real exercises from the request's own numbers and words."""

from fractions import Fraction

import pytest

from orbit_pipelines.jobs.worksheet_generation.design import design_worksheet
from orbit_pipelines.jobs.worksheet_generation.models import WorksheetPayload


def sheet(prompt, **fields):
    return design_worksheet(WorksheetPayload(prompt=prompt, **fields))


def test_the_same_request_gives_the_same_sheet():
    assert sheet("12 addition exercises up to 100") == sheet("12 addition exercises up to 100")


def test_another_request_gives_another_sheet():
    assert sheet("12 addition exercises up to 100").exercises != sheet("12 addition exercises up to 50").exercises


def test_twenty_fraction_exercises_are_twenty_fractions_with_their_simplest_answers():
    design = sheet("20 fraction exercises for year 5, with an answer key")
    assert (design.subject, len(design.exercises), design.level) == ("fractions", 20, "Year 5")
    for exercise in design.exercises:
        left, op, right, _ = exercise.question.split()
        expected = Fraction(left) + Fraction(right) if op == "+" else Fraction(left) - Fraction(right)
        whole, _, rest = exercise.answer.rpartition(" ")
        assert Fraction(int(whole or 0)) + Fraction(rest) == expected


def test_the_seven_times_table_is_products_of_seven():
    design = sheet("the 7 times table, 15 questions")
    assert len(design.exercises) == 15
    for exercise in design.exercises:
        factor, times, seven, _ = exercise.question.split()
        assert (times, seven, int(exercise.answer)) == ("x", "7", int(factor) * 7)


def test_numbers_stay_within_the_range_the_request_gives():
    design = sheet("10 addition sums up to 20")
    assert all(int(e.answer) <= 20 for e in design.exercises)


def test_equations_have_the_answer_that_solves_them():
    for exercise in sheet("Solve for x: 12 equations").exercises:
        a, sign, b, _, c = exercise.question.replace("x", "").split()
        x = int(exercise.answer.removeprefix("x = "))
        assert int(a) * x + (int(b) if sign == "+" else -int(b)) == int(c)


def test_a_vocabulary_sheet_uses_the_words_the_request_lists():
    design = sheet("vocabulary words: river, mountain, valley", exercise_count=3)
    assert [e.answer for e in design.exercises] == ["river", "mountain", "valley"]
    assert all(sorted(e.question.split()[-1]) == sorted(e.answer) for e in design.exercises)


def test_an_unknown_subject_is_refused_naming_the_field():
    with pytest.raises(ValueError, match="subject: 'astrology' is not one of"):
        sheet("something", subject="astrology")


@pytest.mark.parametrize(
    "prompt",
    [
        "20 fraction exercises for year 5, with an answer key",
        "30 addition and subtraction exercises up to 20",
        "15 linear equations",
        "12 unit conversions of length",
    ],
)
def test_a_sheet_never_asks_the_same_exercise_twice(prompt):
    questions = [e.question for e in design_worksheet(WorksheetPayload(prompt=prompt)).sections[0].exercises]
    assert len(questions) == len(set(questions)), [q for q in questions if questions.count(q) > 1]


def test_a_range_too_small_for_the_count_still_fills_the_sheet():
    sheet = design_worksheet(WorksheetPayload(prompt="the 7 times table", exercise_count=20))
    assert len(sheet.sections[0].exercises) == 20  # 12 distinct products, then repeats

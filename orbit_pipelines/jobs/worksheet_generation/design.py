"""The `deterministic` design: real exercises from rules, the prompt's numbers and words.

The subject comes from the payload or the prompt's words (fractions, equations, units, vocabulary,
else arithmetic); the count from the payload or the prompt ("20 exercises"), 10 otherwise; the
numbers from the prompt where it gives them ("up to 50", "the 7 times table"). A random generator
seeded with the request's own hash makes the same request give the same sheet, and another request
another sheet.
"""

from __future__ import annotations

import hashlib
import random
import re
from fractions import Fraction
from typing import Callable, Optional

from orbit_pipelines.jobs.worksheet_generation.models import (
    MAX_EXERCISES,
    Exercise,
    Section,
    WorksheetDesign,
    WorksheetPayload,
)

DEFAULT_COUNT = 10
SUBJECTS = ("arithmetic", "fractions", "equations", "units", "vocabulary")

_SUBJECT_WORDS = [
    ("fractions", r"\bfraction"),
    ("equations", r"\bequation|\bsolve for\b|\balgebra|\bunknown\b"),
    ("units", r"\bunit|\bconver|\bmetric\b|\bcentimet|\bkilogram|\blitre|\bliter"),
    ("vocabulary", r"\bvocabular|\bspelling\b|\bwords?\b\s*:"),
]
_COUNT = re.compile(
    r"\b(\d{1,3})\s+(?:\w+\s+){0,3}?(?:exercises|questions|problems|sums|items|words|equations|fractions|conversions|calculations)\b",
    re.I,
)
_UP_TO = re.compile(r"\b(?:up to|within|to|under|below|less than)\s+(\d{1,6})\b", re.I)
_TABLE = re.compile(r"\b(\d{1,2})\s*(?:x|times)\s*tables?\b|\btables? of (\d{1,2})\b", re.I)
_OPERATION_WORDS = [
    ("+", r"\badd|\bplus\b|\bsum"),
    ("-", r"\bsubtract|\bminus\b|\btake away|\bdifference"),
    ("x", r"\bmultipl|\btimes\b|\bproduct"),
    (":", r"\bdivi|\bshare"),
]


def seeded(payload: WorksheetPayload) -> random.Random:
    key = payload.model_dump_json(include={"prompt", "subject", "exercise_count", "level"})
    return random.Random(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))


def subject_of(payload: WorksheetPayload) -> str:
    if payload.subject:
        wanted = payload.subject.strip().lower()
        for subject in SUBJECTS:
            if wanted.startswith(subject[:5]):
                return subject
        raise ValueError(f"subject: {payload.subject!r} is not one of {', '.join(SUBJECTS)}")
    for subject, pattern in _SUBJECT_WORDS:
        if re.search(pattern, payload.prompt, re.I):
            return subject
    return "arithmetic"


def count_of(payload: WorksheetPayload) -> int:
    if payload.exercise_count:
        return payload.exercise_count
    found = _COUNT.search(payload.prompt)
    return max(1, min(60, int(found.group(1)))) if found else DEFAULT_COUNT


def _largest(prompt: str, default: int) -> int:
    found = _UP_TO.search(prompt)
    return max(10, min(1_000_000, int(found.group(1)))) if found else default


def _arithmetic(payload: WorksheetPayload, rng: random.Random, n: int) -> Section:
    prompt = payload.prompt
    table = _TABLE.search(prompt)
    if table:
        base = int(table.group(1) or table.group(2))
        factors = [rng.randint(1, 12) for _ in range(n)]
        items = [Exercise(question=f"{f} x {base} =", answer=str(f * base)) for f in factors]
        return Section(title=f"The {base} times table", instructions="Work out each product.", exercises=items)
    operations = [op for op, pattern in _OPERATION_WORDS if re.search(pattern, prompt, re.I)] or ["+", "-"]
    top = _largest(prompt, 100)
    items = []
    for i in range(n):
        op = operations[i % len(operations)]
        if op == "+":
            a, b = rng.randint(1, top // 2), rng.randint(1, top // 2)
            items.append(Exercise(question=f"{a} + {b} =", answer=str(a + b)))
        elif op == "-":
            a, b = sorted((rng.randint(1, top), rng.randint(1, top)), reverse=True)
            items.append(Exercise(question=f"{a} - {b} =", answer=str(a - b)))
        elif op == "x":
            a, b = rng.randint(2, 12), rng.randint(2, max(3, min(12, top // 10)))
            items.append(Exercise(question=f"{a} x {b} =", answer=str(a * b)))
        else:
            b, q = rng.randint(2, 12), rng.randint(2, 12)
            items.append(Exercise(question=f"{b * q} : {b} =", answer=str(q)))
    names = {"+": "addition", "-": "subtraction", "x": "multiplication", ":": "division"}
    title = " and ".join(names[op] for op in operations).capitalize() + f" up to {top}"
    return Section(title=title, instructions="Work out each answer.", exercises=items)


def _fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    whole, rest = divmod(value.numerator, value.denominator)
    return f"{whole} {rest}/{value.denominator}" if whole else f"{value.numerator}/{value.denominator}"


def _fractions(payload: WorksheetPayload, rng: random.Random, n: int) -> Section:
    same_denominator = bool(re.search(r"\bsame denominator|\blike fractions", payload.prompt, re.I))
    items = []
    for i in range(n):
        d1 = rng.choice([2, 3, 4, 5, 6, 8, 10, 12])
        d2 = d1 if same_denominator or i % 3 == 0 else rng.choice([2, 3, 4, 5, 6, 8, 10])
        a, b = Fraction(rng.randint(1, d1 - 1), d1), Fraction(rng.randint(1, d2 - 1), d2)
        if i % 2 == 0:
            question, answer = f"{a.numerator}/{a.denominator} + {b.numerator}/{b.denominator} =", a + b
        else:
            a, b = max(a, b), min(a, b)
            question, answer = f"{a.numerator}/{a.denominator} - {b.numerator}/{b.denominator} =", a - b
        items.append(Exercise(question=question, answer=_fraction_text(answer)))
    return Section(
        title="Adding and subtracting fractions",
        instructions="Work out each answer and write it in its simplest form.",
        exercises=items,
    )


def _equations(payload: WorksheetPayload, rng: random.Random, n: int) -> Section:
    items = []
    for _ in range(n):
        x, a, b = rng.randint(-9, 12), rng.randint(2, 9), rng.randint(1, 20)
        sign = "+" if rng.random() < 0.5 else "-"
        c = a * x + b if sign == "+" else a * x - b
        items.append(Exercise(question=f"{a}x {sign} {b} = {c}", answer=f"x = {x}"))
    return Section(title="Linear equations", instructions="Solve each equation for x.", exercises=items)


_CONVERSIONS = [("m", "cm", 100), ("km", "m", 1000), ("kg", "g", 1000), ("l", "ml", 1000), ("h", "min", 60)]


def _units(payload: WorksheetPayload, rng: random.Random, n: int) -> Section:
    items = []
    for i in range(n):
        big, small, factor = _CONVERSIONS[rng.randrange(len(_CONVERSIONS))]
        amount = rng.randint(1, 20)
        if i % 2 == 0:
            items.append(Exercise(question=f"{amount} {big} = ___ {small}", answer=f"{amount * factor} {small}"))
        else:
            items.append(Exercise(question=f"{amount * factor} {small} = ___ {big}", answer=f"{amount} {big}"))
    return Section(title="Converting units", instructions="Fill in the missing number.", exercises=items)


_LIST = re.compile(r"(?:words?|list)\s*:\s*(.+)", re.I | re.S)


def vocabulary_words(prompt: str) -> list[str]:
    """The words the request lists ("words: apple, river, ..."), else its own longer words."""
    listed = _LIST.search(prompt)
    source = listed.group(1) if listed else prompt
    words = [w.lower() for w in re.findall(r"[^\W\d_]{4,}", source)]
    if not listed:
        common = {"with", "from", "that", "this", "year", "words", "word", "list", "worksheet", "answer"}
        words = [w for w in words if w not in common]
    return list(dict.fromkeys(words))


def _vocabulary(payload: WorksheetPayload, rng: random.Random, n: int) -> Section:
    words = vocabulary_words(payload.prompt)
    if not words:
        raise ValueError("prompt: name the words for a vocabulary sheet, e.g. 'words: river, mountain, valley'")
    items = []
    for i in range(n):
        word = words[i % len(words)]
        letters = list(word)
        for _ in range(10):  # a scramble that is not the word itself, when the word allows one
            rng.shuffle(letters)
            if "".join(letters) != word or len(set(word)) == 1:
                break
        items.append(Exercise(question=f"Unscramble: {''.join(letters)}", answer=word))
    return Section(title="Vocabulary", instructions="Unscramble each word.", exercises=items)


_MAKERS: dict[str, Callable[[WorksheetPayload, random.Random, int], Section]] = {
    "arithmetic": _arithmetic,
    "fractions": _fractions,
    "equations": _equations,
    "units": _units,
    "vocabulary": _vocabulary,
}


# A maker draws this many exercises for each one the sheet holds, so a sheet can leave out the repeats a
# small range of numbers gives (1/2 + 1/2 three times in twenty).
DRAWS_PER_EXERCISE = 4


def _distinct(section: Section, count: int) -> Section:
    """The first `count` exercises with no question twice; repeats only when the range has too few."""
    distinct: dict[str, Exercise] = {}
    repeats: list[Exercise] = []
    for exercise in section.exercises:
        if exercise.question in distinct:
            repeats.append(exercise)
        else:
            distinct[exercise.question] = exercise
    return section.model_copy(update={"exercises": ([*distinct.values(), *repeats])[:count]})


def design_worksheet(payload: WorksheetPayload) -> WorksheetDesign:
    """The same request always gives the same sheet. Raises ValueError naming the field for what cannot be made."""
    subject = subject_of(payload)
    count = count_of(payload)
    draws = min(count * DRAWS_PER_EXERCISE, MAX_EXERCISES)
    section = _distinct(_MAKERS[subject](payload, seeded(payload), max(draws, count)), count)
    short = all(len(e.question) <= 24 for e in section.exercises)
    return WorksheetDesign(
        title=payload.title or section.title,
        subject=subject,
        level=payload.level or _level(payload.prompt),
        paper=payload.paper,
        columns=2 if short and count >= 8 else 1,
        include_answer_key=payload.include_answer_key,
        sections=[section],
    )


def _level(prompt: str) -> Optional[str]:
    found = re.search(r"\b(year|grade|class|level)\s+(\d{1,2})\b", prompt, re.I)
    return f"{found.group(1).capitalize()} {found.group(2)}" if found else None

"""Numbers in a task's text: durations ("30 seconds", "a minute" after within/per/every), percentages,
clock times and plain numbers, as the clauses read them (clauses.py)."""

from __future__ import annotations

import re

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "a": 1, "an": 1,
}  # fmt: skip
_UNIT = r"(?:ms|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|days?|weeks?|months?|years?)"
UNIT_WORD = re.compile(r"(?:second|minute|hour|day|night|week|month|year)", re.IGNORECASE)
DURATION = re.compile(rf"\b(?P<n>\d[\d,.]*|{'|'.join(NUMBER_WORDS)})[\s-]?(?P<unit>{_UNIT})\b", re.IGNORECASE)
PERCENT = re.compile(r"(?P<p>\d+(?:\.\d+)?)\s?%")
CLOCK = re.compile(r"\b(?P<t>\d{1,2}:\d{2})\b")
NUMBER = re.compile(r"(?<![\w.:-])(?P<n>\d[\d,]*)(?![\w:%]|\s?%)")


def is_article_duration(m: re.Match) -> bool:
    # "a minute", "an hour" count only after within/per/every ("within a minute"), not "a day pass".
    if m.group("n").lower() not in {"a", "an"}:
        return False
    before = m.string[: m.start()].rstrip().lower()
    return not before.endswith(("within", "in", "per", "every", "once", "for", "after"))


def duration_text(m: re.Match) -> str:
    n = m.group("n").lower()
    n = str(NUMBER_WORDS[n]) if n in NUMBER_WORDS else n
    unit = m.group("unit").lower()
    unit = {"secs": "seconds", "sec": "second", "mins": "minutes", "min": "minute"}.get(unit, unit)
    if n == "1" and unit.endswith("s") and unit != "ms":
        unit = unit[:-1]
    elif n != "1" and not unit.endswith("s"):
        unit += "s"
    return f"{n} {unit}"

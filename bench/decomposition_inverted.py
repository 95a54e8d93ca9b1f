"""Inverted lines in a plan: a negated clause of the task restated without its negation.

"A reminder is never sent twice for the same due date" read as "Send twice for same due date" says the
opposite of the task. For each clause of the task (a sentence part between commas and semicolons) that
holds a negation (never, not, no, cannot, n't, without, only once), this check takes the verb after the
negation and the clause's other content words (its object, the subject of a passive, "twice") and counts
the plan lines that name the verb and one of those words, by stem, with no word of negation or refusal
anywhere in the line. Its own short lists, not the decomposer's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CLAUSE_END = re.compile(r"[.;:!?]\s+|,\s*|\s+(?:and|but)\s+(?=(?:never|not|no|cannot)\b)|\n")
_NEGATION = re.compile(r"\b(?:never|not|no|cannot|can't|won't|don't|doesn't|isn't|aren't|mustn't|without|only once)\b")
# A line says the negation in its own words: "never", "no second", "refused", "exits without".
_LINE_NEGATION = re.compile(
    r"\b(?:never|not|no|none|nothing|nobody|cannot|without|refus\w*|reject\w*|den(?:y|ies|ied)|forbid\w*|"
    r"block\w*|prevent\w*|only once|at most once|once only|\w+n't)\b",
    re.IGNORECASE,
)
_SKIP = frozenset(
    """a an the this that these those their its our your his her my any some each every all no not never
    is are was were be been being am has have had do does did can could should would must may might will shall
    ever also only even still just yet always automatically be get
    of to in on at by for from with without via over under into as and or but if when unless until""".split()
)
_WORD = re.compile(r"[a-z][a-z'-]*")
# Irregular participles the stem does not reach.
_IRREGULAR = {"sent": "send", "kept": "keep", "shown": "show", "paid": "pay", "held": "hold", "sold": "sell",
              "written": "write", "given": "give", "taken": "take", "made": "make", "built": "build"}  # fmt: skip


def _lemma(word: str) -> str:
    """A crude base form: "sent" -> "send", "stored" -> "stor", "expires" -> "expir"."""
    word = _IRREGULAR.get(word, word)
    for end in ("ing", "ies", "ied", "es", "ed", "s", "e"):
        if word.endswith(end) and len(word) - len(end) >= 3:
            word = word[: -len(end)]
            break
    return word.rstrip("e")


def negated_pairs(text: str) -> list[tuple[str, frozenset[str]]]:
    """(verb, the clause's object words) of each negated clause of `text`: the words after the verb up to
    the next function word, and the subject of a passive (the two words before the negation)."""
    pairs = []
    for clause in _CLAUSE_END.split(text.lower()):
        m = _NEGATION.search(clause)
        if m is None:
            continue
        after = [w for w in _WORD.findall(clause[m.end() :]) if w not in _SKIP or w in {"twice", "again"}]
        before = [w for w in _WORD.findall(clause[: m.start()]) if w not in _SKIP][-2:]
        if not after:
            continue
        objects = [w for w in [*after[1:3], *before] if len(w) > 3 and w not in _NUMBERS]
        if objects:
            pairs.append((_lemma(after[0]), frozenset(_lemma(w) for w in objects)))
    return pairs


_NUMBERS = frozenset("one two three four five six seven eight nine ten first second third".split())
_TASK_TITLE = re.compile(r"\u201c[^\u201d]*\u201d")


def inverted_lines(task_texts: Iterable[str], lines: Iterable[str]) -> list[str]:
    """The plan lines that name a negated clause's verb and one of its object words with no negation in
    the line (a subtask description's quote of the task title left out)."""
    pairs = [p for text in task_texts for p in negated_pairs(text)]
    found = []
    for line in lines:
        if _LINE_NEGATION.search(line):
            continue
        words = [_lemma(w) for w in _WORD.findall(_TASK_TITLE.sub("", line).lower())]
        if any(verb in words and set(words) - {verb} & objects for verb, objects in pairs):
            found.append(line)
    return found

"""Requirement clauses: a task's description, acceptance criteria and project rules cut into the
clauses that each state one requirement, and what each clause says (actor, verb, object, numbers).

Rules, not a model: a clause is a sentence part between semicolons, commas and "then"; its verb is
the first word the verb list of work.toml knows. Same text, same clauses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from orbit_pipelines.jobs.task_decomposition.words import FUNCTION_WORDS, split_sentences

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "a": 1, "an": 1,
}  # fmt: skip
_UNIT = r"(?:ms|milliseconds?|seconds?|secs?|minutes?|mins?|hours?|days?|weeks?|months?|years?)"
DURATION = re.compile(rf"\b(?P<n>\d[\d,.]*|{'|'.join(_NUMBER_WORDS)})[\s-]?(?P<unit>{_UNIT})\b", re.IGNORECASE)
PERCENT = re.compile(r"(?P<p>\d+(?:\.\d+)?)\s?%")
CLOCK = re.compile(r"\b(?P<t>\d{1,2}:\d{2})\b")
NUMBER = re.compile(r"(?<![\w.:-])(?P<n>\d[\d,]*)(?![\w:%]|\s?%)")
# Where a clause ends inside a sentence; "and" alone does not end one ("orders and refunds"), nor
# does the comma of a number ("10,000 rows").
_CLAUSE_BREAK = re.compile(
    r";\s*|,(?!\d{3})\s*(?:and\s+|then\s+|but\s+|or\s+)?|\s+(?:and\s+)?then\s+|:\s+", re.IGNORECASE
)
_PARENS = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[A-Za-z0-9@/][A-Za-z0-9@/'._%-]*[A-Za-z0-9%]|[A-Za-z0-9]")
MAX_OBJECT_WORDS = 4
_AUXILIARIES = frozenset("is are was were be been being has have had does do did".split())
_NOT_OBJECT = frozenset({"a", "an", "the", "their", "its", "our", "his", "her", "your", "them", "it"})
MODALS = frozenset("can may must should will shall could would might cannot never always only also".split())
# Words that end an object phrase: what follows qualifies the work rather than naming its object.
_OBJECT_END = frozenset(
    """for within after before when if by to from into via through with without until unless while where
    which who that per at in on over under than as and or but since once so then""".split()
)


@dataclass(frozen=True)
class Clause:
    text: str
    source: str  # description, acceptance, rule or title
    words: tuple[str, ...]
    actor: str = ""
    verb: str = ""  # base form
    obj: str = ""
    terms: tuple[str, ...] = field(default_factory=tuple)  # the content words after the object

    @property
    def gist(self) -> str:
        """Verb and object, as work: 'hide comments', 'retry failures'."""
        # No object ("the load runs", "release it"): what the clause goes on to name stands in for it.
        obj = self.obj or " ".join(list(dict.fromkeys(self.terms))[:3])
        return " ".join(p for p in (self.verb, obj) if p) or " ".join(self.words[:3])

    @property
    def durations(self) -> list[str]:
        return [_duration_text(m) for m in DURATION.finditer(self.text) if not _is_article_duration(m)]


def _is_article_duration(m: re.Match) -> bool:
    # "a minute", "an hour" count only after within/per/every ("within a minute"), not "a day pass".
    if m.group("n").lower() not in {"a", "an"}:
        return False
    before = m.string[: m.start()].rstrip().lower()
    return not before.endswith(("within", "in", "per", "every", "once", "for", "after"))


def _duration_text(m: re.Match) -> str:
    n = m.group("n").lower()
    n = str(_NUMBER_WORDS[n]) if n in _NUMBER_WORDS else n
    unit = m.group("unit").lower()
    unit = {"secs": "seconds", "sec": "second", "mins": "minutes", "min": "minute"}.get(unit, unit)
    if n == "1" and unit.endswith("s") and unit != "ms":
        unit = unit[:-1]
    elif n != "1" and not unit.endswith("s"):
        unit += "s"
    return f"{n} {unit}"


def _split(sentence: str) -> list[str]:
    # Commas inside parentheses list fields, they do not separate requirements.
    protected = _PARENS.sub(lambda m: m.group(0).replace(",", "\x00"), sentence)
    parts = [p.replace("\x00", ",").strip(" .") for p in _CLAUSE_BREAK.split(protected)]
    return [p for p in parts if len(p.split()) >= 2]


def lemma(word: str, verbs: frozenset[str]) -> str | None:
    """The verb `word` is a form of (the base form in `verbs`), or None."""
    w = word.lower()
    candidates = [w]
    if w.endswith("ies"):
        candidates.append(w[:-3] + "y")
    if w.endswith("es"):
        candidates.append(w[:-2])
    if w.endswith("s"):
        candidates.append(w[:-1])
    if w.endswith("ed"):
        candidates += [w[:-2], w[:-1], w[:-3] if len(w) > 4 and w[-3] == w[-4] else w[:-2]]
    if w.endswith("ing"):
        candidates += [w[:-3], w[:-3] + "e", w[:-4] if len(w) > 5 and w[-4] == w[-5] else w[:-3]]
    return next((c for c in candidates if c in verbs), None)


def parse_clause(text: str, source: str, verbs: frozenset[str]) -> Clause:
    words = tuple(_WORD.findall(text))
    lower = [w.lower() for w in words]
    verb_at = next((i for i, w in enumerate(words) if lemma(w, verbs) and lower[i] not in MODALS), None)
    if verb_at is None:
        named = [w for w in _content(words) if w.lower() not in _AUXILIARIES]
        return Clause(text, source, words, obj=" ".join(named[:MAX_OBJECT_WORDS]), terms=())
    actor = " ".join(w for w in words[:verb_at] if w.lower() not in MODALS and w.lower() not in FUNCTION_WORDS)
    verb = lemma(words[verb_at], verbs) or ""
    j = verb_at + 1
    obj: list[str] = []
    while j < len(words) and lower[j] not in _OBJECT_END and len(obj) < MAX_OBJECT_WORDS:
        # Numbers qualify the object ("get 1000 requests"), they never name it.
        if lower[j] not in _NOT_OBJECT and not lower[j].replace(",", "").replace(".", "").isdigit():
            obj.append(words[j])
        j += 1
    while j < len(words) and lower[j] not in _OBJECT_END:
        j += 1  # an object longer than the cap: the rest of it is not a qualifier
    return Clause(text, source, words, actor, verb, " ".join(obj), tuple(_content(words[j:])))


def _content(words) -> list[str]:
    return [w for w in words if w.lower() not in FUNCTION_WORDS and w.lower() not in MODALS]


def clauses_of(payload, verbs: frozenset[str]) -> list[Clause]:
    """Every requirement clause of the task, in reading order; the title counts when nothing else does."""
    found: list[Clause] = []
    sources = [("description", payload.description)]
    sources += [("acceptance", c) for c in payload.acceptance_criteria]
    sources += [("rule", r) for r in payload.project_rules]
    for source, text in sources:
        for sentence in split_sentences(text):
            found += [parse_clause(part, source, verbs) for part in _split(sentence)]
    return found or [parse_clause(payload.title, "title", verbs)]

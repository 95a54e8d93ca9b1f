"""The specifics of a requirement clause that a plan must keep: its figures (a cap, a volume, a count),
its clock times, the outside systems it names and the concepts it names in two or three words ("kill
switch", "time zone", "line number", "fall back").

The work patterns (knowledge/work.toml) turn the clauses they know into work items; what a clause says
beyond them would otherwise reach the plan only as a quoted sentence. Here every specific becomes work
in its own right: a cap is enforced and tested one past it, a volume is sized for and load-tested, a
named system is integrated, a concept is a named part of the work. Rules, not a model: same clause,
same specifics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from orbit_pipelines.jobs.task_decomposition.clauses import CLOCK, MODALS, Clause
from orbit_pipelines.jobs.task_decomposition.language import is_happening, lemma, phrasal_verb
from orbit_pipelines.jobs.task_decomposition.words import FUNCTION_WORDS, NEVER_NOUNS

_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "twelve": "12", "twenty": "20", "hundred": "100",
}  # fmt: skip
_SCALE_WORDS = r"(?:\s(?:million|billion|thousand))?"
_NUMBER = rf"(?P<n>(?<![\w:.-])\d[\d,.]*(?![\d:])(?!-[A-Za-z]*\d){_SCALE_WORDS}|\b(?:{'|'.join(_NUMBER_WORDS)})\b)"
_CAP_CUE = r"at most|up to|no more than|maximum of|a maximum of|max|tops? out at|limited to|capped at|at the most"
_VOLUME_CUE = r"over|across|existing|more than|of|for|with|handles?|serves?"
FIGURE = re.compile(rf"(?:(?P<cue>\b(?:{_CAP_CUE}|{_VOLUME_CUE}|last|every|per|within|after|at least)\b)\s+)?{_NUMBER}")
_PARTICLES = frozenset("back off out up down over".split())
_DETERMINERS = frozenset("a an the each every its their our your this that".split())
# "ranked by relevance", "chained by hash": the criterion a behaviour goes by.
_CRITERION = re.compile(r"\b(?:by|on)\s+(?P<what>[a-z][a-z-]+)(?=[\s,.;)]|$)")
# "Progress is shown", "Photos are compressed": the subject of a passive clause is what the work is on.
_PASSIVE = re.compile(
    r"^(?:(?:a|an|the|each|every)\s+)?(?P<what>[A-Za-z][\w'-]*(?:\s[A-Za-z][\w'-]*)?)\s+(?:is|are)\s+(?:being\s+)?\w+(?:ed|en|wn)\b"
)
# "Managers only see the stores they manage": a restriction, which is permission work.
_RESTRICTION = re.compile(
    r"\b(?P<who>[A-Za-z]+)\s+(?:can\s+)?only\s+(?P<verb>[a-z]+)\s+(?:the\s+)?(?P<what>[a-z][\w' ]*)"
)
_NAME = re.compile(r"\b(?:[A-Z][a-z]+[A-Z][A-Za-z]*|[A-Z]{2,}[a-z]?s?\d*|[a-z]+/[a-z]+)\b")
_UNITS = frozenset("ms kb mb gb tb km m kg px".split())
_SKIP_NAMES = frozenset({"ID", "IDS", "OK", "API", "URL", "URLS", "UTC", "UI", "UX", "HTTP", "HTTPS"})
# File formats are rendered or parsed, not integrated with: the rendering patterns of work.toml carry them.
_FORMATS = frozenset("CSV TSV PDF XLSX XLS ZIP JSON XML HTML YAML PNG JPEG JPG GIF SVG WEBP MP3 MP4".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'/-]*[A-Za-z0-9]|[A-Za-z]|\d[\d,.]*")
MAX_CONCEPTS = 3


@dataclass(frozen=True)
class Figure:
    kind: str  # cap, threshold, volume or count
    number: str
    what: str  # the noun phrase it counts: "pending invitations", "files", "MB"
    joined: bool = False  # written as one word with its unit: "2-hour", "30-day"

    @property
    def phrase(self) -> str:
        return f"{self.number}{'-' if self.joined else ' '}{self.what}".strip()


@dataclass(frozen=True)
class Specifics:
    figures: tuple[Figure, ...]
    times: tuple[str, ...]
    names: tuple[str, ...]
    concepts: tuple[str, ...]
    restrictions: tuple[tuple[str, str], ...] = ()  # (who, what they are limited to)
    actions: tuple[str, ...] = ()  # phrasal verbs, base form: "fail over", "back off"

    def __bool__(self) -> bool:
        return bool(self.figures or self.times or self.names or self.concepts or self.restrictions or self.actions)


def _content(word: str) -> bool:
    low = word.lower()
    return low not in FUNCTION_WORDS | MODALS and not low[:1].isdigit() and low not in _NUMBER_WORDS


def _counted(rest: str, verbs: frozenset[str]) -> tuple[str, bool]:
    """The noun phrase a number counts (the content words right after it, up to three, with its `per X`),
    and whether a verb follows it ("more than 1000 invoices run in the background": a threshold)."""
    words = _WORD.findall(rest)[:6]
    what: list[str] = []
    i = 0
    while (
        i < len(words)
        and len(what) < 3
        and _content(words[i])
        and words[i].lower() != "such"
        and not (what and lemma(words[i].lower(), verbs))
    ):
        what.append(words[i])
        i += 1
    if not what and words[:1] == ["such"] and len(words) > 1 and _content(words[1]):
        what, i = [words[1]], 2
    if i + 1 < len(words) and words[i].lower() == "per" and _content(words[i + 1]):
        what += ["per", words[i + 1]]
    verb_follows = i < len(words) and lemma(words[i].lower(), verbs) is not None
    return " ".join(what), verb_follows


def _kind(cue: str | None, number: str, what: str, verb_follows: bool) -> str:
    cue = (cue or "").lower()
    if re.fullmatch(_CAP_CUE, cue):
        # "results may take up to 10 seconds": a length of time allowed for an answer, not a count refused.
        return "budget" if re.match(r"(?:ms|milliseconds?|seconds?|secs?|minutes?)\b", what) else "cap"
    if verb_follows and cue in {"more than", "over", "at least"}:
        return "threshold"
    value = number.replace(",", "")
    large = any(w in number for w in ("million", "billion", "thousand")) or (value.isdigit() and int(value) >= 1000)
    if large and cue in {"over", "across", "existing", "more than", "of", "for", "with", "handles", "serves", ""}:
        return "volume"
    return "count"


# "30, 14 and 3 days before": one figure of several values sharing a unit.
_NUMBER_LIST = re.compile(r"(?<![\w.])(?P<n>\d+(?:,\s*\d+)*,?\s+(?:and|or)\s+\d+)\s+(?=[A-Za-z])")


def figures_of(text: str, verbs: frozenset[str] = frozenset()) -> list[Figure]:
    found: list[Figure] = []
    lists = [m.span() for m in _NUMBER_LIST.finditer(text)]
    for m in _NUMBER_LIST.finditer(text):
        what, _ = _counted(text[m.end("n") :], verbs)
        if what:
            found.append(Figure("count", " ".join(m.group("n").split()), what))
    for m in FIGURE.finditer(text):
        if any(a <= m.start("n") < b for a, b in lists):
            continue  # a value of a list of figures, counted with its list
        number = m.group("n").rstrip(".,")  # as the task writes it: "one", "2 million", "20,000"
        if CLOCK.search(text[max(0, m.start("n") - 3) : m.end("n") + 3]) or not number:
            continue  # a clock time, not a figure
        what, verb_follows = _counted(text[m.end("n") :], verbs)
        if m.group("n").lower() in _NUMBER_WORDS and not m.group("cue"):
            continue  # "one of", "two-factor": a number word counts only after a cue ("at most one")
        if not what and m.group("cue") is None:
            continue
        joined = text[m.end("n") : m.end("n") + 1] == "-"
        found.append(Figure(_kind(m.group("cue"), number, what, verb_follows), number, what, joined))
    return found


def _names(text: str, figures: list[Figure]) -> list[str]:
    units = {f.what.split()[0].lower() for f in figures if f.what}
    names = [m.group(0) for m in _NAME.finditer(text)]
    skip = _SKIP_NAMES | _FORMATS
    return [n for n in dict.fromkeys(names) if n.upper() not in skip and n.lower() not in units | _UNITS]


def _concepts(clause: Clause, verbs: frozenset[str]) -> tuple[list[str], list[str]]:
    """What the clause names in a few words, and the actions it names by a verb and its particle.

    Concepts: runs of content words ("kill switch", "time zone"; of a longer run, its last two), a
    particle pair after a determiner ("a fall back"), the criterion it goes by ("by relevance") and the
    subject of a passive clause ("progress"). Actions: a phrasal verb in its base form ("fails over" ->
    "fail over", "back off"), which is work to do, never a thing ("the fails over"); none of its words
    joins a run of nouns."""
    words = [w for w in _WORD.findall(clause.text) if not w[:1].isdigit()]
    found: list[str] = []
    actions: list[str] = []
    run: list[str] = []
    for i, word in enumerate([*words, "."]):
        low = word.lower()
        nxt = words[i + 1].lower() if i + 1 < len(words) else ""
        after_next = words[i + 2].lower() if i + 2 < len(words) else ""
        after_determiner = i > 0 and words[i - 1].lower() in _DETERMINERS
        base = lemma(low, verbs)
        phrasal = phrasal_verb(words, i) if i < len(words) else None
        # Not "retries | back off" (the particle starts a verb of its own), nor "retry up to 5 times" (a cap).
        particle_next = nxt in _PARTICLES and not phrasal_verb(words, i + 1) and (nxt, after_next) != ("up", "to")
        if phrasal is None and base and particle_next and _content(word) and not low.endswith("ing"):
            phrasal = f"{base} {nxt}"  # a verb of the verb list with a particle the curated list lacks
        if phrasal and not after_determiner and not low.endswith("ing") and not is_happening(phrasal):
            # Not a gerund ("switching back takes effect", "without timing out") nor what merely happens
            # ("if one region goes down": a condition).
            actions.append(phrasal)
        elif particle_next and _content(word) and (base or not run) and not low.endswith("ing"):
            found.append(f"{low} {nxt}")  # "a fall back": a noun
        # A verb-like word names a thing after a determiner ("a kill switch") or when a verb follows it.
        noun_use = (
            bool(run)
            and (lemma(nxt, verbs) is not None or after_next in FUNCTION_WORDS)
            and not phrasal
            or after_determiner
        )
        is_verb = base is not None or phrasal is not None
        if word != "." and _content(word) and low not in _PARTICLES | NEVER_NOUNS and (not is_verb or noun_use):
            run.append(low)
            continue
        if len(run) >= 2:
            found.append(" ".join(run[-3:] if len(run) == 3 else run[-2:]))
        run = []
    found += [m.group("what").lower() for m in _CRITERION.finditer(clause.text) if _content(m.group("what"))]
    if (m := _PASSIVE.search(clause.text)) is not None and all(_content(w) for w in m.group("what").split()):
        found.append(m.group("what").lower())
    return list(dict.fromkeys(found))[:MAX_CONCEPTS], list(dict.fromkeys(actions))[:MAX_CONCEPTS]


def _restrictions(text: str, verbs: frozenset[str]) -> list[tuple[str, str]]:
    """(who, what they may do) of each "X only <verb> ..." in `text`. X must name someone (not a verb or a
    function word: "show only the last 4 digits", "and only its hash is stored" restrict no one), and the
    word after "only" must be a verb ("the load balancer only when they pass" restricts no one either)."""
    found = []
    for m in _RESTRICTION.finditer(text):
        who, verb = m.group("who").lower(), m.group("verb").lower()
        if not _content(who) or lemma(who, verbs) or who.endswith("ed") or lemma(verb, verbs) is None:
            continue
        what = " ".join(m.group("what").split()[:5])
        found.append((m.group("who").lower(), f"{_base_form(m.group('verb'))} {what}"))
    return found


def _base_form(word: str) -> str:
    """The verb of a restriction as its subject's plural takes it: "sees" -> "see"."""
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def specifics_of(clause: Clause, verbs: frozenset[str]) -> Specifics:
    figures = figures_of(clause.text, verbs)
    counted = {w.lower() for f in figures for w in f.what.split()}
    times = [
        m.group(0) + (" UTC" if "UTC" in clause.text[m.end() : m.end() + 5] else "")
        for m in CLOCK.finditer(clause.text)
    ]
    concepts, actions = _concepts(clause, verbs)
    return Specifics(
        tuple(dict.fromkeys(figures)),
        tuple(dict.fromkeys(times)),
        tuple(_names(clause.text, figures)),
        # A concept that only repeats what a figure counts ("next days" beside "7 days") adds nothing.
        tuple(c for c in concepts if not set(c.split()) & counted),
        tuple(_restrictions(clause.text, verbs)),
        tuple(actions),
    )


def figures_only(specifics: Specifics) -> Specifics:
    """What a clause that an entity's CRUD subtasks stand for still adds: its figures, times and
    restrictions (its names and concepts are the entity's fields and formats, which those subtasks carry)."""
    return Specifics(specifics.figures, specifics.times, (), (), specifics.restrictions)


def missing_from(specifics: Specifics, said: str) -> Specifics:
    """The specifics `said` (the plan's own lines, lower case) does not mention yet."""

    def absent(phrase: str) -> bool:
        return phrase.lower() not in said

    return Specifics(
        tuple(f for f in specifics.figures if absent(" ".join(f.phrase.split()[:2]))),
        tuple(t for t in specifics.times if absent(t.split()[0])),
        tuple(n for n in specifics.names if absent(n)),
        tuple(c for c in specifics.concepts if absent(c)),
        # A restriction is carried once the plan checks it as a permission, not merely names its object.
        tuple(r for r in specifics.restrictions if absent("permission") or absent(r[1])),
        # An action is said as work, in its base form: "traffic fails over" describes the behaviour, "fail
        # over" is the work to implement.
        tuple(a for a in specifics.actions if absent(a)),
    )


_TITLE_OF_KIND = {"cap": "cap of", "budget": "time allowance of", "threshold": "threshold of", "volume": "volume of"}


def specifics_title(specifics: Specifics) -> str:
    """A name for the work on the first specific: "cap of 50 pending invitations", "timing at 04:00 UTC"."""
    if specifics.figures:
        f = specifics.figures[0]
        return _TITLE_OF_KIND.get(f.kind, "setting of") + f" {f.phrase}"
    if specifics.times:
        return f"timing at {specifics.times[0]}"
    if specifics.names:
        return f"integration with {', '.join(specifics.names)}"
    if specifics.concepts:
        return f"the {specifics.concepts[0]}"
    if specifics.actions:
        return f"when to {specifics.actions[0]}"
    who, what = specifics.restrictions[0]
    return f"permission of {who} to {what}"


def work_lines(specifics: Specifics) -> list[str]:
    """What the implementation must do for each specific, phrased as work."""
    lines: list[str] = []
    for f in specifics.figures:
        if f.kind == "cap":
            lines.append(f"Enforce the cap of {f.phrase}: the one past it is refused with a clear error")
        elif f.kind == "budget":
            lines.append(
                f"Treat {f.phrase} as the response-time allowance (a latency budget, not a cap): set timeouts"
                " just above it and tell the caller the answer may be slow"
            )
        elif f.kind == "threshold":
            lines.append(
                f"Make the threshold ({f.phrase}) a named setting; each side of it takes the path the task gives"
            )
        elif f.kind == "volume":
            lines.append(f"Size the design for {f.phrase} (indexes, batching, memory) and measure it at that volume")
        else:
            lines.append(f"Implement the figure the task gives: {f.phrase}, as a named setting with that default")
    lines += [f"Run it at {t}, as stated" for t in specifics.times]
    if specifics.names:
        lines.append(f"Integrate with {', '.join(specifics.names)} behind an interface of our own")
    lines += [f"Handle the {c} the task names" for c in specifics.concepts]
    lines += [f"Implement how and when to {a}, as the task states it" for a in specifics.actions]
    lines += [f"Permission check: {who} are limited to what they {what}" for who, what in specifics.restrictions]
    return lines


def test_lines(specifics: Specifics) -> list[str]:
    """How a test proves each specific."""
    lines: list[str] = []
    for f in specifics.figures:
        if f.kind == "cap":
            lines.append(f"At the cap ({f.phrase}) the next one is refused; below it, it is accepted")
        elif f.kind == "budget":
            lines.append(f"With realistic data the 95th percentile answers within {f.phrase}; nothing is refused")
        elif f.kind == "threshold":
            lines.append(f"Exactly at {f.phrase} and one past it, each case takes its own path")
        elif f.kind == "volume":
            lines.append(f"A load test at {f.phrase} stays within the stated limits")
        else:
            lines.append(f"The behaviour holds at exactly {f.phrase} and changes just past it")
    lines += [f"With a controlled clock, it happens at {t} and not before" for t in specifics.times]
    if specifics.names:
        lines.append(f"Against a fake of {', '.join(specifics.names)}, the calls made are the expected ones")
    lines += [f"A test for the {c} the task names, as the task states it" for c in specifics.concepts]
    lines += [f"A test for when to {a} and when not to, as the task states it" for a in specifics.actions]
    lines += [
        f"Permission: {who} get a refusal for anything beyond what they {what}" for who, what in specifics.restrictions
    ]
    return lines

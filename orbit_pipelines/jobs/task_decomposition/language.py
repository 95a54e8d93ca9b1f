"""Words whose role their spelling does not show, from the curated lists of knowledge/language.toml:
phrasal verbs ("all traffic fails over", "retries back off", "the request times out": a verb and its
particle, never a noun phrase), UI widgets ("a consent banner", "a confirmation modal": what a screen
shows, never a DATA_MODEL entity; "a bell icon" names nothing at all) and the adjectives that say which
kind of thing a noun phrase names ("preventive maintenance schedules": a maintenance schedule). Also the
base form of a verb (`lemma`), which phrasal verbs need.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from orbit_pipelines.jobs.task_decomposition.knowledge import read_data


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


@dataclass(frozen=True)
class Language:
    particles: Mapping[str, frozenset[str]]  # verb (base form) -> the particles it takes as one verb
    irregular: Mapping[str, str]  # "went" -> "go"
    widgets: frozenset[str]
    happenings: frozenset[str] = frozenset()  # "go down", "come back": what happens, not work
    pictures: frozenset[str] = frozenset()  # "a bell icon": the qualifier is the picture, not a thing
    adjectives: frozenset[str] = frozenset()  # "preventive", "recurring": which kind, never the thing

    @property
    def phrasal_bases(self) -> frozenset[str]:
        return frozenset(self.particles)


@cache
def language() -> Language:
    raw = read_data("language.toml")
    particles: dict[str, set[str]] = {}
    for entry in raw["phrasal_verbs"].split(","):
        verb, particle = entry.split()
        particles.setdefault(verb, set()).add(particle)
    return Language(
        {verb: frozenset(p) for verb, p in particles.items()},
        dict(raw.get("irregular", {})),
        frozenset(raw["ui_widgets"].split()),
        frozenset(" ".join(e.split()) for e in raw.get("happenings", "").split(",") if e.strip()),
        frozenset(raw.get("pictures", "").split()),
        frozenset(raw.get("adjectives", "").split()),
    )


# Before these, "in" and "on" are prepositions: "logged in the audit table", "turn on each device".
_DETERMINERS = frozenset("a an the this that these those their its our your his her my each every all any some".split())
_PREPOSITION_PARTICLES = frozenset({"in", "on"})


def phrasal_verb(words: Sequence[str], i: int) -> str | None:
    """The phrasal verb words[i] and words[i + 1] are, in its base form ("fails over" -> "fail over"), or
    None. After a determiner the pair is a noun ("the roll back"): the caller's rule for nouns decides."""
    if i + 1 >= len(words):
        return None
    lang = language()
    low, particle = words[i].lower(), words[i + 1].lower()
    base = lang.irregular.get(low) or lemma(low, lang.phrasal_bases)
    if base is None or particle not in lang.particles[base]:
        return None
    if particle in _PREPOSITION_PARTICLES and i + 2 < len(words):
        nxt = words[i + 2]
        if nxt.lower() in _DETERMINERS or nxt[:1].isdigit() or nxt[:1].isupper():
            return None  # "is logged in the audit table": a place, not a particle
    return f"{base} {particle}"


def is_happening(phrasal: str) -> bool:
    """Whether the phrasal verb ("go down", "come back") says what happens to something, not work to do."""
    return phrasal in language().happenings


def _one_of(word: str, words: frozenset[str]) -> bool:
    w = word.lower()
    return w in words or (w.endswith("s") and w[:-1] in words) or (w.endswith("es") and w[:-2] in words)


def is_widget(word: str) -> bool:
    """Whether `word` (any case, singular or plural) names a UI widget: "banner", "modals", "checkboxes"."""
    return _one_of(word, language().widgets)


def is_picture(word: str) -> bool:
    """Whether `word` is a widget whose qualifier is the picture it shows ("a bell icon", "trash icons")."""
    return _one_of(word, language().pictures)


def is_adjective(word: str) -> bool:
    """Whether `word` is one of the curated adjectives that say which kind of thing ("preventive", "unread")."""
    return word.lower() in language().adjectives

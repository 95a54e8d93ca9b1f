"""Broken lines in a plan: the defects of the plan audit (issue 19) that a rule can see.

A plan can cover every requirement and still read as broken text. The audit of all five benchmark
sets found these kinds, each checked here on every title, description and requirement of a plan:

- `dump`: a keyword list standing in for work ("In this task: request hour account (hour, account)",
  "Conditions to honour: partner, endpoints");
- `verb as subject`: an auxiliary where a noun belongs, after a preposition or a determiner ("Expiry
  time on are single-use"), after "and" with no verb before it ("Expiry time and are single-use"; "The
  export runs ..., can reach 20 GB and is streamed" continues its predicate), or right after the title's
  first word ("Refuse are single-use ...");
- `verb as thing`: a determiner before a verb form ("Handle the takes effect the task names");
- `repeated`: a word twice in a row ("hold hold"), two articles in a row ("the a minute bound"), or
  a title that says the same two words twice ("Hold 15 minutes within 15 minutes");
- `empty`: a title of one word ("Send"), a line that ends on a function word ("recipients: response
  reveals whether"), a labelled part with nothing after it. A line that ends on the particle of a verb
  ("Users sign in") or on the preposition of a passive ("the metadata the identity provider is
  configured with") is complete, not empty, and so is one ending on a name in backticks (`last_used_at`).

A sentence of the task quoted whole in a line ("Business rule from the task: Credits expire 12 months after
purchase and are consumed oldest first.") is the task's writing, not the plan's: it is read as a name, so
only the words the plan puts around it are checked.

The checker is independent of the decomposer's own word lists, so it does not share their blind spots.
It cannot see a clause misread into well-formed text (a sentence about a response read as a
notification); the tests of the decomposer cover those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise

_DUMP = re.compile(r"^(?:In this task|Conditions to honour):")
_AUX = r"(?:is|are|was|were|been|being)"
_AFTER_LINK_WORD = re.compile(
    rf"\b(?P<link>on|of|for|to|before|after|with|about|the|a|an|and)\s+{_AUX}\b", re.IGNORECASE
)
# "Refuse are single-use": a plural verb form after a title's first word that is no plural noun.
_TITLE_VERB_AUX = re.compile(r"^[A-Z][a-z]*[a-rt-z]\s+(?:are|were)\b")
# Verb forms that never follow a determiner as a noun does.
_VERB_FORMS = (
    "takes|rises|falls|goes|comes|gets|makes|needs|stays|keeps|reveals|exists|happens|becomes|"
    "starts|ends|runs|stops|fails|passes|exceeds|reaches|drops|contains|includes|requires|means"
)
# A predicate before "and" (a modal, an auxiliary or one of the verb forms above): "The export runs in the
# background, can reach 20 GB and is streamed to S3" shares its subject with the verbs before "and is".
_PREDICATE = re.compile(
    rf"\b(?:is|are|was|were|has|have|can|cannot|may|must|should|will|would|could|might|shall|{_VERB_FORMS})\b",
    re.IGNORECASE,
)
_VERB_AS_THING = re.compile(rf"\b(?:the|a|an|each|every)\s+(?:{_VERB_FORMS})\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|\d[\d,.]*")
_ENDING = frozenset("a an the of to for with on in at by from whether if than and or but that as".split())
_CODE = re.compile(r"`[^`]*`")
_EMPTY_LABEL = re.compile(r":\s*(?:;|$)|\(\s*\)")
# Complete lines that end on a function word: a verb's particle ("users sign in", "the app logs on") and a
# passive's preposition ("the metadata the identity provider is configured with").
_PARTICLE_END = re.compile(
    r"\b(?:sign|log|opt|check|turn|switch|power|plug|clock|fill|tune|hand|cash)(?:s|ed|ged|ing|ging)?\s+(?:in|on)$",
    re.IGNORECASE,
)
_PASSIVE_END = re.compile(
    r"\b(?:is|are|was|were|be|been|being)\s+(?:[a-z]+ly\s+)?[a-z]+(?:ed|en|wn)\s+(?:with|to|for|from|by|at|in|on|of)$",
    re.IGNORECASE,
)


_DOUBLED = re.compile(r"\b([A-Za-z]+)\s+\1\b|\b(?:the|a|an)\s+(?:the|a|an)\b", re.IGNORECASE)


def _repeated(line: str, title: bool) -> bool:
    if _DOUBLED.search(line):
        return True
    words = [w.lower() for w in _WORD.findall(line)]
    if not title:
        return False
    bigrams = list(pairwise(words))
    return len(set(bigrams)) < len(bigrams)


def _continues(line: str, match: re.Match) -> bool:
    """Whether "and is" at `match` continues a predicate of the same clause ("runs ..., can reach ... and is
    streamed"), rather than standing where a subject belongs ("Expiry time and are single-use")."""
    if match.group("link").lower() != "and":
        return False
    clause = re.split(r"[:;.]\s", line[: match.start()])[-1]
    return bool(_PREDICATE.search(clause))


def line_defects(line: str, *, title: bool = False) -> list[str]:
    """The kinds of breakage `line` shows (empty when it reads as work)."""
    found = []
    if _DUMP.match(line):
        found.append("dump")
    if any(not _continues(line, m) for m in _AFTER_LINK_WORD.finditer(line)) or (title and _TITLE_VERB_AUX.match(line)):
        found.append("verb as subject")
    if _VERB_AS_THING.search(line):
        found.append("verb as thing")
    if _repeated(line, title):
        found.append("repeated")
    words = _WORD.findall(_CODE.sub("code", line))  # `last_used_at` is one name, not a line ending on "at"
    complete = _PARTICLE_END.search(line) or _PASSIVE_END.search(line)
    cut_off = bool(words) and words[-1].lower() in _ENDING and not complete
    if (title and len(words) < 2) or cut_off or _EMPTY_LABEL.search(line):
        found.append("empty")
    return found


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def task_sentences(*texts: str) -> list[str]:
    """The sentences of the task's texts, the longest first, as a line may quote them."""
    found = {s.strip() for text in texts for s in _SENTENCE_END.split(text) if len(s.split()) > 3}
    return sorted(found, key=len, reverse=True)


def _unquoted(line: str, quoted: Iterable[str]) -> str:
    for sentence in quoted:
        line = line.replace(sentence, "`quote`")
    return line


def broken_lines(titles: Iterable[str], lines: Iterable[str], quoted: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(kinds, line) for each broken title (`titles`) and other plan line (`lines`); the task's sentences
    (`quoted`, from `task_sentences`) that a line quotes whole are not the plan's text and are not read."""
    quoted = list(quoted)
    found = [(", ".join(k), t) for t in titles if (k := line_defects(_unquoted(t, quoted), title=True))]
    return found + [(", ".join(k), line) for line in lines if (k := line_defects(_unquoted(line, quoted)))]

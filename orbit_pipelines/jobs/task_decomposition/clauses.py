"""Requirement clauses: a task's description, acceptance criteria and project rules cut into the
clauses that each state one requirement, and what each clause says (actor, verb, object, numbers).

Rules, not a model: a clause is a sentence part between semicolons, commas and "then"; its verb is
the first word the verb list of work.toml knows that is not a noun spelled like a verb (after a
determiner or a number, before an auxiliary or its verb: "Links are single-use", "the email exists",
"The invitation link expires"); what it acts on is its object, the subject of a passive, or for "it",
what the clause before named. Same text, same clauses.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field, replace

from orbit_pipelines.jobs.task_decomposition.language import lemma, phrasal_verb

# CLOCK, NUMBER and PERCENT are read from here by the modules that turn clauses into work.
from orbit_pipelines.jobs.task_decomposition.quantities import (  # noqa: F401
    CLOCK,
    DURATION,
    NUMBER,
    NUMBER_WORDS,
    PERCENT,
    UNIT_WORD,
    duration_text,
    is_article_duration,
)
from orbit_pipelines.jobs.task_decomposition.words import FUNCTION_WORDS, NEVER_NOUNS, split_sentences

# Where a clause ends inside a sentence; "and" alone does not end one ("orders and refunds"), nor
# does the comma of a number ("10,000 rows").
_CLAUSE_BREAK = re.compile(
    r";\s*|,(?!\s?\d)\s*(?:and\s+|then\s+|but\s+|or\s+)?|\s+(?:and\s+)?then\s+|:\s+", re.IGNORECASE
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
    which who that per at in on over under than as and or but since once so then whether twice again
    even""".split()
)
# Words that negate the clause's verb when they come before it: "is never sent", "cannot edit", "No
# reminder is sent", "must not".
_NEGATIONS = frozenset("not never cannot no nobody nothing none neither nor".split())


@dataclass(frozen=True)
class Clause:
    text: str
    source: str  # description, acceptance, rule or title
    words: tuple[str, ...]
    actor: str = ""
    verb: str = ""  # base form
    obj: str = ""
    terms: tuple[str, ...] = field(default_factory=tuple)  # the content words after the object
    subject: str = ""  # the noun phrase before the verb or the copula: "links" in "Links are single-use"
    pronoun: bool = False  # the object is "it" or "them": the previous clause names it
    rest: tuple[str, ...] = field(default_factory=tuple)  # the words after the object, as written
    complement: str = ""  # of a clause with no verb but a copula: "is valid" in "The link is valid for ..."
    particle: str = ""  # of a phrasal verb: "over" in "traffic fails over" (verb "fail")
    negated: bool = False  # "A reminder is never sent twice", "Guests cannot edit": the work must not happen

    @property
    def action(self) -> str:
        """The verb as work, with its particle: "fail over", "roll back", "hide"."""
        return f"{self.verb} {self.particle}" if self.particle else self.verb

    @property
    def requirement(self) -> str:
        """The clause as a line of work: its gist and, as written, what qualifies it ("release stock on
        timeout or cancel")."""
        # Work-list style, as the gist is: no articles ("after last failed retry"), but "a" of a length of
        # time stays ("once a day", "within an hour").
        rest = [
            w
            for w, nxt in zip(self.rest, (*self.rest[1:], ""), strict=False)
            if w.lower() not in _NOT_OBJECT or (w.lower() in {"a", "an"} and UNIT_WORD.fullmatch(nxt))
        ]
        line = " ".join([self.gist, *rest]) if self.verb else self.gist
        return line[:1].upper() + line[1:]

    @property
    def gist(self) -> str:
        """Verb and object, as work: 'hide comments', 'retry failures', 'keep orders' (of "Orders are kept");
        a clause without a verb is named by its subject or object. Never a list of the clause's other words.
        A negated clause keeps its negation: "never send reminder", "never links expire"."""
        said = self._positive_gist
        if not self.negated or not self.verb:
            return said
        if not self.obj and self.subject and said.startswith(f"{self.subject} "):
            return f"{self.subject} never {said[len(self.subject) + 1 :]}"  # "links never expire"
        return f"never {said}"

    @property
    def positive(self) -> str:
        """The gist without its negation: what a negated clause forbids ("send reminder")."""
        return self._positive_gist

    @property
    def _positive_gist(self) -> str:
        if self.verb and not self.obj and self.subject:
            # "links expire", "the bot posts", "traffic fails over"
            return " ".join(p for p in (self.subject, _agreeing(self.verb, self.subject), self.particle) if p)
        if self.verb and not self.obj:
            # "override per tenant", "ask for deletion": what follows the verb, up to its first condition
            head = list(itertools.takewhile(lambda w: w.lower() not in _CONDITIONS and not _counts(w), self.rest))
            head = head[:4]
            head = [w for w in head if w.lower() not in _NOT_OBJECT]
            while head and head[-1].lower() in FUNCTION_WORDS:
                head.pop()
            return " ".join([self.action, *head])
        return " ".join(p for p in (self.action, self.obj) if p) or " ".join(
            p for p in (self.subject, self.complement) if p
        )

    @property
    def trigger(self) -> str:
        """The event the clause waits for, in work-list style: "when order ships or is delivered"."""
        lower = [w.lower() for w in self.words]
        at = next((i for i, w in enumerate(lower) if w in {"when", "whenever"}), None)
        if at is None:
            return ""
        said = [w for w in self.words[at:] if w.lower() not in _NOT_OBJECT]
        return " ".join(said) if len(said) > 2 else ""

    @property
    def topic(self) -> str:
        """What the clause is about: its object, else its subject ("links" in "Links expire after 30 minutes")."""
        return self.obj or self.subject

    @property
    def durations(self) -> list[str]:
        return [duration_text(m) for m in DURATION.finditer(self.text) if not is_article_duration(m)]


_CONDITIONS = frozenset("if when unless because while until once whenever after before".split())


def _counts(word: str) -> bool:
    """A number, in figures or words: "5", "one" ("roll back within one minute")."""
    return word[0].isdigit() or (word.lower() in NUMBER_WORDS and word.lower() not in {"a", "an"})


def _agreeing(verb: str, subject: str) -> str:
    """The verb as its subject takes it: "links expire", "the export runs"."""
    words = subject.lower().split()
    while len(words) > 1 and (words[-1].endswith("ed") or words[-1] in _IRREGULAR_PARTICIPLES or words[-1] == "made"):
        words.pop()  # "edits made in Google come back": the noun, not its participle, takes the verb
    last = words[-1]
    if last.endswith("s") and not last.endswith("ss"):
        return verb
    return verb + ("es" if verb.endswith(("s", "sh", "ch", "x", "z", "o")) else "s")  # "goes down"


def _split(sentence: str) -> list[str]:
    # Commas inside parentheses list fields, they do not separate requirements.
    protected = _PARENS.sub(lambda m: m.group(0).replace(",", "\x00"), sentence)
    parts = [p.replace("\x00", ",").strip(" .") for p in _CLAUSE_BREAK.split(protected)]
    return [p for p in parts if len(p.split()) >= 2]


# Participles the -ed rule of `lemma` does not reach: "Orders are kept for 10 years".
_IRREGULAR_PARTICIPLES = {
    "kept": "keep", "sent": "send", "held": "hold", "shown": "show", "built": "build", "paid": "pay",
    "written": "write", "given": "give", "taken": "take", "seen": "see", "found": "find", "sold": "sell",
    "hidden": "hide", "chosen": "choose", "frozen": "freeze", "stolen": "steal", "told": "tell",
}  # fmt: skip
_DETERMINERS = frozenset("a an the this that these those their its our your his her my each every all any no".split())
_GERUND_AFTER = frozenset("without by after before while on upon of from for instead".split())
_SUBJECT_FOLLOWERS = _AUXILIARIES | frozenset("can cannot may must should will shall could would might of".split())


def _verb_of(word: str, verbs: frozenset[str]) -> str | None:
    return lemma(word, verbs) or (
        _IRREGULAR_PARTICIPLES.get(word.lower()) if _IRREGULAR_PARTICIPLES.get(word.lower()) in verbs else None
    )


def _is_verb_at(i: int, words: tuple[str, ...], lower: list[str], verbs: frozenset[str]) -> bool:
    """Whether words[i] is the clause's verb, not a noun spelled like one: a word after a determiner or a
    number ("the email exists", "3 requests"), before an auxiliary, a modal or "of" ("Links are ...",
    "Exports of ..."), or an -s form opening the clause before a verb ("Links expire") is the subject. A
    phrasal verb ("traffic fails over", "retries back off") is a verb even when its verb alone is not."""
    phrasal = phrasal_verb(words, i)
    if lower[i] in MODALS or (_verb_of(words[i], verbs) is None and phrasal is None):
        return False
    before = lower[i - 1] if i else ""
    after = lower[i + 1] if i + 1 < len(lower) else ""
    plural = lower[i].endswith("s") and not lower[i].endswith("ss") and lower[i] not in verbs
    counted = plural and before.replace(",", "").isdigit()
    if before in _DETERMINERS | {"of"} or counted or after in _SUBJECT_FOLLOWERS:
        return False  # "the email exists", "1 minute of write downtime", "3 requests", "Links are"
    follows = _verb_of(after, verbs) or phrasal_verb(words, i + 1)
    if after.endswith("s") and not after.endswith("ss") and follows:
        return False  # "The invitation link expires", "the upload times out": a noun before its verb
    if plural and not phrasal and phrasal_verb(words, i + 1):
        return False  # "Requests time out", "retries back off": a plural subject before its phrasal verb
    if i == 0 and lower[i].endswith(("ing", "ed")) and not phrasal and phrasal_verb(words, 2):
        return False  # "Failed deliveries back off": a participle describing the subject of a phrasal verb
    if i == 0 and lower[i].endswith("ed") and lower[1:2] != ["and"] and set(lower[2:4]) & (_AUXILIARIES | MODALS):
        return False  # "Uploaded videos are scanned for malware": a participle describing the subject
    if i == 0 and lower[i].endswith("ing"):
        return False  # "Switching back takes effect ...": a gerund subject; imperatives never open so
    if lower[i].endswith("ing") and before in _GERUND_AFTER:
        return False  # "completes without timing out the request": a gerund, not the clause's verb
    if plural and before in {"and", "or"} and i > 1 and lower[i - 2].endswith("s"):
        return False  # "messages and uploads": a list of nouns
    # "Links expire ...": an -s form opening the clause and followed by a verb is its plural subject
    # ("warns the channel", continuing a sentence, is a verb).
    return not (
        i == 0
        and lower[i] not in verbs
        and lower[i].endswith("s")
        and not lower[i].endswith("ss")
        and len(words) > 1
        and (_verb_of(words[1], verbs) is not None or lower[1] in NEVER_NOUNS)
    )


def _subject(words: tuple[str, ...], lower: list[str], end: int) -> str:
    """The noun phrase the clause opens with, up to its verb or copula, as a phrase of work: its first
    word in lower case unless it is a name ("Links" -> "links", "PagerDuty" stays)."""
    head: list[str] = []
    for word, low in zip(words[:end], lower[:end], strict=True):
        if low in _AUXILIARIES or low in MODALS or (head and low in _OBJECT_END):
            break
        if low not in FUNCTION_WORDS and not low.replace(",", "").isdigit():
            head.append(word)
    head = head[-MAX_OBJECT_WORDS:]
    if head and head[0][1:].islower():
        head[0] = head[0].lower()
    return " ".join(head)


def _complement(subject: str, words: tuple[str, ...], lower: list[str]) -> str:
    """What a clause with no verb but a copula says its subject is: "are Decimal" of "money amounts are
    Decimal" (naming it "money amounts" alone drops the requirement)."""
    at = next((i for i, w in enumerate(lower) if w in {"is", "are"}), None)
    if not subject or at is None:
        return ""
    said = list(itertools.takewhile(lambda w: w.lower() not in FUNCTION_WORDS | MODALS, words[at + 1 :]))[:2]
    return " ".join([lower[at], *said]) if said else ""


def parse_clause(text: str, source: str, verbs: frozenset[str]) -> Clause:
    # An aside in parentheses ("a scope (read or write)") lists values, it holds no verb of the clause.
    words = tuple(_WORD.findall(_PARENS.sub(" ", text)))
    lower = [w.lower() for w in words]
    verb_at = next((i for i in range(len(words)) if _is_verb_at(i, words, lower, verbs)), None)
    if verb_at is None:
        subject = _subject(words, lower, len(words))
        return Clause(text, source, words, subject=subject, complement=_complement(subject, words, lower))
    actor = " ".join(w for w in words[:verb_at] if w.lower() not in MODALS and w.lower() not in FUNCTION_WORDS)
    subject = _subject(words, lower, verb_at)

    def _joins_nouns(k: int) -> bool:
        # "pull orders and refunds": one object of two nouns ("and hold it" starts a new verb).
        nxt = lower[k + 1] if k + 1 < len(lower) else ""
        verb_next = _verb_of(nxt, verbs) is not None or phrasal_verb(words, k + 1) is not None
        return bool(obj) and lower[k] in {"and", "or"} and nxt not in FUNCTION_WORDS and not verb_next

    verb = _verb_of(words[verb_at], verbs) or ""
    if verb in {"let", "allow"} and verb_at + 2 < len(words):
        # "let them revoke any session": the work is what they are let do.
        then = next((i for i in range(verb_at + 2, len(words)) if _is_verb_at(i, words, lower, verbs)), None)
        if then is not None and then <= verb_at + 3:
            verb_at, verb = then, _verb_of(words[then], verbs) or ""
    # A phrasal verb is one verb: "fails over" is "fail over", and its object follows the particle.
    phrasal = phrasal_verb(words, verb_at)
    verb, particle = phrasal.split() if phrasal else (verb, "")
    j = verb_at + 1 + bool(particle)
    obj: list[str] = []
    after_negated = j < len(words) and lower[j] in {"no", "not", "never"}
    j += after_negated  # "receives no more than 4 alerts", "shows no prices": the verb is negated
    pronoun = j < len(words) and lower[j] in {"it", "them"}
    if pronoun:
        j += 1  # "roll it back", "promote it automatically": what follows the pronoun qualifies the verb
        if not particle and (split := phrasal_verb((words[verb_at], *words[j:]), 0)):
            particle, j = split.split()[1], j + 1  # "log them out": the particle after the pronoun
    while (
        not pronoun
        and j < len(words)
        and len([w for w in obj if w.lower() not in {"more", "fewer", "less", "than"}]) < MAX_OBJECT_WORDS
        and (lower[j] not in _OBJECT_END or _joins_nouns(j))
    ):
        if obj and lower[j - 1] not in _DETERMINERS and phrasal_verb(words, j):
            break  # "retry failed deliveries, which back off": a verb of its own ends the object
        if lower[j] in {"more", "fewer", "less"} and lower[j + 1 : j + 2] == ["than"] and j + 2 < len(words):
            obj += words[j : j + 3]  # "more than one Jira issue": the quantity belongs to the object
            j += 3
            continue
        if lower[j] == "up" and j + 1 < len(words) and lower[j + 1] == "to":
            j += 2  # "suggest up to 8 product names": a cap, not a particle
            continue
        # Numbers qualify the object ("get 1000 requests"), they never name it.
        if lower[j] not in _NOT_OBJECT and not lower[j].replace(",", "").replace(".", "").isdigit():
            obj.append(words[j])
        j += 1
    while not pronoun and j < len(words) and lower[j] not in _OBJECT_END:
        j += 1  # an object longer than the cap: the rest of it is not a qualifier
    while obj and obj[-1].lower() in FUNCTION_WORDS:
        obj.pop()  # "a PDF report of" (cut at the cap) ends on its noun
    if obj and all(_adverb(w) for w in obj):
        obj = []  # "retries back off exponentially": an adverb is no object
    terms, rest = tuple(_content(words[j:])), words[j:]
    helpers = [w for w in lower[:verb_at] if w not in {"not", "never", "only", "also", "always"}]
    negated = after_negated or any(w in _NEGATIONS or w.endswith("n't") for w in lower[:verb_at])
    if helpers and helpers[-1] in _AUXILIARIES and not obj:
        # A passive clause ("Orders are kept for 10 years"): its subject is what the work acts on.
        return Clause(
            text, source, words, "", verb, subject, terms, subject, rest=rest, particle=particle, negated=negated
        )
    return Clause(
        text, source, words, actor, verb, " ".join(obj), terms, subject, pronoun, rest, particle=particle,
        negated=negated,
    )  # fmt: skip


# Words in -ly that are no adverbs of manner: nouns, verbs, and the frequencies a plan keeps ("pay yearly").
_NOT_ADVERBS = frozenset(
    """supply reply family assembly anomaly apply rely comply multiply ally rally tally monopoly hourly daily
    nightly weekly fortnightly monthly quarterly yearly annually""".split()
)


def _adverb(word: str) -> bool:
    """An adverb of manner ("exponentially", "remotely"), which names no object."""
    low = word.lower()
    return low.isalpha() and low.endswith("ly") and len(low) > 5 and low not in _NOT_ADVERBS and word[:1].islower()


def _content(words) -> list[str]:
    return [w for w in words if w.lower() not in FUNCTION_WORDS and w.lower() not in MODALS]


def _possessed(clause: Clause) -> bool:
    """Whether the clause's object is something's ("compare its error rate"): then "it" in the next clause
    is that something, not the object."""
    first = clause.topic.split()[0] if clause.topic else ""
    return bool(first) and re.search(rf"\b(?:its|their)\s+{re.escape(first)}\b", clause.text, re.IGNORECASE) is not None


_CONDITION_LEAD = re.compile(
    r"(?:even (?:if|when|though)|unless|in case|as long as|so long as|provided(?: that)?|if|whether)\b", re.I
)
_PRONOUN_COPULA = re.compile(r"\b(if|unless|when|whenever)\s+(?:it|they)\s+(?:is|are)\s+", re.I)
_CONDITION_WORD = re.compile(r"\b(?:if|unless|when|whenever)\b", re.I)


def _is_condition(part: str, clause: Clause) -> bool:
    """Whether a part of a sentence only states when the part before it holds: it opens with "even if",
    "unless", "in case", "as long as" ("..., even if the job runs again"), or has no verb of its own but a
    condition ("..., and again on the due date if it is still unpaid")."""
    return bool(_CONDITION_LEAD.match(part)) or (not clause.verb and bool(_CONDITION_WORD.search(part)))


def clauses_of(payload, verbs: frozenset[str]) -> list[Clause]:
    """Every requirement clause of the task, in reading order; the title counts when nothing else does."""
    found: list[Clause] = []
    sources = [("description", payload.description)]
    sources += [("acceptance", c) for c in payload.acceptance_criteria]
    sources += [("rule", r) for r in payload.project_rules]
    for source, text in sources:
        for sentence in split_sentences(text):
            previous: Clause | None = None
            for part in _split(sentence):
                clause = parse_clause(part, source, verbs)
                if previous is not None and _is_condition(part, clause):
                    # "..., even if the job runs again", "..., again on the due date if it is still unpaid":
                    # a condition of the clause before, no work of its own.
                    clause = replace(previous, text=f"{previous.text}, {part}")
                    said = _PRONOUN_COPULA.sub(r"\1 ", part)  # "if it is still unpaid" -> "if still unpaid"
                    clause = replace(clause, rest=(*clause.rest, *parse_clause(said, source, verbs).words))
                    found[-1] = previous = clause
                    continue
                # (A phrasal verb needs no object: "then roll back within one minute".)
                unnamed = clause.pronoun or (
                    clause.verb and not clause.particle and not clause.obj and not clause.subject
                )
                if unnamed and previous is not None and previous.topic and not _possessed(previous):
                    # "Reserve stock ..., hold it for 15 minutes", "A slot is held ..., then released": the
                    # clause acts on what the clause before it named.
                    clause = replace(clause, obj=previous.topic, pronoun=False)
                found.append(clause)
                previous = clause
    return found or [parse_clause(payload.title, "title", verbs)]

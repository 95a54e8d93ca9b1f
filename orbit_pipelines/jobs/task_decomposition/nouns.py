"""Which words of a task name a thing the domain keeps, and the noun phrase that names it: the head noun
and the word before it ("preventive maintenance schedules": a maintenance schedule), never an adjective,
a number word, a counted unit of time, a generic word, a UI widget or a part of a hyphenated word.

Heuristic by design: no model and no network, so the same text always reads the same way.
"""

from __future__ import annotations

import re

from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.language import is_adjective, is_picture, is_widget, lemma, phrasal_verb
from orbit_pipelines.jobs.task_decomposition.words import (
    FORMATS,
    FUNCTION_WORDS,
    NEVER_NOUNS,
    OBJECT_SKIP,
    VERB_FORMS,
    Token,
    looks_plural,
    name_words,
    singular,
)
from orbit_pipelines.jobs.task_decomposition.work import load_library

# Nouns that name the software rather than the domain.
_GENERIC_NOUNS = frozenset(
    """
    system app application service services api apis endpoint endpoints feature features job jobs tool
    tools pipeline pipelines module modules page pages screen screens ui backend frontend database db
    table tables data information info detail details thing things stuff way ways time times support
    ability option options task tasks record records entry entries item items list lists format formats
    file files code project button form version test tests request requests response responses error
    errors background batch process workflow functionality web http rest json website site server client
    case cases kind kinds type types field fields value values number row rows line lines column columns
    cell cells header headers sheet sheets spreadsheet spreadsheets workbook amount amounts total totals
    count counts effect result results log logs
""".split()
)
# Adjectives and particles that head a noun phrase but never name a domain entity: "up to 24 hours",
# "mid-cycle", "nearby stores", "the matching contact", "national ID".
_NOT_NOUNS = frozenset(
    """
    up down mid nearby near matching current existing last next previous own whole blank cheapest
    national local remote free active inactive new old same other interrupted single multiple bulk
    doing generate generates locally remotely automatically manually only
""".split()
)
# Adverbs of time and frequency, ordinals and number words, the times of a schedule: "a key is shown
# once", "zero downtime", "deleted every night at 03:00"; and "ones", the pronoun ("never touches approved
# ones").
_COUNTS_AND_TIMES = frozenset(
    """
    once twice always never often sometimes soon later now immediately instantly first second third fourth
    fifth sixth seventh eighth ninth tenth
    zero one ones two three four five six seven eight nine ten eleven twelve hundred thousand million billion
    night nights morning mornings evening evenings midnight noon weekend weekends weekday weekdays
    monday tuesday wednesday thursday friday saturday sunday
""".split()
)
# Adjectives in -able/-ible that are nouns all the same: "a table", "a variable", "accounts payable".
_ABLE_NOUNS = frozenset("table cable variable deliverable receivable payable timetable vegetable syllable".split())
_NOT_NOUNS = _NOT_NOUNS | NEVER_NOUNS | _COUNTS_AND_TIMES
# Units of time: after a number or a word that counts ("every 30 seconds", "per hour", "within a minute") a
# length of time, not a thing; a thing only as the qualifier of one ("a day pass").
_TIME_UNITS = frozenset("millisecond second minute hour day week month year".split())
_COUNTED = re.compile(
    r"(?:\d[\d,.]*|\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|twelve|few|several|many|every|per|each|"
    r"last|next|past|coming)\b)[\s-]*$",
    re.IGNORECASE,
)


def is_entity_noun(token: Token, knowledge: Knowledge) -> bool:
    low = token.lower
    return (
        len(low) > 1
        and not token.text.isupper()  # acronyms: API, PDF, URL
        and not (token.text.endswith("s") and len(token.text) > 2 and token.text[:-1].isupper())  # URLs, IDs
        and low not in FUNCTION_WORDS
        and low not in _NOT_NOUNS
        and "_" not in low  # full_name, national_id: a column the text names, not an entity
        and not (low.endswith("ed") and not low.endswith("eed") and len(low) > 4)  # validated: a participle
        and not (low.endswith(("able", "ible")) and low not in _ABLE_NOUNS)  # unavailable: an adjective
        and low not in _GENERIC_NOUNS
        and singular(low) not in _GENERIC_NOUNS
        and low not in FORMATS
        and low not in OBJECT_SKIP
        and low not in VERB_FORMS
        and not is_widget(low)  # a banner, a modal: what a screen shows, not what the domain keeps
        and not is_adjective(low)  # preventive, unread: which kind of thing, not the thing
        and knowledge.lookup(low) is None
        and not knowledge.is_tool(low)
    )


def hyphenated(token: Token, sentence: str) -> bool:
    """Whether `token` is one part of a hyphenated word in `sentence` ("sign-on", "opt-in")."""
    return sentence[token.end : token.end + 1] == "-" or (token.start > 0 and sentence[token.start - 1] == "-")


def _length_of_time(tokens: list[Token], j: int, sentence: str, knowledge: Knowledge) -> bool:
    """Whether tokens[j] is a unit of time counted ("every 30 seconds", "up to 48 hours", "per day"), not
    the qualifier of a thing ("a day pass")."""
    token = tokens[j]
    if singular(token.lower) not in _TIME_UNITS or not _COUNTED.search(sentence[: token.start]):
        return False
    nxt = tokens[j + 1] if j + 1 < len(tokens) else None
    qualifier = (
        nxt is not None
        and not looks_plural(token.text)
        and sentence[token.end : nxt.start].isspace()
        and is_entity_noun(nxt, knowledge)
    )
    return not qualifier


def _joined(tokens: list[Token], k: int, sentence: str, knowledge: Knowledge) -> bool:
    """Whether the noun phrase goes on past tokens[k] to the next token, a noun it qualifies ("bank
    transactions", "maintenance schedules"): a plural or a possessive ends it, and so does the gerund of a
    verb, which names the activity, not a thing ("appointment booking", "ticket scanning")."""
    here = tokens[k]
    if here.possessive or looks_plural(here.text) or len(name_words(here.text)) != 1 or k + 1 >= len(tokens):
        return False
    nxt = tokens[k + 1]
    return (
        sentence[here.end : nxt.start].isspace()
        and is_entity_noun(nxt, knowledge)
        and len(name_words(nxt.text)) == 1
        and not hyphenated(nxt, sentence)
        and not (nxt.lower.endswith("ing") and lemma(nxt.lower, load_library().verbs))
    )


def noun_phrase(tokens: list[Token], j: int, sentence: str, knowledge: Knowledge) -> list[str] | None:
    """Words of the noun phrase starting at token j: 'bank transactions' -> ['bank', 'transaction']. The
    phrase is named by its head, the last noun of the run, and the word before it ("preventive maintenance
    schedules": ['maintenance', 'schedule']); an adjective before it says which kind and is left out. A
    part of a hyphenated word ("sign" of "sign-on", "zero" of "zero-downtime") or of a phrasal verb
    ("backs" of "backs off", "sign" of "sign up") names no entity, nor does a counted unit of time ("every
    30 seconds"); a UI widget ends the phrase ("consent banner": consent) or leaves none ("a modal", "a bell
    icon": the bell is the icon's picture)."""
    while j + 1 < len(tokens) and is_adjective(tokens[j].text) and sentence[tokens[j].end : tokens[j + 1].start] == " ":
        j += 1
    if j >= len(tokens) or not is_entity_noun(tokens[j], knowledge) or hyphenated(tokens[j], sentence):
        return None
    if phrasal_verb([t.text for t in tokens[j : j + 3]], 0) or _length_of_time(tokens, j, sentence, knowledge):
        return None
    k = j
    while _joined(tokens, k, sentence, knowledge):
        k += 1
    after = tokens[k + 1] if k + 1 < len(tokens) else None
    if after is not None and is_picture(after.text) and sentence[tokens[k].end : after.start].isspace():
        return None
    words = [w for t in tokens[max(j, k - 1) : k + 1] for w in name_words(t.text)]
    return name_words(" ".join(words)) or None

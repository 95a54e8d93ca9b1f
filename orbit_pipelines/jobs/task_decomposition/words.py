"""The words of a task's text: vocabulary, singular and plural forms, tokens, sentences, verbs and noun
phrases.

Heuristic by design: no model and no network, so the same text always reads the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.language import is_widget, phrasal_verb

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

OPERATIONS = (
    "create",
    "list",
    "get",
    "update",
    "delete",
    "search",
    "import",
    "export",
    "upload",
    "approve",
    "send",
    "notify",
)
DEFAULT_OPERATIONS = ("create", "list", "get")
_CRUD = ("create", "list", "get", "update", "delete")

VERB_OPERATIONS: dict[str, tuple[str, ...]] = {
    "create": ("create",),
    "add": ("create",),
    "register": ("create",),
    "submit": ("create",),
    "store": ("create",),
    "save": ("create",),
    "persist": ("create",),
    "list": ("list",),
    "browse": ("list",),
    "view": ("get",),
    "see": ("get",),
    "show": ("get",),
    "display": ("get",),
    "fetch": ("get",),
    "retrieve": ("get",),
    "inspect": ("get",),
    "update": ("update",),
    "edit": ("update",),
    "modify": ("update",),
    "change": ("update",),
    "rename": ("update",),
    "mark": ("update",),
    "assign": ("update",),
    "complete": ("update",),
    "archive": ("update",),
    "cancel": ("update",),
    "reopen": ("update",),
    "delete": ("delete",),
    "remove": ("delete",),
    "purge": ("delete",),
    "search": ("search",),
    "filter": ("search",),
    "find": ("search",),
    "query": ("search",),
    "sort": ("search",),
    "import": ("import",),
    "ingest": ("import",),
    "export": ("export",),
    "download": ("export",),
    "upload": ("upload",),
    "attach": ("upload",),
    "approve": ("approve",),
    "reject": ("approve",),
    "send": ("send",),
    "notify": ("notify",),
    "remind": ("notify",),
    "alert": ("notify",),
    "manage": _CRUD,
    "administer": _CRUD,
    "maintain": _CRUD,
    "track": ("create", "list", "update"),
}
# "view their invoices" lists, "view an invoice" gets one.
VIEW_VERBS = frozenset({"view", "see", "show", "display"})


def _inflections(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "ing"}
    if base.endswith("e"):
        forms |= {base + "d", base[:-1] + "ing"}
    if base.endswith(("s", "sh", "ch", "x", "z")):
        forms.add(base + "es")
    if base.endswith("y") and base[-2] not in "aeiou":
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    return forms


VERB_FORMS: dict[str, str] = {form: base for base in VERB_OPERATIONS for form in _inflections(base)}
VERB_FORMS.update(
    {"sent": "send", "found": "find", "shown": "show", "seen": "see", "submitted": "submit", "submitting": "submit"}
)

FORMATS = frozenset(
    {
        "csv",
        "pdf",
        "json",
        "xml",
        "xlsx",
        "xls",
        "excel",
        "yaml",
        "yml",
        "html",
        "txt",
        "markdown",
        "zip",
        "png",
        "jpg",
        "jpeg",
        "docx",
        "ndjson",
        "parquet",
    }
)
FUNCTION_WORDS = frozenset(
    """
    a an the this that these those their his her its our your my them it they we you i he she me us
    each every all any some no none one many multiple several more most less fewer than other such both
    of to in into on onto at by for from with without via per as about over under between through
    and or but nor if then else when where which who whom whose what why how so because while until
    is are was were be been being am has have had do does did can could should would must may might
    will shall need needs not also only just very too there here than either neither etc e g eg ie
    able let lets allow allows using use uses used within across after before during again since
    except unless
""".split()
)
PRONOUNS = frozenset({"them", "it"})
DETERMINERS = frozenset("a an the this these those their its our your my his her each every".split())
CONJUNCTIONS = frozenset({"and", "or"})
# Words between a verb and its object that do not end the object: "export one of their old invoices".
OBJECT_SKIP = frozenset(
    """
    a an the this these those their his her its our your my each every all any some one many multiple
    several more less fewer than of new existing own single individual specific selected other certain
    both open closed active inactive pending overdue outstanding paid unpaid recent archived completed
    draft old latest current daily nightly weekly monthly large small public private custom incoming
    outgoing failed duplicate invalid valid oldest newest earliest largest smallest biggest highest lowest
    best worst fastest slowest nearest closest most least
""".split()
)
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
# Verb forms and adverbs that never name a thing: "the response reveals", "a switch that takes effect",
# "rises above", "keeps working everywhere".
NEVER_NOUNS = frozenset(
    """
    take takes go goes come comes need needs stay stays keep keeps get gets got make makes made done
    reveals exists rises happens appears becomes remains seems works exceeds reaches contains includes
    requires means depends belongs matters whether even everywhere ever already still instead above below
""".split()
)
# Adverbs of time and frequency, ordinals and number words, the times of a schedule: "a key is shown
# once", "zero downtime", "deleted every night at 03:00".
_COUNTS_AND_TIMES = frozenset(
    """
    once twice always never often sometimes soon later now immediately instantly first second third
    zero one two three four five six seven eight nine ten eleven twelve hundred thousand million billion
    night nights morning mornings evening evenings midnight noon weekend weekends weekday weekdays
    monday tuesday wednesday thursday friday saturday sunday
""".split()
)
# Adjectives in -able/-ible that are nouns all the same: "a table", "a variable", "accounts payable".
_ABLE_NOUNS = frozenset("table cable variable deliverable receivable payable timetable vegetable syllable".split())
_NOT_NOUNS = _NOT_NOUNS | NEVER_NOUNS | _COUNTS_AND_TIMES
HTTP_HINT = re.compile(
    r"\b(GET|POST|PUT|PATCH|DELETE|HTTP|API|endpoints?|routes?|requests?|responses?|status code|[1-5]\d\d)\b"
    r"|/[a-z]",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

_IRREGULAR_SINGULAR = {
    "people": "person",
    "children": "child",
    "men": "man",
    "women": "woman",
    "criteria": "criterion",
    "analyses": "analysis",
    "indices": "index",
    "statuses": "status",
    "addresses": "address",
    "aliases": "alias",
    "buses": "bus",
    "movies": "movie",
    "cookies": "cookie",
    "series": "series",
    "news": "news",
    "data": "data",
}
_IRREGULAR_PLURAL = {v: k for k, v in _IRREGULAR_SINGULAR.items() if k not in {"series", "news", "data"}}


def looks_plural(word: str) -> bool:
    w = word.lower()
    if w in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[w] != w
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ous"))


def singular(word: str) -> str:
    w = word.lower()
    if w in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[w]
    if not looks_plural(w):
        return w
    if w.endswith("ies"):
        return w[:-3] + "y"
    if w.endswith(("sses", "shes", "ches", "xes", "zes")):
        return w[:-2]
    return w[:-1]


def plural(word: str) -> str:
    w = word.lower()
    if w in _IRREGULAR_PLURAL:
        return _IRREGULAR_PLURAL[w]
    if w.endswith("y") and len(w) > 1 and w[-2] not in "aeiou":
        return w[:-1] + "ies"
    if w.endswith(("s", "x", "z", "ch", "sh")):
        return w + "es"
    return w + "s"


def name_words(text: str) -> list[str]:
    """'Line items', 'LineItem', 'line_items' -> ['line', 'item'] (ASCII, lower case, last word singular)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words: list[str] = []
    for part in re.split(r"[^A-Za-z0-9]+", ascii_text):
        words += [w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+", part)]
    if words:
        words[-1] = singular(words[-1])
    return words


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    possessive: bool

    @property
    def lower(self) -> str:
        return self.text.lower()


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(['\u2019]s\b|['\u2019](?=\s|$))?")


def tokenize(sentence: str) -> list[Token]:
    return [
        Token(m.group(0)[: len(m.group(0)) - len(m.group(1) or "")], m.start(), m.end(), bool(m.group(1)))
        for m in _TOKEN.finditer(sentence)
    ]


def split_sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|[\r\n\v\f\u2028\u2029]+", text)
    return [p.strip() for p in parts if p and p.strip()]


def verb_at(tokens: list[Token], i: int) -> str | None:
    """The verb token i stands for, if any. A sentence-initial participle ("Rejected rows are ...")
    describes its noun rather than asking for an operation."""
    low = tokens[i].lower
    if i == 0 and low.endswith("ed") and len(tokens) > 1 and tokens[1].lower not in FUNCTION_WORDS:
        return None
    # "while the import runs": a noun spelled like a verb; "a removed seat" is still a seat removed.
    if i > 0 and tokens[i - 1].lower in DETERMINERS and not low.endswith(("ed", "en")):
        return None
    return VERB_FORMS.get(low)


def is_entity_noun(token: Token, knowledge: Knowledge) -> bool:
    low = token.lower
    return (
        len(low) > 1
        and not token.text.isupper()  # acronyms: API, PDF, URL
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
        and knowledge.lookup(low) is None
        and not knowledge.is_tool(low)
    )


def hyphenated(token: Token, sentence: str) -> bool:
    """Whether `token` is one part of a hyphenated word in `sentence` ("sign-on", "opt-in")."""
    return sentence[token.end : token.end + 1] == "-" or (token.start > 0 and sentence[token.start - 1] == "-")


def noun_phrase(tokens: list[Token], j: int, sentence: str, knowledge: Knowledge) -> list[str] | None:
    """Words of the noun phrase starting at token j: 'bank transactions' -> ['bank', 'transaction']. A part
    of a hyphenated word ("sign" of "sign-on", "zero" of "zero-downtime") or of a phrasal verb ("backs" of
    "backs off", "sign" of "sign up") names no entity; a UI widget ends the phrase ("consent banner":
    consent) or leaves none ("a modal")."""
    if j >= len(tokens) or not is_entity_noun(tokens[j], knowledge) or hyphenated(tokens[j], sentence):
        return None
    if phrasal_verb([t.text for t in tokens[j : j + 3]], 0):
        return None
    first = tokens[j]
    words = name_words(first.text)
    if first.possessive or looks_plural(first.text) or len(words) != 1 or j + 1 >= len(tokens):
        return words or None
    nxt = tokens[j + 1]
    adjacent = sentence[first.end : nxt.start].isspace()
    if adjacent and is_entity_noun(nxt, knowledge) and len(name_words(nxt.text)) == 1 and not hyphenated(nxt, sentence):
        return words + name_words(nxt.text)
    return words or None

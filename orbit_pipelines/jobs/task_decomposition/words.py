"""The words of a task's text: vocabulary, singular and plural forms, tokens, sentences, verbs and noun
phrases.

Heuristic by design: no model and no network, so the same text always reads the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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
# Verb forms and adverbs that never name a thing: "the response reveals", "a switch that takes effect",
# "rises above", "keeps working everywhere".
NEVER_NOUNS = frozenset(
    """
    take takes go goes come comes need needs stay stays keep keeps get gets got make makes made done
    reveals exists rises happens appears becomes remains seems works exceeds reaches contains includes
    requires means depends belongs matters whether even everywhere ever already still instead above below
    twice thrice again
""".split()
)
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

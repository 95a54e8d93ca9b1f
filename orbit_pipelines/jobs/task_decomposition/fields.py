"""Fields of an entity named in the text ("An Invoice has a number, an amount and a due date"), their
kinds, and the field lists that follow "by" in searches."""

from __future__ import annotations

import re
from dataclasses import dataclass

from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.language import is_widget
from orbit_pipelines.jobs.task_decomposition.nouns import is_entity_noun
from orbit_pipelines.jobs.task_decomposition.words import (
    FORMATS,
    PRONOUNS,
    VERB_FORMS,
    looks_plural,
    name_words,
    tokenize,
)

_CLAUSE_AUX = frozenset(
    "can could should would must may might will shall is are was were be been has have had do does did".split()
)
# Words that end a field list when they appear inside an item ("due date that must ...").
_FIELD_BREAKS = frozenset(
    "that which who whom when where so because but to for from in on by at if as "
    "with per via than then into while".split()
)
_FIELD_LEAD = frozenset("a an the its their his her one some".split())
# "has many invoices": the other entity points back at this one.
_MANY = frozenset("many multiple several zero more".split())


@dataclass
class Field:
    name: str
    kind: str
    optional: bool = False
    reference: str | None = None  # slug of the referenced entity

    @property
    def unique(self) -> bool:
        return self.name in {
            "number",
            "code",
            "sku",
            "email",
            "username",
            "slug",
            "reference",
            "external_id",
            "iban",
            "isbn",
            "handle",
        }


def field_kind(name: str) -> str:
    parts = name.split("_")
    last = parts[-1]
    if name.endswith("_at") or last in {"timestamp", "datetime"}:
        return "datetime"
    if last in {"date", "deadline", "birthday", "dob"} or name.endswith("_on"):
        return "date"
    if last in {"amount", "price", "total", "cost", "balance", "fee", "tax", "subtotal", "salary", "budget"}:
        return "money"
    if last in {"quantity", "qty", "count", "age", "position", "rank", "stock", "year"}:
        return "integer"
    if parts[0] in {"is", "has", "can"} or last in {
        "enabled",
        "active",
        "done",
        "completed",
        "paid",
        "archived",
        "flag",
        "verified",
    }:
        return "boolean"
    if last == "email":
        return "email"
    if last in {"url", "link", "website", "homepage"}:
        return "url"
    if last in {"status", "state", "type", "kind", "category", "priority", "role"}:
        return "enum"
    if last in {"description", "notes", "note", "body", "content", "comment", "comments", "text", "summary"}:
        return "text"
    if last == "currency":
        return "currency"
    if last == "id":
        return "identifier"
    return "string"


KIND_TEXT = {
    "datetime": "timestamp with time zone",
    "date": "date",
    "money": "exact decimal amount (never float)",
    "integer": "integer",
    "boolean": "boolean",
    "email": "email address, validated",
    "url": "URL, validated",
    "enum": "one of a fixed set of values",
    "text": "free text",
    "currency": "ISO 4217 currency code",
    "identifier": "external identifier",
    "string": "string",
}


@dataclass
class _FieldItem:
    words: list[str]
    optional: bool = False
    many: bool = False

    @property
    def name(self) -> str:
        return "_".join(self.words)


def parse_field_list(text: str, *, leading_verbs: bool = True) -> list[_FieldItem]:
    """'number, an optional note and due date that ...' -> number, note (optional), due_date.

    Stops at the end of the list: a clause word ends it after the current item, an auxiliary or verb
    ("customers can export it") means the item was prose and is dropped.
    """
    items: list[_FieldItem] = []
    for part in re.split(r",|;|&|\band\b|\bor\b", text):
        words: list[str] = []
        optional = many = stop = drop = False
        for token in tokenize(part):
            low = token.lower
            if not words and low in _FIELD_LEAD:
                continue
            if not words and low in _MANY:
                many = True
                continue
            if low == "optional":
                optional = True
                continue
            verb = low in VERB_FORMS and (words or not leading_verbs)
            if verb or low in _CLAUSE_AUX or low in PRONOUNS:
                drop = stop = True
                break
            if low in _FIELD_BREAKS:
                stop = True
                break
            words.append(low)
        if drop or len(words) > 3:
            break
        if words and not any(w in FORMATS for w in words):
            items.append(_FieldItem(words, optional, many or looks_plural(words[-1])))
        if stop:
            break
    return items


_ATTR_PAREN = re.compile(r"\b([A-Za-z][\w'\u2019]*(?:[ \t]+[A-Za-z][\w'\u2019]*)?)[ \t]*\(([^()]{1,300})\)")
_ATTR_WITH = re.compile(
    r"\b(?:a|an|each|every|one)\s+([A-Za-z]\w*(?:\s+[A-Za-z]\w*)?)\s+"
    r"(?:with|having|containing|consisting\s+of)\s+(.+)",
    re.IGNORECASE,
)
_ATTR_HAS = re.compile(
    r"\b([A-Za-z]\w*(?:\s+[A-Za-z]\w*)?)\s+(?:has|have|contains|contain|includes|include)\s+(.+)",
    re.IGNORECASE,
)

# A list joined by "or" and not "and" offers alternatives: the values an attribute takes.
_ALTERNATIVES = re.compile(r"^(?!.*\band\b).*\bor\b", re.IGNORECASE)
_QUANTITY = re.compile(
    r"\s*(?:a|an|the)?\s*(?:limit|quota|maximum|minimum|max|min|cap|ceiling|rate|budget)\s+of\b"
    r"|\s*(?:up to|at most|at least)\b|\s*\d",
    re.IGNORECASE,
)


@dataclass
class _FieldStatement:
    subject: list[str]
    fields: list[_FieldItem]
    span: tuple[int, int]


def field_statements(sentence: str, knowledge: Knowledge) -> list[_FieldStatement]:
    found = []
    for pattern, minimum in ((_ATTR_PAREN, 2), (_ATTR_WITH, 1), (_ATTR_HAS, 1)):
        for match in pattern.finditer(sentence):
            # "a consent banner with three categories": what the widget shows is the entity (consent).
            subject_tokens = tokenize(match.group(1))
            while subject_tokens and is_widget(subject_tokens[-1].text):
                subject_tokens.pop()
            nouns = [t for t in subject_tokens if is_entity_noun(t, knowledge)]
            if not nouns or nouns[-1] is not subject_tokens[-1]:
                continue
            if _QUANTITY.match(match.group(2)):
                continue  # "enterprise keys have a limit of 1000 requests": a setting of a tier, not fields
            if pattern is _ATTR_PAREN and _ALTERNATIVES.search(match.group(2)):
                continue  # "the user's role (viewer, editor or admin)": the values of one field, not fields
            fields = parse_field_list(match.group(2))
            # "Invoice (PDF)" or "(optional)" are asides, "Invoice (number, amount)" is a field list.
            if len(fields) < minimum and not (fields and "_" in fields[0].name):
                continue
            subject = [w for t in nouns[-2:] for w in name_words(t.text)]
            found.append(_FieldStatement(name_words(" ".join(subject)), fields, match.span(2)))
    return found

"""Reading a task's text: entities, their fields, the operations and rules that apply to them.

Heuristic by design: no model and no network, so the same payload always yields the same analysis.
A payload can always state `entities` to take the guesswork out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload

MAX_INFERRED_ENTITIES = 8
MAX_RULES_PER_ENTITY = 8
MAX_RULE_CHARS = 400
MAX_FIELDS = 20

# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------

OPERATIONS = ("create", "list", "get", "update", "delete", "search", "import", "export", "upload",
              "approve", "send", "notify")
DEFAULT_OPERATIONS = ("create", "list", "get")
_CRUD = ("create", "list", "get", "update", "delete")

_VERB_OPERATIONS: dict[str, tuple[str, ...]] = {
    "create": ("create",), "add": ("create",), "register": ("create",), "submit": ("create",),
    "store": ("create",), "save": ("create",), "persist": ("create",),
    "list": ("list",), "browse": ("list",),
    "view": ("get",), "see": ("get",), "show": ("get",), "display": ("get",), "fetch": ("get",),
    "retrieve": ("get",), "inspect": ("get",),
    "update": ("update",), "edit": ("update",), "modify": ("update",), "change": ("update",),
    "rename": ("update",), "mark": ("update",), "assign": ("update",), "complete": ("update",),
    "archive": ("update",), "cancel": ("update",), "reopen": ("update",),
    "delete": ("delete",), "remove": ("delete",), "purge": ("delete",),
    "search": ("search",), "filter": ("search",), "find": ("search",), "query": ("search",),
    "sort": ("search",),
    "import": ("import",), "ingest": ("import",),
    "export": ("export",), "download": ("export",),
    "upload": ("upload",), "attach": ("upload",),
    "approve": ("approve",), "reject": ("approve",),
    "send": ("send",),
    "notify": ("notify",), "remind": ("notify",), "alert": ("notify",),
    "manage": _CRUD, "administer": _CRUD, "maintain": _CRUD,
    "track": ("create", "list", "update"),
}
# "view their invoices" lists, "view an invoice" gets one.
_VIEW_VERBS = frozenset({"view", "see", "show", "display"})


def _inflections(base: str) -> set[str]:
    forms = {base, base + "s", base + "ed", base + "ing"}
    if base.endswith("e"):
        forms |= {base + "d", base[:-1] + "ing"}
    if base.endswith(("s", "sh", "ch", "x", "z")):
        forms.add(base + "es")
    if base.endswith("y") and base[-2] not in "aeiou":
        forms |= {base[:-1] + "ies", base[:-1] + "ied"}
    return forms


_VERB_FORMS: dict[str, str] = {form: base for base in _VERB_OPERATIONS for form in _inflections(base)}
_VERB_FORMS.update({"sent": "send", "found": "find", "shown": "show", "seen": "see",
                    "submitted": "submit", "submitting": "submit"})

_FORMATS = frozenset({"csv", "pdf", "json", "xml", "xlsx", "xls", "excel", "yaml", "yml", "html", "txt",
                      "markdown", "zip", "png", "jpg", "jpeg", "docx", "ndjson", "parquet"})
_FUNCTION_WORDS = frozenset("""
    a an the this that these those their his her its our your my them it they we you i he she me us
    each every all any some no none one many multiple several more most less fewer than other such both
    of to in into on onto at by for from with without via per as about over under between through
    and or but nor if then else when where which who whom whose what why how so because while until
    is are was were be been being am has have had do does did can could should would must may might
    will shall need needs not also only just very too there here than either neither etc e g eg ie
    able let lets allow allows using use uses used within across after before during again
""".split())
_CLAUSE_AUX = frozenset(
    "can could should would must may might will shall is are was were be been has have had do does did"
    .split()
)
_PRONOUNS = frozenset({"them", "it"})
_CONJUNCTIONS = frozenset({"and", "or"})
# Words between a verb and its object that do not end the object: "export one of their old invoices".
_OBJECT_SKIP = frozenset("""
    a an the this these those their his her its our your my each every all any some one many multiple
    several more less fewer than of new existing own single individual specific selected other certain
    both open closed active inactive pending overdue outstanding paid unpaid recent archived completed
    draft old latest current daily nightly weekly monthly large small public private custom incoming
    outgoing failed duplicate invalid valid
""".split())
# Nouns that name the software rather than the domain.
_GENERIC_NOUNS = frozenset("""
    system app application service services api apis endpoint endpoints feature features job jobs tool
    tools pipeline pipelines module modules page pages screen screens ui backend frontend database db
    table tables data information info detail details thing things stuff way ways time times support
    ability option options task tasks record records entry entries item items list lists format formats
    file files code project button form version test tests request requests response responses error
    errors background batch process workflow functionality web http rest json website site server client
    case cases kind kinds type types field fields value values number row rows line lines column columns
    cell cells header headers
""".split())
# Words that end a field list when they appear inside an item ("due date that must ...").
_FIELD_BREAKS = frozenset("that which who whom when where so because but to for from in on by at if as "
                          "with per via than then into while".split())
_FIELD_LEAD = frozenset("a an the its their his her one some".split())
# "has many invoices": the other entity points back at this one.
_MANY = frozenset("many multiple several zero more".split())
HTTP_HINT = re.compile(
    r"\b(GET|POST|PUT|PATCH|DELETE|HTTP|API|endpoints?|routes?|requests?|responses?|status code|[1-5]\d\d)\b"
    r"|/[a-z]",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------------------------
# Words
# ---------------------------------------------------------------------------------------------

_IRREGULAR_SINGULAR = {"people": "person", "children": "child", "men": "man", "women": "woman",
                       "criteria": "criterion", "analyses": "analysis", "indices": "index",
                       "statuses": "status", "addresses": "address", "aliases": "alias", "buses": "bus",
                       "movies": "movie", "cookies": "cookie", "series": "series", "news": "news",
                       "data": "data"}
_IRREGULAR_PLURAL = {v: k for k, v in _IRREGULAR_SINGULAR.items() if k not in {"series", "news", "data"}}


def _looks_plural(word: str) -> bool:
    w = word.lower()
    if w in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[w] != w
    return len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "ous"))


def singular(word: str) -> str:
    w = word.lower()
    if w in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[w]
    if not _looks_plural(w):
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
class _Token:
    text: str
    start: int
    end: int
    possessive: bool

    @property
    def lower(self) -> str:
        return self.text.lower()


_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_]*(['\u2019]s\b|['\u2019](?=\s|$))?")


def tokenize(sentence: str) -> list[_Token]:
    return [
        _Token(m.group(0)[: len(m.group(0)) - len(m.group(1) or "")], m.start(), m.end(), bool(m.group(1)))
        for m in _TOKEN.finditer(sentence)
    ]


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|[\r\n\v\f\u2028\u2029]+", text)
    return [p.strip() for p in parts if p and p.strip()]


def _verb_at(tokens: list[_Token], i: int) -> str | None:
    """The verb token i stands for, if any. A sentence-initial participle ("Rejected rows are ...")
    describes its noun rather than asking for an operation."""
    low = tokens[i].lower
    if i == 0 and low.endswith("ed") and len(tokens) > 1 and tokens[1].lower not in _FUNCTION_WORDS:
        return None
    return _VERB_FORMS.get(low)


def _is_entity_noun(token: _Token, knowledge: Knowledge) -> bool:
    low = token.lower
    return (
        len(low) > 1
        and not token.text.isupper()  # acronyms: API, PDF, URL
        and low not in _FUNCTION_WORDS
        and low not in _GENERIC_NOUNS
        and singular(low) not in _GENERIC_NOUNS
        and low not in _FORMATS
        and low not in _OBJECT_SKIP
        and low not in _VERB_FORMS
        and knowledge.lookup(low) is None
    )


def _noun_phrase(tokens: list[_Token], j: int, sentence: str, knowledge: Knowledge) -> list[str] | None:
    """Words of the noun phrase starting at token j: 'bank transactions' -> ['bank', 'transaction']."""
    if j >= len(tokens) or not _is_entity_noun(tokens[j], knowledge):
        return None
    first = tokens[j]
    words = name_words(first.text)
    if first.possessive or _looks_plural(first.text) or len(words) != 1 or j + 1 >= len(tokens):
        return words or None
    nxt = tokens[j + 1]
    adjacent = sentence[first.end:nxt.start].isspace()
    if adjacent and _is_entity_noun(nxt, knowledge) and len(name_words(nxt.text)) == 1:
        return words + name_words(nxt.text)
    return words or None


# ---------------------------------------------------------------------------------------------
# Fields
# ---------------------------------------------------------------------------------------------

@dataclass
class _Field:
    name: str
    kind: str
    optional: bool = False
    reference: str | None = None  # slug of the referenced entity

    @property
    def unique(self) -> bool:
        return self.name in {"number", "code", "sku", "email", "username", "slug", "reference", "external_id",
                             "iban", "isbn", "handle"}


def _field_kind(name: str) -> str:
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
    if parts[0] in {"is", "has", "can"} or last in {"enabled", "active", "done", "completed", "paid",
                                                   "archived", "flag", "verified"}:
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
    "datetime": "timestamp with time zone", "date": "date", "money": "exact decimal amount (never float)",
    "integer": "integer", "boolean": "boolean", "email": "email address, validated",
    "url": "URL, validated", "enum": "one of a fixed set of values", "text": "free text",
    "currency": "ISO 4217 currency code", "identifier": "external identifier", "string": "string",
}


@dataclass
class _FieldItem:
    words: list[str]
    optional: bool = False
    many: bool = False

    @property
    def name(self) -> str:
        return "_".join(self.words)


def _parse_field_list(text: str, *, leading_verbs: bool = True) -> list[_FieldItem]:
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
            verb = low in _VERB_FORMS and (words or not leading_verbs)
            if verb or low in _CLAUSE_AUX or low in _PRONOUNS:
                drop = stop = True
                break
            if low in _FIELD_BREAKS:
                stop = True
                break
            words.append(low)
        if drop or len(words) > 3:
            break
        if words and not any(w in _FORMATS for w in words):
            items.append(_FieldItem(words, optional, many or _looks_plural(words[-1])))
        if stop:
            break
    return items


_ATTR_PAREN = re.compile(r"\b([A-Za-z][\w'\u2019]*(?:[ \t]+[A-Za-z][\w'\u2019]*)?)[ \t]*\(([^()]{1,300})\)")
_ATTR_WITH = re.compile(r"\b(?:a|an|each|every|one)\s+([A-Za-z]\w*(?:\s+[A-Za-z]\w*)?)\s+"
                        r"(?:with|having|containing|consisting\s+of)\s+(.+)", re.IGNORECASE)
_ATTR_HAS = re.compile(
    r"\b([A-Za-z]\w*(?:\s+[A-Za-z]\w*)?)\s+(?:has|have|contains|contain|includes|include)\s+(.+)",
    re.IGNORECASE,
)


@dataclass
class _FieldStatement:
    subject: list[str]
    fields: list[_FieldItem]
    span: tuple[int, int]


def _field_statements(sentence: str, knowledge: Knowledge) -> list[_FieldStatement]:
    found = []
    for pattern, minimum in ((_ATTR_PAREN, 2), (_ATTR_WITH, 1), (_ATTR_HAS, 1)):
        for match in pattern.finditer(sentence):
            subject_tokens = tokenize(match.group(1))
            nouns = [t for t in subject_tokens if _is_entity_noun(t, knowledge)]
            if not nouns or nouns[-1] is not subject_tokens[-1]:
                continue
            fields = _parse_field_list(match.group(2))
            # "Invoice (PDF)" or "(optional)" are asides, "Invoice (number, amount)" is a field list.
            if len(fields) < minimum and not (fields and "_" in fields[0].name):
                continue
            subject = [w for t in nouns[-2:] for w in name_words(t.text)]
            found.append(_FieldStatement(name_words(" ".join(subject)), fields, match.span(2)))
    return found


# ---------------------------------------------------------------------------------------------
# Entities
# ---------------------------------------------------------------------------------------------

@dataclass(eq=False)  # identity: entities are used as dict keys
class Entity:
    words: tuple[str, ...]
    fields: list[_Field] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    search_fields: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return "_".join(self.words)

    @property
    def name(self) -> str:
        return "".join(w.capitalize() for w in self.words)

    @property
    def label(self) -> str:
        return " ".join(self.words)

    @property
    def plural_label(self) -> str:
        return " ".join((*self.words[:-1], plural(self.words[-1])))

    @property
    def table(self) -> str:
        return self.plural_label.replace(" ", "_")

    @property
    def route(self) -> str:
        return "/" + self.plural_label.replace(" ", "-")

    def add_field(self, new: _Field) -> None:
        if len(self.fields) < MAX_FIELDS and all(f.name != new.name for f in self.fields):
            self.fields.append(new)

    def add_reference(self, other: Entity) -> None:
        if other.slug != self.slug and all(f.reference != other.slug for f in self.fields):
            self.fields = [f for f in self.fields if f.name != other.slug]
            self.add_field(_Field(f"{other.slug}_id", "reference", reference=other.slug))


def _add_unique(items: list[str], *new: str) -> None:
    items.extend(n for n in new if n not in items)


def _infer_entity_words(sentences: list[str], knowledge: Knowledge) -> list[tuple[str, ...]]:
    """Candidate entities in order of first appearance: subjects of field lists, objects of verbs,
    capitalised domain words in mid-sentence."""
    found: dict[str, tuple[tuple[int, int], tuple[str, ...]]] = {}

    def add(position: tuple[int, int], words: list[str] | None) -> None:
        if words:
            key = "_".join(words)
            if key not in found or position < found[key][0]:
                found[key] = (position, tuple(words))

    for si, sentence in enumerate(sentences):
        tokens = tokenize(sentence)
        for statement in _field_statements(sentence, knowledge):
            add((si, statement.span[0] - 1), statement.subject)
        for i, token in enumerate(tokens):
            if _verb_at(tokens, i):
                j = i + 1
                while j < len(tokens) and (tokens[j].lower in _OBJECT_SKIP or tokens[j].lower in _FORMATS):
                    j += 1
                phrase = _noun_phrase(tokens, j, sentence, knowledge)
                add((si, tokens[j].start if phrase else 0), phrase)
                if phrase and tokens[j].possessive:  # "a Customer's invoices": both are entities
                    add((si, tokens[j].start + 1), _noun_phrase(tokens, j + 1, sentence, knowledge))
            elif (i > 0 and token.text[0].isupper() and tokens[i - 1].lower not in
                  {"via", "using", "through", "with", "on", "in", "into", "from", "to", "by", "at"}):
                add((si, token.start), _noun_phrase(tokens, i, sentence, knowledge))
    ordered = sorted(found.values())
    return [words for _, words in ordered][:MAX_INFERRED_ENTITIES]


def _title_entity(title: str, knowledge: Knowledge) -> tuple[str, ...]:
    tokens = tokenize(title)
    for j in range(len(tokens)):
        phrase = _noun_phrase(tokens, j, title, knowledge)
        if phrase:
            return tuple(phrase)
    # Only function words and verbs in the title ("Do it"): still one entity to hang the plan on.
    return ("record",)


@dataclass
class _Mention:
    index: int
    length: int
    entity: Entity

    @property
    def last(self) -> int:
        return self.index + self.length - 1


def _match_length(tokens: list[_Token], i: int, entity: Entity, unique_head: bool) -> int:
    """How many tokens from i name `entity`: 'BankTransaction' (1), 'bank transactions' (2), or just
    'transactions' (1) when no other entity ends in that word. 0 when they do not."""
    n = len(entity.words)
    if tuple(name_words(tokens[i].text)) == entity.words:
        return 1
    if n > 1 and i + n <= len(tokens):
        spelled = tuple(t.lower for t in tokens[i:i + n - 1]) + (singular(tokens[i + n - 1].lower),)
        if spelled == entity.words:
            return n
    if n > 1 and unique_head and singular(tokens[i].lower) == entity.words[-1]:
        return 1
    return 0


def find_mentions(tokens: list[_Token], entities: list[Entity]) -> list[_Mention]:
    """Where the entities are named in `tokens`, longest match first, left to right."""
    heads = [e.words[-1] for e in entities]
    found: list[_Mention] = []
    i = 0
    while i < len(tokens):
        best: _Mention | None = None
        for e in entities:
            length = _match_length(tokens, i, e, heads.count(e.words[-1]) == 1)
            if length and (best is None or length > best.length):
                best = _Mention(i, length, e)
        if best:
            found.append(best)
            i += best.length
        else:
            i += 1
    return found


@dataclass
class _Target:
    entity: Entity | None
    object_token: _Token | None = None
    dropped: bool = False  # the verb has an object, and it is not an entity ("add a way to ...")


def _resolve_target(i: int, tokens: list[_Token], mentions: list[_Mention], last: Entity | None) -> _Target:
    at = {m.index: m for m in mentions}
    j = i + 1
    while j < len(tokens):
        if j in at:
            mention = at[j]
            if tokens[mention.last].possessive:  # "list a Customer's invoices" targets the invoices
                j = mention.last + 1
                continue
            return _Target(mention.entity, tokens[mention.last])
        low = tokens[j].lower
        if low in _PRONOUNS:
            before = [m for m in mentions if m.last < i]
            entity = last or (before[-1].entity if before else None)
            return _Target(entity, tokens[j])
        if low.isdigit() or any(low in s for s in (_OBJECT_SKIP, _CONJUNCTIONS, _VERB_FORMS, _FORMATS)):
            j += 1
            continue
        break
    # "invoice export API": the entity right before the verb is what it acts on.
    adjacent = [m for m in mentions if m.last == i - 1]
    if adjacent:
        return _Target(adjacent[0].entity)
    if j < len(tokens) and tokens[j].lower not in _FUNCTION_WORDS:
        return _Target(None, dropped=True)
    if mentions:
        nearest = min(mentions, key=lambda m: (abs(m.index - i), m.index))
        return _Target(nearest.entity)
    return _Target(None)


def _attach_operations(
    sentence: str, entities: list[Entity], shared: list[str], knowledge: Knowledge
) -> None:
    """Give each verb's operations to the entity it acts on; verbs with no entity at all go to `shared`."""
    tokens = tokenize(sentence)
    mentions = find_mentions(tokens, entities)
    field_spans = [s.span for s in _field_statements(sentence, knowledge)]
    last: Entity | None = None
    for i, token in enumerate(tokens):
        base = _verb_at(tokens, i)
        if base is None or any(a <= token.start < b for a, b in field_spans):
            continue
        target = _resolve_target(i, tokens, mentions, last)
        if target.dropped:
            continue
        operations = _VERB_OPERATIONS[base]
        if base in _VIEW_VERBS:
            many = target.object_token is not None and (
                _looks_plural(target.object_token.text) or target.object_token.lower == "them")
            operations = ("list",) if many else ("get",)
        if target.entity is None:
            _add_unique(shared, *operations)
            continue
        last = target.entity
        _add_unique(target.entity.operations, *operations)
        if "search" in operations:
            by = next((t for t in tokens[i + 1:] if t.lower == "by"), None)
            if by is not None:
                for item in _parse_field_list(sentence[by.end:], leading_verbs=False):
                    _add_unique(target.entity.search_fields, item.name)
        if {"export", "import"} & set(operations):
            _add_unique(target.entity.formats, *[t.lower for t in tokens if t.lower in _FORMATS])


def _attach_relations(sentence: str, entities: list[Entity]) -> None:
    tokens = tokenize(sentence)
    mentions = find_mentions(tokens, entities)
    named = list(dict.fromkeys(m.entity.slug for m in mentions))
    by_slug = {e.slug: e for e in entities}
    for slug in named:
        _add_unique(by_slug[slug].related, *[s for s in named if s != slug])
    for k, mention in enumerate(mentions):
        following = mentions[k + 1] if k + 1 < len(mentions) else None
        if following is None:
            continue
        # "a Customer's invoices": an invoice belongs to a customer.
        if tokens[mention.last].possessive and following.index - mention.last <= 3:
            following.entity.add_reference(mention.entity)
        between = {t.lower for t in tokens[mention.last + 1:following.index]}
        if between & {"belongs", "belong", "belonging", "owned"}:
            mention.entity.add_reference(following.entity)


def analyse(payload: DecompositionPayload, knowledge: Knowledge) -> list[Entity]:
    described = _sentences(payload.description)
    sentences = [payload.title, *described]

    declared = [tuple(name_words(e)) for e in payload.entities]
    candidates = (
        declared or _infer_entity_words(sentences, knowledge) or [_title_entity(payload.title, knowledge)]
    )
    entities: list[Entity] = []
    for n, words in enumerate(candidates, start=1):
        words = words or ("entity", str(n))
        if all(e.words != words for e in entities):
            entities.append(Entity(tuple(words)))
    by_words = {e.words: e for e in entities}

    for sentence in sentences:
        for statement in _field_statements(sentence, knowledge):
            owner = by_words.get(tuple(statement.subject))
            if owner is None:
                continue
            for item in statement.fields:
                other = by_words.get(tuple(name_words(item.name)))
                if other is None:
                    owner.add_field(_Field(item.name, _field_kind(item.name), optional=item.optional))
                elif item.many:
                    other.add_reference(owner)
                else:
                    owner.add_reference(other)

    shared: list[str] = []
    for sentence in sentences:
        _attach_operations(sentence, entities, shared, knowledge)
        _attach_relations(sentence, entities)

    for e in entities:
        # A search field may name another entity ("filter invoices by customer"): that is a reference.
        resolved = []
        for name in e.search_fields:
            other = by_words.get(tuple(name_words(name)))
            if other is not None and other is not e:
                e.add_reference(other)
                name = f"{other.slug}_id"
            else:
                e.add_field(_Field(name, _field_kind(name)))
            _add_unique(resolved, name)
        e.search_fields = resolved
        _add_unique(e.operations, *shared)
        # An entity needs at least one operation a caller can invoke; a notification alone is not one.
        if not set(e.operations) - {"notify"}:
            _add_unique(e.operations, *DEFAULT_OPERATIONS)
        e.operations.sort(key=OPERATIONS.index)

    # Sentences that name no entity still state rules; the first (primary) entity's service keeps them.
    for sentence in described:
        named = {m.entity for m in find_mentions(tokenize(sentence), entities)}
        rule = sentence if len(sentence) <= MAX_RULE_CHARS else sentence[: MAX_RULE_CHARS - 1] + "\u2026"
        for e in [e for e in entities if e in named] or entities[:1]:
            if len(e.rules) < MAX_RULES_PER_ENTITY:
                _add_unique(e.rules, rule)
    return entities



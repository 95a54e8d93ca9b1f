"""Reading a task's text: entities, their fields, the operations and rules that apply to them.

Heuristic by design: no model and no network, so the same payload always yields the same analysis.
A payload can always state `entities` to take the guesswork out. The words are read in `words`, the
field lists in `fields`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orbit_pipelines.jobs.task_decomposition.evidence import adds_feature, says_kept
from orbit_pipelines.jobs.task_decomposition.fields import (
    Field,
    field_kind,
    field_statements,
    parse_field_list,
)
from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.nouns import noun_phrase
from orbit_pipelines.jobs.task_decomposition.roles import (
    acts_as_verb,
    complement,
    imperatives,
    in_parentheses,
)
from orbit_pipelines.jobs.task_decomposition.words import (
    CONJUNCTIONS,
    DEFAULT_OPERATIONS,
    DETERMINERS,
    FORMATS,
    FUNCTION_WORDS,
    OBJECT_SKIP,
    OPERATIONS,
    PRONOUNS,
    VERB_FORMS,
    VERB_OPERATIONS,
    VIEW_VERBS,
    Token,
    looks_plural,
    name_words,
    plural,
    singular,
    split_sentences,
    tokenize,
    verb_at,
)
from orbit_pipelines.jobs.task_decomposition.work import load_library

MAX_INFERRED_ENTITIES = 8
MAX_RULES_PER_ENTITY = 8
MAX_RULE_CHARS = 400
MAX_FIELDS = 20


@dataclass(eq=False)  # identity: entities are used as dict keys
class Entity:
    words: tuple[str, ...]
    fields: list[Field] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    search_fields: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)  # the operations the text asks for, before defaults
    # What the text says the system does to its records, not only to a screen: the operations of verbs
    # other than showing it or adding it as a feature, and the words that it is kept (see `kept`).
    evidence: list[str] = field(default_factory=list)
    from_title: bool = False  # nothing in the text named an entity: the title's first noun stands in

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

    def add_field(self, new: Field) -> None:
        if len(self.fields) < MAX_FIELDS and all(f.name != new.name for f in self.fields):
            self.fields.append(new)

    def add_reference(self, other: Entity) -> None:
        if other.slug != self.slug and all(f.reference != other.slug for f in self.fields):
            self.fields = [f for f in self.fields if f.name != other.slug]
            self.add_field(Field(f"{other.slug}_id", "reference", reference=other.slug))


def _add_unique(items: list[str], *new: str) -> None:
    items.extend(n for n in new if n not in items)


def _infer_entity_words(sentences: list[str], knowledge: Knowledge, verbs: frozenset[str]) -> list[tuple[str, ...]]:
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
        for statement in field_statements(sentence, knowledge):
            add((si, statement.span[0] - 1), statement.subject)
        for i, token in enumerate(tokens):
            if verb_at(tokens, i) and not in_parentheses(token, sentence):
                j = i + 1
                while j < len(tokens) and (tokens[j].lower in OBJECT_SKIP or tokens[j].lower in FORMATS):
                    j += 1
                phrase = noun_phrase(tokens, j, sentence, knowledge)
                if phrase and j == i + 1 and (acts_as_verb(tokens, j, verbs) or complement(tokens, i)):
                    phrase = None  # "downloads read from S3": "read" is the verb of "downloads"
                add((si, tokens[j].start if phrase else 0), phrase)
                if phrase and tokens[j].possessive:  # "a Customer's invoices": both are entities
                    add((si, tokens[j].start + 1), noun_phrase(tokens, j + 1, sentence, knowledge))
            elif (
                i > 0
                and token.text[0].isupper()
                and tokens[i - 1].lower
                not in {"via", "using", "through", "with", "on", "in", "into", "from", "to", "by", "at"}
            ):
                add((si, token.start), noun_phrase(tokens, i, sentence, knowledge))
    ordered = sorted(found.values())
    return [words for _, words in ordered][:MAX_INFERRED_ENTITIES]


def _title_entity(title: str, knowledge: Knowledge, actions: set[str], verbs: frozenset[str]) -> tuple[str, ...] | None:
    """The title's first noun phrase, after its leading verb ("Move sessions to Redis": sessions); none
    when the title has only function words, verbs and words the text uses as its action."""
    tokens = tokenize(title)
    leading_verb = len(tokens) > 1 and tokens[0].lower in verbs | actions and looks_plural(tokens[1].text)
    start = 1 if leading_verb or (tokens and tokens[0].lower in actions) else 0
    for j in range(start, len(tokens)):
        phrase = noun_phrase(tokens, j, title, knowledge)
        if phrase:
            return tuple(phrase) if phrase[-1] not in actions else None
    return None


@dataclass
class _Mention:
    index: int
    length: int
    entity: Entity

    @property
    def last(self) -> int:
        return self.index + self.length - 1


def _match_length(tokens: list[Token], i: int, entity: Entity, unique_head: bool) -> int:
    """How many tokens from i name `entity`: 'BankTransaction' (1), 'bank transactions' (2), or just
    'transactions' (1) when no other entity ends in that word. 0 when they do not."""
    n = len(entity.words)
    if tuple(name_words(tokens[i].text)) == entity.words:
        return 1
    if n > 1 and i + n <= len(tokens):
        spelled = tuple(t.lower for t in tokens[i : i + n - 1]) + (singular(tokens[i + n - 1].lower),)
        if spelled == entity.words:
            return n
    if n > 1 and unique_head and singular(tokens[i].lower) == entity.words[-1]:
        return 1
    return 0


def find_mentions(tokens: list[Token], entities: list[Entity]) -> list[_Mention]:
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
    object_token: Token | None = None
    dropped: bool = False  # the verb has an object, and it is not an entity ("add a way to ...")


def _resolve_target(i: int, tokens: list[Token], mentions: list[_Mention], last: Entity | None) -> _Target:
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
        if low in PRONOUNS:
            before = [m for m in mentions if m.last < i]
            entity = last or (before[-1].entity if before else None)
            return _Target(entity, tokens[j])
        if low.isdigit() or any(low in s for s in (OBJECT_SKIP, CONJUNCTIONS, VERB_FORMS, FORMATS)):
            j += 1
            continue
        # "upload a short introduction video": the words that qualify the entity's name come before it.
        ahead = next((k for k in (j + 1, j + 2) if k in at), None)
        if ahead is not None and all(t.lower not in FUNCTION_WORDS for t in tokens[j:ahead]):
            j = ahead
            continue
        break
    # "invoice export API": the entity right before the verb is what it acts on.
    adjacent = [m for m in mentions if m.last == i - 1]
    if adjacent:
        return _Target(adjacent[0].entity)
    if j < len(tokens) and tokens[j].lower not in FUNCTION_WORDS:
        return _Target(None, dropped=True)
    if mentions:
        nearest = min(mentions, key=lambda m: (abs(m.index - i), m.index))
        return _Target(nearest.entity)
    return _Target(None)


def _attach_operations(
    sentence: str, entities: list[Entity], shared: list[str], shared_evidence: list[str], knowledge: Knowledge
) -> None:
    """Give each verb's operations to the entity it acts on; verbs with no entity at all go to `shared`
    (and to `shared_evidence` when they do more than show it or add it as a feature)."""
    tokens = tokenize(sentence)
    mentions = find_mentions(tokens, entities)
    field_spans = [s.span for s in field_statements(sentence, knowledge)]
    last: Entity | None = None
    for i, token in enumerate(tokens):
        base = verb_at(tokens, i)
        if base is None or in_parentheses(token, sentence) or any(a <= token.start < b for a, b in field_spans):
            continue
        target = _resolve_target(i, tokens, mentions, last)
        if target.dropped:
            continue
        operations = VERB_OPERATIONS[base]
        shown = base in VIEW_VERBS or adds_feature(tokens, i)
        if base in VIEW_VERBS:
            many = target.object_token is not None and (
                looks_plural(target.object_token.text) or target.object_token.lower == "them"
            )
            operations = ("list",) if many else ("get",)
        if target.entity is None:
            _add_unique(shared, *operations)
            if not shown:
                _add_unique(shared_evidence, *operations)
            continue
        last = target.entity
        _add_unique(target.entity.operations, *operations)
        if not shown:
            _add_unique(target.entity.evidence, *operations)
        if "search" in operations:
            by = next((t for t in tokens[i + 1 :] if t.lower == "by"), None)
            if by is not None:
                for item in parse_field_list(sentence[by.end :], leading_verbs=False):
                    _add_unique(target.entity.search_fields, item.name)
        if {"export", "import"} & set(operations):
            _add_unique(target.entity.formats, *[t.lower for t in tokens if t.lower in FORMATS])


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
        between = {t.lower for t in tokens[mention.last + 1 : following.index]}
        if between & {"belongs", "belong", "belonging", "owned"}:
            mention.entity.add_reference(following.entity)
            for owned in (mention.entity, following.entity):  # a thing kept with its owner, and the owner
                _add_unique(owned.evidence, "keep")


def _merge_qualified(candidates: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """One entity per thing: a name that is another candidate's name with a qualifier before it
    ("chat message" beside "message") is that entity, not a second one."""
    return [w for w in candidates if not any(len(v) < len(w) and w[-len(v) :] == v for v in candidates)]


def analyse(payload: DecompositionPayload, knowledge: Knowledge) -> list[Entity]:
    described = split_sentences(payload.description)
    sentences = [payload.title, *described]

    declared = [tuple(name_words(e)) for e in payload.entities]
    # A word a sentence starts with as its action ("Upgrade the database", "Move them") names no entity.
    verbs = load_library().verbs
    actions = imperatives(described, verbs)
    inferred = declared or [w for w in _infer_entity_words(sentences, knowledge, verbs) if w[-1] not in actions]
    title = _title_entity(payload.title, knowledge, actions, verbs)
    candidates = _merge_qualified(inferred) or ([title] if title else [])
    entities: list[Entity] = []
    for n, words in enumerate(candidates, start=1):
        words = words or ("entity", str(n))
        if all(e.words != words for e in entities):
            entities.append(Entity(tuple(words), from_title=not inferred))
    by_words = {e.words: e for e in entities}

    for sentence in sentences:
        for statement in field_statements(sentence, knowledge):
            owner = by_words.get(tuple(statement.subject))
            if owner is None:
                continue
            for item in statement.fields:
                other = by_words.get(tuple(name_words(item.name)))
                if other is None:
                    owner.add_field(Field(item.name, field_kind(item.name), optional=item.optional))
                elif item.many:
                    other.add_reference(owner)
                else:
                    owner.add_reference(other)

    shared: list[str] = []
    shared_evidence: list[str] = []
    for sentence in sentences:
        _attach_operations(sentence, entities, shared, shared_evidence, knowledge)
        _attach_relations(sentence, entities)

    for sentence in sentences:  # "Patients can reply STOP to opt out": the opt-out is kept on the patient
        tokens = tokenize(sentence)
        subject = next(iter(find_mentions(tokens, entities)), None)
        if subject is not None and all(t.lower in DETERMINERS for t in tokens[: subject.index]):
            if says_kept(sentence, tokens[subject.last].end):
                _add_unique(subject.entity.evidence, "keep")

    for e in entities:
        # A search field may name another entity ("filter invoices by customer"): that is a reference.
        resolved: list[str] = []
        for name in e.search_fields:
            other = by_words.get(tuple(name_words(name)))
            if other is not None and other is not e:
                e.add_reference(other)
                name = f"{other.slug}_id"
            else:
                e.add_field(Field(name, field_kind(name)))
            _add_unique(resolved, name)
        e.search_fields = resolved
        _add_unique(e.operations, *shared)
        _add_unique(e.evidence, *shared_evidence)
        e.asked = list(e.operations)
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

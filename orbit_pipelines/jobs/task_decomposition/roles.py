"""What a word is doing in its sentence, beyond its spelling: the action of an imperative sentence,
a verb after a plural subject, the complement of a passive, a value inside parentheses. Words in these
roles name no entity ("Upgrade the database", "downloads read from S3", "is marked obsolete",
"(role changes, deletions)"); a capitalised name after "from", "to", "via"... is an outside system.
"""

from __future__ import annotations

from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge, normalize_tech_name
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.words import (
    DETERMINERS,
    PRONOUNS,
    VERB_FORMS,
    Token,
    looks_plural,
    split_sentences,
    tokenize,
)


def in_parentheses(token: Token, sentence: str) -> bool:
    """Whether `token` is inside an aside in parentheses ("(role changes, deletions, settings)"): a list
    of values, which holds no verb of the sentence."""
    return sentence.count("(", 0, token.start) > sentence.count(")", 0, token.start)


def imperatives(sentences: list[str], verbs: frozenset[str]) -> set[str]:
    """Words a sentence starts with as its action: a known verb, or any word followed by a determiner or
    a pronoun ("Upgrade the production database", "Move them to Redis"). They name no entity."""
    found: set[str] = set()
    for sentence in sentences:
        tokens = tokenize(sentence)
        if not tokens:
            continue
        low = tokens[0].lower
        if low in verbs or low in VERB_FORMS or (len(tokens) > 1 and tokens[1].lower in DETERMINERS | PRONOUNS):
            found.add(low)
    return found


# Prepositions after which a word spelled like a verb is acting as one: "read from S3", "go to the table".
_AFTER_VERB = frozenset("from to into onto at on in with by for via through".split())


def acts_as_verb(tokens: list[Token], j: int, verbs: frozenset[str]) -> bool:
    """Whether tokens[j], a known verb in its base form followed by a preposition, is a verb here (a
    plural is a noun: "add tags to todos")."""
    return tokens[j].lower in verbs and j + 1 < len(tokens) and tokens[j + 1].lower in _AFTER_VERB


_COPULAS = frozenset("is are was were be been being get gets got".split())


def complement(tokens: list[Token], i: int) -> bool:
    """Whether the word after the participle tokens[i] is its complement, not its object: "is marked
    obsolete", "are set inactive" (a single word, no determiner, no plural)."""
    word = tokens[i + 1] if i + 1 < len(tokens) else None
    passive = i > 0 and tokens[i - 1].lower in _COPULAS and tokens[i].lower.endswith(("ed", "en", "set"))
    return passive and word is not None and not looks_plural(word.text) and not word.text[0].isupper()


# Words after which a capitalised name is where the work goes or comes from: "labels from EasyPost",
# "a ticket in ServiceNow", "push the image to ECR".
_TOWARDS = frozenset({"from", "to", "in", "into", "via", "through", "with", "on", "using"})


def outside_systems(payload: DecompositionPayload, knowledge: Knowledge) -> list[str]:
    """Names the knowledge base does not know that the text treats as outside systems: a capitalised
    name right after from/to/in/via/through/with ("buy labels from EasyPost"), or right after a
    known tool's name ("GitHub Actions", "Microsoft Teams"), and each product word after that one
    ("Google Cloud Storage", "Twilio Programmable Messaging"). Declared entities never are."""
    declared = {normalize_tech_name(e) for e in payload.entities}
    found: list[str] = []
    for sentence in [payload.title, *split_sentences(payload.description)]:
        tokens = tokenize(sentence)
        for i, token in enumerate(tokens[1:], start=1):
            prev = tokens[i - 1]
            if not token.text[0].isupper() or token.lower in declared:
                continue
            after_tool = prev.text[0].isupper() and (knowledge.is_tool(prev.lower) or prev.lower in found)
            if prev.lower in _TOWARDS or after_tool:
                name = f"{prev.lower} {token.lower}" if after_tool else token.lower
                found += [name, token.lower] if after_tool else [name]
    return list(dict.fromkeys(found))

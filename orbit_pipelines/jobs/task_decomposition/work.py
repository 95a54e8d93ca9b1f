"""Requirement clauses -> work items: the patterns of knowledge/work.toml matched clause by clause,
rendered with the clause's own numbers and words, merged by id and ordered by what they wait for.

Effort (hours, rounded to the nearest 0.5, at least 0.5): 0.5 + 0.5 per requirement.
Priority: DATA_MODEL is HIGH (the rest waits for it); SERVICE and HTTP_API MEDIUM; TESTING MEDIUM
when it checks an acceptance criterion, LOW otherwise.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from orbit_pipelines.jobs.task_decomposition.clauses import CLOCK, NUMBER, PERCENT, Clause, clauses_of, parse_clause
from orbit_pipelines.jobs.task_decomposition.graph import reaches
from orbit_pipelines.jobs.task_decomposition.knowledge import read_data
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    DecompositionPayload,
    Subtask,
    SubtaskPriority,
)
from orbit_pipelines.jobs.task_decomposition.readings import (
    SENDING,
    channels_of,
    negation_test,
    recipients,
    schedule_of,
)
from orbit_pipelines.jobs.task_decomposition.specifics import (
    figures_only,
    missing_from,
    specifics_of,
    specifics_title,
    test_lines,
    work_lines,
)
from orbit_pipelines.jobs.task_decomposition.stack_work import named_integrations, stack_integrations
from orbit_pipelines.jobs.task_decomposition.words import FUNCTION_WORDS, VERB_FORMS, singular

MAX_GENERIC_ITEMS = 12


@dataclass(frozen=True)
class Pattern:
    name: str
    kind: str
    when: re.Pattern
    items: tuple[Mapping[str, Any], ...]
    crud: bool = False  # entity CRUD subtasks do this work when the task has entities


@dataclass(frozen=True)
class Library:
    verbs: frozenset[str]
    kinds: tuple[tuple[str, re.Pattern, Mapping[str, str]], ...]
    patterns: tuple[Pattern, ...]

    def kind_of(self, text: str) -> tuple[str, Mapping[str, str]]:
        for name, when, empty in self.kinds:
            if when.search(text):
                return name, empty
        return "CRUD feature", {}


@cache
def load_library() -> Library:
    raw = read_data("work.toml")
    kinds = tuple(
        (k["name"], re.compile(k["when"], re.IGNORECASE), {c.value: k[c.value] for c in Category if c.value in k})
        for k in raw.get("kind", [])
    )
    patterns = tuple(
        Pattern(
            p["name"], p["kind"], re.compile(p["when"], re.IGNORECASE), tuple(p.get("item", [])), p.get("crud", False)
        )
        for p in raw.get("pattern", [])
    )
    return Library(frozenset(raw["verbs"].split()), kinds, patterns)


@dataclass
class Item:
    id: str
    title: str
    requirements: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    from_acceptance: bool = False
    generic: bool = False  # named from the clause alone, not by a pattern of work.toml

    @property
    def category(self) -> Category:
        return Category(self.id.split(".", 1)[0].upper())


def _slug(text: str) -> str:
    return "_".join(re.findall(r"[a-z0-9]+", text.lower())[:4]) or "work"


_TIME_UNIT = re.compile(r"\s*(?:second|minute|hour|day|week|month|year)s?\b", re.I)


def _values(clause: Clause, match: re.Match, tools: re.Pattern, verbs: frozenset[str]) -> dict[str, str]:
    values = {k: v for k, v in match.groupdict().items() if v}
    if "act" in values:  # "moderators can hide comments": the action the role may take
        act = parse_clause(values["act"].strip(), clause.source, verbs)
        values = {k: v for k, v in values.items() if k != "act"}
        if act.verb:
            values["act"] = act.gist
    if re.match(r"an? ", values.get("span", "")):  # "within a minute": the bound is 1 minute
        values["span"] = "1 " + values["span"].split(" ", 1)[1]
    if "prep" in values:  # "for the next 24 hours" keeps its sense: "next" alone reads as a list of days
        values["prep"] = "for the next" if values["prep"] == "next" else values["prep"]
    # A count, not a clock time or a length of time ("for up to 24 hours" is no 24 of anything).
    numbers = [
        m.group("n")
        for m in NUMBER.finditer(clause.text)
        if not CLOCK.search(clause.text[m.start() :][:5]) and not _TIME_UNIT.match(clause.text, m.end())
    ]
    extras = {
        "gist": clause.gist,
        "obj": clause.obj,
        "topic": clause.topic,
        "recipients": recipients(clause),
        "channels": channels_of(clause.text),
        # A negated clause sends nothing: its message is no work ("A reminder is never sent twice").
        "message": clause.obj if clause.verb in SENDING and not clause.negated else "",
        "trigger": clause.trigger,
        "actor": clause.actor,
        "terms": ", ".join(dict.fromkeys(clause.terms)),
        "schedule": schedule_of(clause.text),
        "tools": ", ".join(dict.fromkeys(m.group(0) for m in tools.finditer(clause.text))),
        "slug": _slug(clause.gist),
    }
    if clause.durations:
        extras["duration"] = clause.durations[0]
    if (m := PERCENT.search(clause.text)) is not None:
        extras["percent"] = m.group("p")
    if (m := CLOCK.search(clause.text)) is not None:
        extras["time"] = m.group("t")
    if numbers:
        extras["number"] = numbers[0]
    if "n" in values:
        extras["n_next"] = str(int(values["n"].replace(",", "")) + 1)
        extras["n_prev"] = str(max(int(values["n"].replace(",", "")) - 1, 0))
    values = {**extras, **values}
    values.update({k[:1].upper() + k[1:]: v[:1].upper() + v[1:] for k, v in list(values.items()) if v})
    return {k: v for k, v in values.items() if v}


def _render(template: str, values: Mapping[str, str]) -> str | None:
    """The template filled in, or None when it names something the clause does not give."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    if not names <= values.keys():
        return None
    return template.format_map(values)


def _first(templates: str | list[str], values: Mapping[str, str]) -> str | None:
    """The first of `templates` (one, or a list of alternatives) that the clause fills in."""
    options = templates if isinstance(templates, list) else [templates]
    return next((t for t in (_render(t, values) for t in options) if t), None)


def _items_of(clause: Clause, library: Library, tools: re.Pattern, crud: bool) -> list[Item]:
    items: list[Item] = []
    for pattern in library.patterns:
        if pattern.crud and crud:
            continue
        match = pattern.when.search(clause.text)
        if match is None:
            continue
        values = _values(clause, match, tools, library.verbs)
        for spec in pattern.items:
            item_id = _render(spec["id"], values)
            if item_id is None:
                continue
            reqs = [r for r in (_first(t, values) for t in spec.get("requirements", [])) if r]
            title = _first(spec["title"], values)
            if title is None:
                continue  # an item whose title the clause cannot fill is not printed half-written
            after = [a for a in (_render(t, values) for t in spec.get("after", [])) if a]
            items.append(Item(item_id, title, reqs, after, clause.source == "acceptance"))
    return items


QUOTE_RUN = 6  # words in a row shared with the task's text make a line a quote, not work


def _runs(text: str) -> set[tuple[str, ...]]:
    w = re.findall(r"[a-z0-9]+", text.lower())
    return {tuple(w[i : i + QUOTE_RUN]) for i in range(len(w) - QUOTE_RUN + 1)}


def _restated(clause: Clause, quoted: set[tuple[str, ...]]) -> list[str]:
    """The clause as a requirement line in the plan's words, or nothing when that line would only copy
    the task's text (the task is in the prompt already) or say no more than its gist."""
    line = clause.requirement
    words = line.split()
    ends_badly = words[-1].lower() in FUNCTION_WORDS - {"again"}  # "... even if the job runs again" is whole
    if not clause.rest or _runs(line) & quoted or ends_badly or len(words) < 3:
        return []
    return [f"{_REQUIREMENT}{line}"]


_REQUIREMENT = "Requirement: "


def _generic(clause: Clause, quoted: set[tuple[str, ...]]) -> list[Item]:
    """A clause no pattern knows: still work, phrased from its verb, object and qualifiers; nothing when
    the clause gives no more than one word to name the work by ("Assignee", "Move")."""
    gist = clause.gist
    if len(gist.split()) < 2:
        return []
    slug = _slug(gist)
    details = _restated(clause, quoted)
    if clause.source == "acceptance":
        return [Item(f"testing.check_{slug}", f"Check: {gist}", [f"Prove that {gist} holds", *details], [], True, True)]
    return [
        Item(f"service.{slug}", gist[:1].upper() + gist[1:], [f"Service operation to {gist}", *details], generic=True),
        Item(
            f"testing.{slug}",
            f"Tests: {gist}",
            [f"The outcome of '{gist}', and its refusal cases", *details],
            generic=True,
        ),
    ]


# Lines that restate the clause itself rather than work on it: they do not count as the plan saying it.
_RESTATED = (_REQUIREMENT,)


def _said(items: list[Item]) -> str:
    lines = [line for i in items for line in (i.title, *i.requirements) if not line.startswith(_RESTATED)]
    return " ".join(lines).lower()


def _specific_work(
    clause: Clause, items: list[Item], found: list[Item], verbs: frozenset[str], entity_work: bool
) -> list[Item]:
    """The clause's figures, times, named systems and concepts that its work items (and the plan so far)
    do not carry yet, as work: added to the clause's own service and test items, or as items of their own
    when the clause made none (a clause an entity's CRUD subtasks stand for, or past the generic cap)."""
    specifics = specifics_of(clause, verbs)
    missing = missing_from(figures_only(specifics) if entity_work else specifics, _said(found))
    if not missing:
        return []
    build = next((i for i in items if i.category not in {Category.TESTING, Category.DATA_MODEL}), None)
    check = next((i for i in items if i.category == Category.TESTING), None)
    # A gist of one word or none ("Courier") cannot name an item of its own: the first specific does.
    name = clause.gist if len(clause.gist.split()) > 1 else specifics_title(missing)
    slug = _slug(name)
    new: list[Item] = []
    if build is None and clause.source != "acceptance":
        build = Item(f"service.{slug}", name[:1].upper() + name[1:], generic=True)
        new.append(build)
    if check is None:
        check = Item(f"testing.{slug}", f"Tests: {name}", [], [], clause.source == "acceptance", True)
        new.append(check)
    if build is not None:
        build.requirements += work_lines(missing)
        if build.id not in check.after and build in new:
            check.after.append(build.id)
    check.requirements += test_lines(missing)
    return new


def _merge(items: list[Item]) -> dict[str, Item]:
    """Items of the same id, or of the same category and title ("Send order events" from a clause and
    from the signing pattern), as one item: the pattern's id (other patterns wait for it) over a
    generic one's, else the first one's, and every `after` pointing at it."""
    merged: dict[str, Item] = {}
    same: dict[str, str] = {}  # id -> the id of the item it was merged into
    titled: dict[tuple[Category, str], str] = {}
    for item in items:
        target = same.get(item.id) or titled.get((item.category, item.title.lower()), item.id)
        same[item.id] = target
        known = merged.get(target)
        if known is None:
            merged[target] = Item(
                target, item.title, list(item.requirements), list(item.after), item.from_acceptance, item.generic
            )
            titled[(item.category, item.title.lower())] = target
            continue
        known.requirements += [r for r in item.requirements if r not in known.requirements]
        known.after += [a for a in item.after if a not in known.after]
        known.from_acceptance |= item.from_acceptance
        if known.generic and not item.generic and item.id != target:
            known.id, known.generic = item.id, False
            merged = {(item.id if k == target else k): v for k, v in merged.items()}
            same = {k: (item.id if v == target else v) for k, v in same.items()}
            titled = {k: (item.id if v == target else v) for k, v in titled.items()}
    for item in merged.values():
        item.after = list(dict.fromkeys(same.get(a, a) for a in item.after))
    return merged


def _names(clause: Clause, heads: frozenset[str] | None) -> bool:
    """Whether the clause acts on one of the entities (any, when they are not given)."""
    words = {singular(w) for w in f"{clause.obj} {clause.subject} {clause.topic}".lower().split()}
    return heads is None or bool(words & heads)


def _hours(value: float) -> float:
    return max(0.5, int(value * 2 + 0.5) / 2)


def _dependencies(items: dict[str, Item]) -> dict[str, list[str]]:
    """What each item waits for among the items present; an edge that would close a cycle is dropped."""
    deps: dict[str, list[str]] = {}
    for item in items.values():
        deps[item.id] = []
        for target in item.after:
            if target in items and target != item.id and not reaches(deps, target, item.id):
                deps[item.id].append(target)
    return deps


@dataclass
class WorkPlan:
    kind: str
    subtasks: list[Subtask]
    empty_reasons: Mapping[str, str]


def plan_work(
    payload: DecompositionPayload,
    tools: list[str],
    crud: bool = False,
    library: Library | None = None,
    entity_heads: frozenset[str] | None = None,
) -> WorkPlan:
    """The work items of the task's requirement clauses, as subtasks (excluded categories left out).
    `crud`: the plan has entity CRUD subtasks, which already carry the clauses that create, list, get,
    change, search, import or export records; only clauses beyond those become work items here.
    `entity_heads`: the last words of the modelled entities; a clause whose object or subject names none
    of them ("the queue shows the oldest comments" when comments are not modelled) is not theirs."""
    library = library or load_library()
    names = sorted({t.lower() for t in tools if t.strip()}, key=len, reverse=True)
    tool_names = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b" if names else r"(?!)", re.IGNORECASE)
    kind, empty = library.kind_of(f"{payload.title}. {payload.description}")
    found: list[Item] = []
    generic = 0
    quoted = _runs(" ".join([payload.description, *payload.acceptance_criteria, *payload.project_rules]))
    for clause in clauses_of(payload, library.verbs):
        items = _items_of(clause, library, tool_names, crud)
        if (
            crud
            and not clause.negated
            and (not clause.verb or clause.verb in VERB_FORMS and _names(clause, entity_heads))
        ):
            pass  # an entity operation or a field list: the entity subtasks have it (a negated one is a rule)
        elif not items and generic < MAX_GENERIC_ITEMS:
            items, generic = _generic(clause, quoted), generic + 1
        elif items and clause.source == "description":
            first = next((i for i in items if i.category == Category.SERVICE), items[0])
            first.requirements += _restated(clause, quoted)
        found += items
        new = _specific_work(
            clause, items, found, library.verbs, entity_work=crud and not items and clause.verb in VERB_FORMS
        )
        found += new
        if (tests := negation_test(clause)) and clause.source != "rule":
            # A negated clause's test proves the forbidden thing does not happen ("no second reminder").
            check = next((i for i in [*items, *new] if i.category == Category.TESTING), None)
            if check is None:
                check = Item(f"testing.{_slug(clause.gist)}", f"Tests: {clause.gist}", [], [], False, True)
                found.append(check)
            check.requirements += [t for t in tests if t not in check.requirements]
    found += [Item(*work) for work in stack_integrations(payload.tech_stack, _said(found))]
    text = "\n".join([payload.title, payload.description, *payload.acceptance_criteria])
    found += [Item(*work) for work in named_integrations(text, " ".join(i.title for i in found).lower())]
    excluded = set(payload.exclude_categories)
    merged = {k: v for k, v in _merge(found).items() if v.category not in excluded}
    deps = _dependencies(merged)
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    subtasks = [
        Subtask(
            id=item.id,
            category=item.category,
            title=item.title,
            description=f"{item.title}, for the task \u201c{payload.title}\u201d ({kind}).",
            requirements=item.requirements,
            dependencies=deps[item.id],
            estimated_effort_hours=_hours(0.5 + 0.5 * len(item.requirements)),
            priority=SubtaskPriority.HIGH
            if item.category == Category.DATA_MODEL
            else SubtaskPriority.MEDIUM
            if item.category != Category.TESTING or item.from_acceptance
            else SubtaskPriority.LOW,
        )
        for item in sorted(merged.values(), key=lambda i: order[i.category])
    ]
    return WorkPlan(kind, subtasks, empty)

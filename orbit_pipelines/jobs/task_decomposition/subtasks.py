"""Writing the subtasks of each category for the entities a task names: data models, services, HTTP
APIs and tests, with effort and priority, and the acceptance criteria folded into the tests.

Effort (hours, rounded to the nearest 0.5, at least 0.5):
    DATA_MODEL  1 + 0.25 per field (3 assumed when the text names none) + 0.5 for a migration
                  + 0.25 per index + 0.25 per reference to another entity
    SERVICE     1 + 0.5 per operation + 0.25 per business rule taken from the text
    HTTP_API    0.5 + 0.5 per route
    TESTING     1 + 0.25 per listed case (operation, route, rule, error check) + 0.25 per acceptance criterion

Priority: DATA_MODEL is HIGH (everything else builds on it); SERVICE and HTTP_API are MEDIUM (the
deliverable, but they need the models first); TESTING is MEDIUM when it carries acceptance criteria
(that is how the task is judged done) and LOW otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from orbit_pipelines.jobs.task_decomposition.entities import Entity, find_mentions
from orbit_pipelines.jobs.task_decomposition.fields import KIND_TEXT
from orbit_pipelines.jobs.task_decomposition.graph import reaches
from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    DecompositionPayload,
    Subtask,
    SubtaskPriority,
)
from orbit_pipelines.jobs.task_decomposition.words import HTTP_HINT, tokenize


def subtask_id(category: Category, slug: str) -> str:
    return f"{category.value.lower()}.{slug}"


def _hours(value: float) -> float:
    return max(0.5, math.floor(value * 2 + 0.5) / 2)  # half-up, unlike round()


def _a(phrase: str) -> str:
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def _join(items: Iterable[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass
class Stack:
    framework: str | None
    relational_store: str | None
    other_store: str | None

    @classmethod
    def of(cls, tech_stack: Iterable[str], knowledge: Knowledge) -> Stack:
        known = [t for t in (knowledge.lookup(name) for name in tech_stack) if t is not None]

        def first(kind: str) -> str | None:
            return next((t.display for t in known if t.kind == kind), None)

        return cls(first("web_framework"), first("relational_store"), first("store"))


def _routes(e: Entity) -> list[tuple[str, str]]:
    base, item, plural_label = e.route, f"{e.route}/{{id}}", e.plural_label
    formats = "/".join(f.upper() for f in e.formats)
    fmt_query = f"?format={'|'.join(e.formats)}" if e.formats else ""
    as_formats = f" as {formats}" if formats else ""
    filters = "&".join(f"{name}={{{name}}}" for name in e.search_fields) or "q={query}"
    table = {
        "create": [(f"POST {base}", f"create {_a(e.label)} from a JSON body; 201 with the stored record")],
        "list": [(f"GET {base}", f"list {plural_label}, paginated with limit and offset")],
        "get": [(f"GET {item}", f"fetch one {e.label}; 404 for an unknown id")],
        "update": [(f"PATCH {item}", f"update fields of {_a(e.label)}; 404 for an unknown id, 422 for invalid fields")],
        "delete": [(f"DELETE {item}", f"delete {_a(e.label)}; 204 on success, 404 for an unknown id")],
        "search": [(f"GET {base}?{filters}", f"filter {plural_label}; unknown filter values give an empty page")],
        "import": [
            (
                f"POST {base}/import",
                f"upload a {formats or 'data'} file of {plural_label}; respond with imported and rejected row counts",
            )
        ],
        "export": [
            (f"GET {item}/export{fmt_query}", f"download one {e.label}{as_formats}"),
            (f"GET {base}/export{fmt_query}", f"download the selected {plural_label}{as_formats}"),
        ],
        "upload": [(f"POST {item}/files", f"multipart upload of a file for {_a(e.label)}")],
        "approve": [
            (f"POST {item}/approve", f"approve a pending {e.label}"),
            (f"POST {item}/reject", f"reject a pending {e.label} with a reason"),
        ],
        "send": [(f"POST {item}/send", f"send {_a(e.label)} to its recipient; 202 when queued")],
    }
    return [route for op in e.operations for route in table.get(op, [])]


def _service_operation(op: str, e: Entity) -> str:
    fields = _join(f.name for f in e.fields) or "the fields the task implies"

    def formats_or(default: str) -> str:
        return _join(f.upper() for f in e.formats) or default

    text = {
        "create": f"validate the input ({fields}) and store a new {e.label}; return it with its id",
        "list": f"return {e.plural_label} page by page in a stable order",
        "get": f"return one {e.label} by id; raise a not-found error for an unknown id",
        "update": f"change an existing {e.label}, re-validating the changed fields",
        "delete": f"delete {_a(e.label)} by id; an unknown id raises a not-found error",
        "search": f"filter {e.plural_label} by {_join(e.search_fields) or 'a free-text query'}",
        "import": f"import {e.plural_label} in bulk from {formats_or('the input file')}: "
        "validate every row, skip duplicates and report rejected rows with reasons",
        "export": f"export one {e.label} or a filtered set of {e.plural_label} as {formats_or('a file')}",
        "upload": f"accept uploaded files for {_a(e.label)}; check size and content type before storing",
        "approve": f"approve or reject {_a(e.label)}; only pending ones change state; record who decided",
        "send": f"send {_a(e.label)} to its recipient and record when it was sent",
        "notify": f"notify the people concerned about {e.label} events the task describes, through a "
        "notifier interface tests can replace",
    }[op]
    return f"Operation {op}: {text}"


_TEST_CASES = {
    "create": "create stores a valid {label} and rejects invalid input",
    "list": "list returns {plural} in a stable order and pages correctly",
    "get": "get returns the stored {label} and raises not-found for an unknown id",
    "update": "update changes the given fields and rejects invalid values",
    "delete": "delete removes the {label}; a second delete reports not-found",
    "search": "search by {search} returns only matching {plural}",
    "import": "import accepts valid rows, rejects bad rows with reasons and skips duplicates",
    "export": "export output contains the {label} fields in every supported format",
    "upload": "upload rejects files that are too large or of the wrong type",
    "approve": "approve and reject change state once and refuse invalid transitions",
    "send": "send delivers once and records the delivery; failures are reported",
    "notify": "notifications go out for the described events (with a fake notifier)",
}


@dataclass
class Planner:
    payload: DecompositionPayload
    entities: list[Entity]
    stack: Stack
    excluded: set[Category]
    model_deps: dict[str, list[str]] = field(default_factory=dict)

    def present(self, category: Category) -> bool:
        return category not in self.excluded

    def nearest(self, slug: str, category: Category) -> list[str]:
        """The id of `category`'s subtask for `slug`, or of the closest lower layer that is not excluded."""
        chain = [Category.DATA_MODEL, Category.SERVICE, Category.HTTP_API]
        for candidate in reversed(chain[: chain.index(category) + 1]):
            if self.present(candidate):
                return [subtask_id(candidate, slug)]
        return []

    def data_model(self, e: Entity) -> Subtask:
        store = self.stack.relational_store
        reqs = [f"Define the {e.name} entity with an `id` primary key"]
        if e.fields:
            for f in e.fields:
                kind = f"reference to {self._name(f.reference)}" if f.reference else KIND_TEXT[f.kind]
                extras = ["optional" if f.optional else "required"]
                if f.unique:
                    extras.append("unique")
                if f.kind in {"money", "integer"}:
                    extras.append("non-negative")
                reqs.append(f"Field `{f.name}`: {kind}, {', '.join(extras)}")
        else:
            reqs.append(
                f"The task names no fields for {e.name}: derive them from the description and record "
                "each one's type and whether it is required"
            )
        deps = []
        for f in e.fields:
            if f.reference:
                reqs.append(
                    f"Reference {self._name(f.reference)} through `{f.name}`"
                    + (" with a foreign key" if store else " by id")
                )
                if self.present(Category.DATA_MODEL) and not reaches(self.model_deps, f.reference, e.slug):
                    deps.append(subtask_id(Category.DATA_MODEL, f.reference))
        self.model_deps[e.slug] = [d.split(".", 1)[1] for d in deps]
        if store:
            reqs.append(f"Create the `{e.table}` table in {store} through a versioned migration")
        elif self.stack.other_store:
            reqs.append(f"Persist {e.plural_label} in {self.stack.other_store}")
        else:
            reqs.append(
                "No database is declared in the tech stack: keep persistence behind a repository "
                "interface with an in-memory implementation"
            )
        if e.search_fields:
            them = "them" if len(e.search_fields) > 1 else "it"
            columns = _join(f"`{s}`" for s in e.search_fields)
            reqs.append(f"Index {columns}: the task filters {e.plural_label} by {them}")
        n_fields = len(e.fields) or 3
        references = sum(1 for f in e.fields if f.reference)
        hours = 1 + 0.25 * n_fields + (0.5 if store else 0) + 0.25 * len(e.search_fields) + 0.25 * references
        described = _join(f.name for f in e.fields) if e.fields else "fields to derive from the description"
        return Subtask(
            id=subtask_id(Category.DATA_MODEL, e.slug),
            category=Category.DATA_MODEL,
            title=f"{e.name} data model",
            description=f"Model {e.name} for the task \u201c{self.payload.title}\u201d: {described}"
            + (f", stored in {store}." if store else "."),
            requirements=reqs,
            dependencies=deps,
            estimated_effort_hours=_hours(hours),
            priority=SubtaskPriority.HIGH,
        )

    def service(self, e: Entity) -> Subtask:
        reqs = [f"Put the {e.name} logic in a service that handlers and jobs call instead of touching storage directly"]
        reqs += [_service_operation(op, e) for op in e.operations]
        deps = self.nearest(e.slug, Category.DATA_MODEL)
        for slug in e.related:
            reqs.append(f"Use the {self._name(slug)} model where the task relates {e.plural_label} to it")
            if self.present(Category.DATA_MODEL):
                deps.append(subtask_id(Category.DATA_MODEL, slug))
        reqs += [f"Business rule from the task: {rule}" for rule in e.rules]
        related = f" Related entities: {_join(self._name(s) for s in e.related)}." if e.related else ""
        return Subtask(
            id=subtask_id(Category.SERVICE, e.slug),
            category=Category.SERVICE,
            title=f"{e.name} service",
            description=f"Business logic for {e.plural_label}: {_join(e.operations)}.{related}",
            requirements=reqs,
            dependencies=deps,
            estimated_effort_hours=_hours(1 + 0.5 * len(e.operations) + 0.25 * len(e.rules)),
            priority=SubtaskPriority.MEDIUM,
        )

    def http_api(self, e: Entity) -> Subtask:
        framework = self.stack.framework
        routes = _routes(e)
        reqs = [
            f"Implement the routes with {framework}"
            if framework
            else "No web framework is declared in the tech stack: use the project's existing HTTP layer"
        ]
        reqs += [f"`{route}`: {purpose}" for route, purpose in routes]
        if self.present(Category.SERVICE):
            reqs.append(f"Delegate all work to the {e.name} service; handlers only translate HTTP to calls and back")
        reqs.append("Return errors as JSON with a stable shape: 404 for unknown ids, 422 for invalid input")
        return Subtask(
            id=subtask_id(Category.HTTP_API, e.slug),
            category=Category.HTTP_API,
            title=f"{e.name} HTTP API" + (f" ({framework})" if framework else ""),
            description=f"Expose {e.plural_label} over HTTP under {e.route}: {len(routes)} "
            f"route{'s' if len(routes) != 1 else ''}{f' with {framework}' if framework else ''}.",
            requirements=reqs,
            dependencies=self.nearest(e.slug, Category.SERVICE),
            estimated_effort_hours=_hours(0.5 + 0.5 * len(routes)),
            priority=SubtaskPriority.MEDIUM,
        )

    def tests(self, e: Entity) -> list[Subtask]:
        fmt = {"label": e.label, "plural": e.plural_label, "search": _join(e.search_fields) or "a query"}
        specs: list[tuple[str, str, list[str], list[str], str]] = []
        if self.present(Category.SERVICE):
            cases = [_TEST_CASES[op].format(**fmt) for op in e.operations]
            cases += [f"Verify the rule: {rule}" for rule in e.rules]
            specs.append(
                (
                    "service",
                    f"Tests for the {e.name} service",
                    cases,
                    [subtask_id(Category.SERVICE, e.slug)],
                    f"the {e.name} service",
                )
            )
        if self.present(Category.HTTP_API):
            cases = [f"`{route}`: assert the status code and response body" for route, _ in _routes(e)]
            cases.append("Unknown ids give 404 and invalid bodies give 422, each with a JSON error body")
            specs.append(
                (
                    "api",
                    f"Tests for the {e.name} HTTP API",
                    cases,
                    [subtask_id(Category.HTTP_API, e.slug)],
                    f"the {e.name} HTTP API",
                )
            )
        if not specs and self.present(Category.DATA_MODEL):
            cases = [f"`{f.name}` constraints reject invalid values" for f in e.fields] or [
                f"The {e.name} model accepts valid records and rejects invalid ones"
            ]
            if self.stack.relational_store:
                cases.append("The migration applies to an empty database and rolls back cleanly")
            cases += [f"Verify the rule: {rule}" for rule in e.rules]
            specs.append(
                (
                    "model",
                    f"Tests for the {e.name} data model",
                    cases,
                    [subtask_id(Category.DATA_MODEL, e.slug)],
                    f"the {e.name} data model",
                )
            )
        if not specs:
            cases = [f"Verify the rule: {rule}" for rule in e.rules] or [f"The {e.label} behaviour the task describes"]
            specs.append(("behaviour", f"Tests for {e.name} behaviour", cases, [], f"{e.name} behaviour"))
        return [
            Subtask(
                id=f"{subtask_id(Category.TESTING, e.slug)}_{suffix}",
                category=Category.TESTING,
                title=title,
                description=f"Automated tests for {what}: {len(cases)} cases.",
                requirements=cases,
                dependencies=deps,
                estimated_effort_hours=_hours(1 + 0.25 * len(cases)),
                priority=SubtaskPriority.LOW,
            )
            for suffix, title, cases, deps, what in specs
        ]

    def _name(self, slug: str | None) -> str:
        return next((e.name for e in self.entities if e.slug == slug), slug or "")

    def build(self) -> list[Subtask]:
        builders = {
            Category.DATA_MODEL: lambda e: [self.data_model(e)],
            Category.SERVICE: lambda e: [self.service(e)],
            Category.HTTP_API: lambda e: [self.http_api(e)],
            Category.TESTING: self.tests,
        }
        subtasks = [s for c in CATEGORY_ORDER if self.present(c) for e in self.entities for s in builders[c](e)]
        return _fold_acceptance_criteria(subtasks, self.payload.acceptance_criteria, self.entities)


_TEST_SUFFIXES = ("_service", "_api", "_model", "_behaviour")


def _fold_acceptance_criteria(subtasks: list[Subtask], criteria: list[str], entities: list[Entity]) -> list[Subtask]:
    """Each criterion goes to the tests of the entities it names (the primary entity when it names none):
    the API tests when it reads like HTTP behaviour, else the service tests, else whatever tests exist."""
    tests = [s for s in subtasks if s.category == Category.TESTING]
    if not tests:
        return subtasks
    extra: dict[str, list[str]] = {}
    for criterion in criteria:
        named = list(dict.fromkeys(m.entity for m in find_mentions(tokenize(criterion), entities)))
        preferred = ("_api", "_service") if HTTP_HINT.search(criterion) else ("_service", "_api")
        for e in named or [entities[0]]:
            prefix = subtask_id(Category.TESTING, e.slug)
            own = [t for t in tests if t.id in {prefix + s for s in _TEST_SUFFIXES}]
            fallback = own[0] if own else None
            chosen = next((t for suffix in preferred for t in own if t.id == prefix + suffix), fallback)
            if chosen:
                extra.setdefault(chosen.id, []).append(criterion)
    result = []
    for s in subtasks:
        added = extra.get(s.id, [])
        if added:
            s = s.model_copy(
                update={
                    "requirements": [*s.requirements, *(f"Acceptance criterion: {c}" for c in added)],
                    "estimated_effort_hours": _hours(s.estimated_effort_hours + 0.25 * len(added)),
                    "priority": SubtaskPriority.MEDIUM,
                }
            )
        result.append(s)
    return result

"""Task -> subtasks: deterministic, offline, rules-based decomposition, and plan validation.

Reading the text (entities, their fields, operations, rules) is heuristic by design: no model and no
network, so the same payload always yields the same plan and a run never waits on anything. The
heuristics are deliberately simple; a payload can always state `entities` to take the guesswork out.

This module is the plan as a whole: `decompose` makes one, `validate_plan` checks one and
`topological_order` orders one. The text is read in `entities`; the subtasks are written in `subtasks`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from heapq import heapify, heappop, heappush
from typing import Hashable, TypeVar

from orbit_pipelines.jobs.task_decomposition.entities import Entity, analyse
from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge, load_knowledge
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    Decision,
    DecompositionPayload,
    Plan,
    Subtask,
)
from orbit_pipelines.jobs.task_decomposition.roles import outside_systems
from orbit_pipelines.jobs.task_decomposition.subtasks import Planner, Stack
from orbit_pipelines.jobs.task_decomposition.work import WorkPlan, load_library, plan_work

K = TypeVar("K", bound=Hashable)


class PlanError(ValueError):
    """A plan that cannot be executed as written; `problems` lists every offence found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid plan: " + "; ".join(self.problems))


def plan_task(payload: DecompositionPayload, *, knowledge: Knowledge | None = None) -> Plan:
    """The plan for `payload`: subtasks and the decisions that leave a category empty; same input, same output."""
    knowledge = (knowledge or load_knowledge()).with_tools(payload.tech_stack)
    knowledge = knowledge.with_tools(outside_systems(payload, knowledge))
    kind, _ = load_library().kind_of(f"{payload.title}. {payload.description}")
    found = analyse(payload, knowledge)
    # A CRUD feature none of whose entities the text shows being kept is about them all the same.
    unproven = kind == "CRUD feature" and not any(_kept(e) for e in found if not e.from_title)
    entities = [e for e in found if _modelled(e, payload, kind, knowledge) or (unproven and not _tool(e, knowledge))]
    kept = {e.slug for e in entities}
    for e in entities:  # what is not modelled cannot be related to or referenced
        e.related = [slug for slug in e.related if slug in kept]
        e.fields = [f for f in e.fields if f.reference is None or f.reference in kept]
        if kind not in _ENTITY_KINDS and not payload.entities:
            e.rules = []  # the clauses became work items of their own; quoting them again adds nothing
    heads = frozenset(e.words[-1] for e in entities)
    work = plan_work(payload, [*payload.tech_stack, *sorted(knowledge.tools)], crud=bool(entities), entity_heads=heads)
    stack = Stack.of(payload.tech_stack, knowledge)
    planner = Planner(payload, entities, stack, set(payload.exclude_categories))
    own = planner.build() if entities else []
    taken = {s.id for s in own}
    extra = [s if s.id not in taken else s.model_copy(update={"id": s.id + "_work"}) for s in work.subtasks]
    renamed = {s.id: s.id + "_work" for s in work.subtasks if s.id in taken}
    extra = [s.model_copy(update={"dependencies": [renamed.get(d, d) for d in s.dependencies]}) for s in extra]
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    subtasks = sorted([*own, *extra], key=lambda s: order[s.category])
    return Plan(subtasks=subtasks, decisions=decisions_for(subtasks, payload, work))


def decisions_for(subtasks: list[Subtask], payload: DecompositionPayload, work: WorkPlan) -> list[Decision]:
    """A recorded decision for each category the plan leaves empty though the task does not exclude it."""
    present = {s.category for s in subtasks}
    return [
        Decision(
            category=c,
            reason=work.empty_reasons.get(c.value)
            or f"No {c.value} work: no requirement of this {work.kind} asks for it.",
        )
        for c in CATEGORY_ORDER
        if c not in present and c not in payload.exclude_categories
    ]


# Kinds of task whose plan centres on its entities (and any task that declares entities): their
# sentences stay business rules of the entity services. In the other kinds the clauses become work
# items of their own instead.
_ENTITY_KINDS = frozenset({"CRUD feature", "billing", "import or export", "search feature"})

# Operations that make an entity worth a model of its own: the text asks to keep, change or take in
# records of it ("keep": it is stored, has an owner, or someone opts in or out of it).
_MODELLING_OPERATIONS = frozenset({"create", "update", "delete", "import", "upload", "approve", "keep"})


def _tool(e: Entity, knowledge: Knowledge) -> bool:
    return knowledge.is_tool(e.label) or any(knowledge.is_tool(w) for w in e.words)


def _kept(e: Entity) -> bool:
    """Whether the text shows the system keeping `e`: its fields, or its records created, changed, deleted,
    imported, uploaded, approved, stored or owned ("Patients can reply STOP to opt out"). Showing it ("shows
    an amber pill") or adding it as a feature ("Add a command palette to the console") is UI or work."""
    return bool(e.fields) or bool(set(e.evidence) & _MODELLING_OPERATIONS)


def _modelled(e: Entity, payload: DecompositionPayload, kind: str, knowledge: Knowledge) -> bool:
    """Whether `e` is a domain entity to model: declared, or with evidence in the text that the system keeps
    it (`_kept`); a platform, vendor, protocol, format or tool never is."""
    if payload.entities:
        return True
    if _tool(e, knowledge):
        return False
    if e.from_title:  # "Move the build to GitHub Actions" names no record to keep
        return kind == "CRUD feature"
    return _kept(e)


def decompose(payload: DecompositionPayload, *, knowledge: Knowledge | None = None) -> list[Subtask]:
    """The subtasks of `plan_task(payload)`."""
    return plan_task(payload, knowledge=knowledge).subtasks


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------


def find_cycle(graph: Mapping[K, Iterable[K]]) -> list[K] | None:
    """A dependency cycle in `graph` (node -> what it depends on) as [a, b, ..., a], or None.
    Edges to nodes outside the graph are ignored."""
    state: dict[K, int] = {}  # 1 = on the current path, 2 = finished
    for root in graph:
        if root in state:
            continue
        path, iterators = [root], [iter(graph[root])]
        state[root] = 1
        while path:
            nxt = next(iterators[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iterators.pop()
            elif nxt in graph and state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif nxt in graph and nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                iterators.append(iter(graph[nxt]))
    return None


def _find_cycle(subtasks: Sequence[Subtask]) -> list[str] | None:
    return find_cycle({s.id: s.dependencies for s in subtasks})


def validate_plan(
    subtasks: Sequence[Subtask], excluded: Iterable[Category] = (), decisions: Sequence[Decision] = ()
) -> None:
    """Raise PlanError naming every offence: missing or excluded categories, duplicate ids, dependencies
    on ids that do not exist, dependency cycles. A category may be empty when it is excluded or when a
    decision says why it has no work; a decision for a category that has subtasks contradicts the plan."""
    excluded = {Category(c) for c in excluded}
    decided = {d.category for d in decisions}
    problems: list[str] = []
    seen: dict[str, int] = {}
    for s in subtasks:
        seen[s.id] = seen.get(s.id, 0) + 1
    problems += [f"duplicate subtask id {sid!r} ({n} times)" for sid, n in seen.items() if n > 1]
    present = {s.category for s in subtasks}
    problems += [
        f"category {c.value} has no subtasks and is not excluded"
        for c in CATEGORY_ORDER
        if c not in present and c not in excluded and c not in decided
    ]
    problems += [
        f"category {c.value} has a no-work decision but also subtasks" for c in CATEGORY_ORDER if c in decided & present
    ]
    for c in CATEGORY_ORDER:
        offenders = [s.id for s in subtasks if s.category == c]
        if c in excluded and offenders:
            problems.append(f"category {c.value} is excluded but has subtasks {', '.join(offenders)}")
    problems += [
        f"subtask {s.id!r} depends on missing subtask {d!r}" for s in subtasks for d in s.dependencies if d not in seen
    ]
    cycle = _find_cycle(subtasks)
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(cycle))
    if problems:
        raise PlanError(problems)


def order_by_dependencies(
    keys: Sequence[K], dependencies: Mapping[K, Iterable[K]], label: Callable[[K], str] = str
) -> list[K]:
    """`keys` with dependencies first and otherwise in the given order. Dependencies on keys outside
    `keys` are ignored; a cycle raises PlanError naming it (each key shown by `label`)."""
    index = {k: i for i, k in enumerate(keys)}
    waiting_on = {i: {index[d] for d in dependencies.get(k, ()) if d in index} for i, k in enumerate(keys)}
    dependents: dict[int, list[int]] = {}
    for i, deps in waiting_on.items():
        for d in deps:
            dependents.setdefault(d, []).append(i)
    ready = [i for i, deps in waiting_on.items() if not deps]
    heapify(ready)
    ordered: list[K] = []
    while ready:
        i = heappop(ready)
        ordered.append(keys[i])
        for j in dependents.get(i, []):
            waiting_on[j].discard(i)
            if not waiting_on[j]:
                heappush(ready, j)
    if len(ordered) != len(keys):
        done = set(ordered)
        cycle = find_cycle({k: list(dependencies.get(k, ())) for k in keys if k not in done}) or []
        raise PlanError(["dependency cycle: " + " -> ".join(label(k) for k in cycle)])
    return ordered


def topological_order(subtasks: Sequence[Subtask]) -> list[Subtask]:
    """Dependencies first; otherwise the given order. Dependencies on ids outside `subtasks` are ignored
    (so one category's subtasks can be ordered on their own); a cycle raises PlanError."""
    index = {s.id: i for i, s in enumerate(subtasks)}
    positions = order_by_dependencies(
        list(range(len(subtasks))),
        {i: [index[d] for d in s.dependencies if d in index] for i, s in enumerate(subtasks)},
        label=lambda i: subtasks[i].id,
    )
    return [subtasks[i] for i in positions]

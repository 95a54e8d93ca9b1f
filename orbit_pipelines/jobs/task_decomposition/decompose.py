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

from orbit_pipelines.jobs.task_decomposition.entities import analyse
from orbit_pipelines.jobs.task_decomposition.knowledge import Knowledge, load_knowledge
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Category,
    Decision,
    DecompositionPayload,
    Plan,
    Subtask,
)
from orbit_pipelines.jobs.task_decomposition.subtasks import Planner, Stack

K = TypeVar("K", bound=Hashable)


class PlanError(ValueError):
    """A plan that cannot be executed as written; `problems` lists every offence found."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("invalid plan: " + "; ".join(self.problems))


def plan_task(payload: DecompositionPayload, *, knowledge: Knowledge | None = None) -> Plan:
    """The plan for `payload`: subtasks and the decisions that leave a category empty; same input, same output."""
    knowledge = knowledge or load_knowledge()
    entities = analyse(payload, knowledge)
    stack = Stack.of(payload.tech_stack, knowledge)
    planner = Planner(payload, entities, stack, set(payload.exclude_categories))
    return Plan(subtasks=planner.build())


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


def validate_plan(subtasks: Sequence[Subtask], excluded: Iterable[Category] = ()) -> None:
    """Raise PlanError naming every offence: missing or excluded categories, duplicate ids, dependencies
    on ids that do not exist, dependency cycles."""
    excluded = {Category(c) for c in excluded}
    problems: list[str] = []
    seen: dict[str, int] = {}
    for s in subtasks:
        seen[s.id] = seen.get(s.id, 0) + 1
    problems += [f"duplicate subtask id {sid!r} ({n} times)" for sid, n in seen.items() if n > 1]
    present = {s.category for s in subtasks}
    problems += [
        f"category {c.value} has no subtasks and is not excluded"
        for c in CATEGORY_ORDER
        if c not in present and c not in excluded
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

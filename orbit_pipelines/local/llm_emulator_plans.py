"""The LLM emulator's own planner: how a different planner than the deterministic decomposer would cut
the same task. It is no model, and it does not call `plan_task`: it reads the task's sentences and
clauses (clauses.py, the shared reading of the text) and builds a plan at another granularity.

- DATA_MODEL: one storage subtask for the whole task (every declared entity's table, or what the
  clauses ask to keep), where the rules write one per entity or per stored concern;
- SERVICE: one subtask per sentence of the description (its clauses are that subtask's requirements),
  where the rules write one per entity and one per recognised requirement;
- HTTP_API: one subtask for all the routes, when the task is called over HTTP at all;
- TESTING: one acceptance test per acceptance criterion and one suite for the service work, with a
  boundary case for every number the text gives;
- dependencies by layer (storage, then the logic, then the routes, then the tests), not by the work;
- a category it has no work for gets a decision in its own words.

Same task, same plan; the plan rules (`validate_plan`) hold for it.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from orbit_pipelines.jobs.task_decomposition.clauses import NUMBER, Clause, clauses_of
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.words import plural, split_sentences
from orbit_pipelines.jobs.task_decomposition.work import load_library

MAX_LOGIC_SUBTASKS = 6
_STORES = re.compile(
    r"\b(?:stor\w*|keep\w*|kept|record\w*|sav\w*|persist\w*|tables?|columns?|database|history|logged|retain\w*|"
    r"audit\w*|schema)\b",
    re.IGNORECASE,
)
_HTTP = re.compile(
    r"\b(?:endpoints?|api|apis|routes?|http|requests?|webhooks?|urls?|links?|pages?|forms?|dashboard|screens?|"
    r"uploads?|downloads?|browser|clients?)\b|/[a-z]",
    re.IGNORECASE,
)


def _sentence_clauses(sentence: str, verbs: frozenset[str]) -> list[Clause]:
    one = SimpleNamespace(title=sentence, description=sentence, acceptance_criteria=[], project_rules=[])
    return clauses_of(one, verbs)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _route(entity: str) -> str:
    return plural(entity.lower()).replace(" ", "-")


def _hours(requirements: int) -> float:
    return max(1.0, round((1.0 + 0.75 * requirements) * 2) / 2)


def _numbers(text: str) -> list[str]:
    return list(dict.fromkeys(m.group("n") for m in NUMBER.finditer(text)))


def _subtask(sid: str, category: Category, title: str, description: str, reqs: list[str], deps, priority: str):
    return {
        "id": sid,
        "category": category.value,
        "title": title,
        "description": description,
        "requirements": reqs,
        "dependencies": list(deps),
        "estimated_effort_hours": _hours(len(reqs)),
        "priority": priority,
    }


def emulated_plan(payload: DecompositionPayload) -> dict[str, Any]:
    """The emulator's answer for `payload`: `subtasks` and `decisions`, as the LLM decomposer expects them."""
    verbs = load_library().verbs
    excluded = set(payload.exclude_categories)
    sentences = split_sentences(payload.description) or [payload.title]
    grouped = [(s, _sentence_clauses(s, verbs)) for s in sentences]
    subtasks: list[dict[str, Any]] = []
    decisions: list[dict[str, str]] = []

    def decide(category: Category, reason: str) -> None:
        if category not in excluded:
            decisions.append({"category": category.value, "reason": reason})

    # Storage: one subtask for everything the task keeps.
    storage: list[str] = []
    for name in payload.entities:
        storage.append(f"Table `{plural(name.lower()).replace(' ', '_')}` for {name}, created by a migration")
    for sentence, clauses in grouped:
        if _STORES.search(sentence) and not payload.entities:
            storage += [f"Keep what this needs: {c.requirement}" for c in clauses if c.gist][:2]
    if storage and Category.DATA_MODEL not in excluded:
        storage.append("Indexes for every lookup the new code makes, added in the same migration")
        subtasks.append(
            _subtask(
                "storage",
                Category.DATA_MODEL,
                "Storage for " + (", ".join(payload.entities) if payload.entities else payload.title.lower()),
                f"One schema change that holds everything '{payload.title}' keeps, with its migration.",
                storage,
                [],
                "HIGH",
            )
        )
    elif not storage:
        decide(Category.DATA_MODEL, "The model sees nothing new to store for this task, so it proposes no schema.")
    base = ["storage"] if any(s["id"] == "storage" for s in subtasks) else []

    # Logic: one subtask per sentence, the last one taking whatever is beyond the cap.
    logic: list[dict[str, Any]] = []
    if Category.SERVICE not in excluded:
        for n, (sentence, clauses) in enumerate(grouped, start=1):
            reqs = [f"Do: {c.requirement}" for c in clauses if c.gist] or [f"Do what this sentence asks: {sentence}"]
            if len(logic) == MAX_LOGIC_SUBTASKS:
                logic[-1]["requirements"] += reqs
                logic[-1]["estimated_effort_hours"] = _hours(len(logic[-1]["requirements"]))
                continue
            head = " ".join(next((c.requirement for c in clauses if c.gist), sentence).split()[:8])
            logic.append(
                _subtask(
                    f"logic_{n}",
                    Category.SERVICE,
                    f"Build: {head[:1].lower()}{head[1:]}",
                    f"The code behind sentence {n} of the task, in one piece of work.",
                    reqs,
                    base,
                    "HIGH" if n == 1 else "MEDIUM",
                )
            )
        subtasks += logic
    logic_ids = [s["id"] for s in logic]

    # Routes: one subtask, when anything is called over HTTP.
    text = f"{payload.title}. {payload.description}"
    if Category.HTTP_API not in excluded:
        if payload.entities or _HTTP.search(text):
            routes = [f"`GET /{_route(e)}` and the other routes {e} needs" for e in payload.entities]
            routes += [f"A route or handler for: {s['title'][7:]}" for s in logic[:3]]
            routes.append("Errors as JSON with a stable shape; every route authenticated")
            subtasks.append(
                _subtask(
                    "routes", Category.HTTP_API, "HTTP routes for the feature", "All the task's routes.", routes,
                    logic_ids or base, "MEDIUM",
                )
            )  # fmt: skip
        else:
            decide(Category.HTTP_API, "No caller reaches this over HTTP, so the model adds no route.")

    # Tests: one per acceptance criterion, one suite for the logic, boundaries for every number.
    if Category.TESTING not in excluded:
        above = ["routes"] if any(s["id"] == "routes" for s in subtasks) else logic_ids or base
        for n, criterion in enumerate(payload.acceptance_criteria, start=1):
            reqs = [f"Scenario: {_cap(criterion.rstrip('.'))}, end to end"]
            reqs += [f"Boundary: at {x} and just past it" for x in _numbers(criterion)]
            subtasks.append(
                _subtask(
                    f"acceptance_{n}", Category.TESTING, f"Acceptance test {n}", "One acceptance criterion, checked "
                    "from the outside.", reqs, above, "MEDIUM",
                )
            )  # fmt: skip
        suite = [f"'{s['title'][7:]}': the expected outcome and one refusal" for s in logic]
        suite += [f"Boundary: at {x} and just past it" for x in _numbers(payload.description)]
        subtasks.append(
            _subtask(
                "suite", Category.TESTING, "Test suite for the logic", "Unit tests for every piece of logic.",
                suite or ["The feature's main path and one refusal"], logic_ids or base, "LOW",
            )
        )  # fmt: skip
    return {"subtasks": subtasks, "decisions": decisions}

"""Subtasks + the task's tech stack and rules -> subtasks with requirements from the knowledge base."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from orbit_pipelines.jobs.task_decomposition.knowledge import (
    DEFAULT_STANDARDS_KEY,
    Knowledge,
    Technology,
    load_knowledge,
)
from orbit_pipelines.jobs.task_decomposition.models import Category, DecompositionPayload, Subtask

__all__ = ["enrich", "load_knowledge", "coding_standards", "tech_requirements"]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _resolve(tech_stack: Sequence[str], knowledge: Knowledge) -> list[tuple[str, Technology | None]]:
    """Each declared technology with what we know about it (None when unknown), duplicates dropped."""
    seen: set[str] = set()
    resolved = []
    for name in tech_stack:
        tech = knowledge.lookup(name)
        key = tech.key if tech else name.lower()
        if key not in seen:
            seen.add(key)
            resolved.append((name, tech))
    return resolved


def tech_requirements(category: Category, tech_stack: Sequence[str], knowledge: Knowledge) -> list[str]:
    """Requirements the stack puts on `category`. An unknown technology still binds the implementer, so
    it is carried through as it was written rather than dropped."""
    reqs: list[str] = []
    for name, tech in _resolve(tech_stack, knowledge):
        if tech is None:
            reqs.append(f"Use {name} as declared by the task")
        else:
            reqs += [f"{tech.display}: {req}" for req in tech.requirements.get(category, ())]
    return _unique(reqs)


def coding_standards(tech_stack: Sequence[str], knowledge: Knowledge) -> list[str]:
    """Standards of the languages the stack names. A framework's language counts only when the stack
    names no language itself, so "typescript + express" gets TypeScript rules, not JavaScript ones."""
    known = [tech for _, tech in _resolve(tech_stack, knowledge) if tech is not None]
    languages = [t.key for t in known if t.kind == "language"] or [t.language for t in known if t.language]
    standards = [s for lang in _unique(languages) for s in knowledge.standards.get(lang, ())]
    return _unique(standards) or list(knowledge.standards.get(DEFAULT_STANDARDS_KEY, ()))


def enrich(
    subtasks: Sequence[Subtask], payload: DecompositionPayload, knowledge: Knowledge | None = None
) -> list[Subtask]:
    """New subtasks with tech requirements, coding standards, project rules and best practices filled in.

    Replaces whatever those fields held, so enriching twice gives the same result as enriching once.
    """
    knowledge = knowledge or load_knowledge()
    standards = coding_standards(payload.tech_stack, knowledge)
    per_category = {c: tech_requirements(c, payload.tech_stack, knowledge) for c in Category}
    return [
        s.model_copy(
            deep=True,
            update={
                "tech_requirements": list(per_category[s.category]),
                "coding_standards": list(standards),
                "project_rules": _unique(payload.project_rules),
                "best_practices": list(knowledge.practices.get(s.category, ())),
            },
        )
        for s in subtasks
    ]

"""Subtasks -> one implementation prompt per category (jinja2), and a markdown table of the plan.

User text (title, description, requirements quoted from it, rules) only ever reaches jinja2 as
variables, never as template source: `{{ 7*7 }}` in a description comes out as those characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined

from orbit_pipelines.jobs.task_decomposition.decompose import topological_order
from orbit_pipelines.jobs.task_decomposition.models import (
    CATEGORY_ORDER,
    Decision,
    DecompositionPayload,
    Prompt,
    Subtask,
)

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")


def _oneline(text: str) -> str:
    """Headings and list labels must stay on one line or the markdown structure breaks."""
    return " ".join(part.strip() for part in _LINE_BREAKS.split(str(text)) if part.strip())


@cache
def template_environment() -> Environment:
    env = Environment(
        loader=PackageLoader("orbit_pipelines.jobs.task_decomposition", "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # markdown for people and models, not HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["oneline"] = _oneline
    return env


def _fence(text: str) -> str:
    """A code fence longer than any backtick run in `text`, so the text cannot close it early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _subtask_context(s: Subtask, by_id: dict[str, Subtask]) -> dict:
    dependencies = []
    for dep in s.dependencies:
        other = by_id.get(dep)
        if other is None:
            where = "not in this plan"
        elif other.category == s.category:
            where = "earlier in this prompt"
        else:
            where = f"done in the {other.category.value} prompt"
        dependencies.append({"id": dep, "title": other.title if other else "", "where": where})
    return {
        "id": s.id,
        "title": s.title,
        "description": s.description,
        "priority": s.priority.value,
        "effort": f"{s.estimated_effort_hours:g}",
        "dependencies": dependencies,
        "requirements": s.requirements,
        "tech_requirements": s.tech_requirements,
    }


def render_prompts(
    subtasks: Sequence[Subtask], payload: DecompositionPayload, decisions: Sequence[Decision] = ()
) -> list[Prompt]:
    """One Prompt per category that has subtasks, in CATEGORY_ORDER; subtasks in dependency order. A
    category left empty by a decision gets a prompt of no subtasks that states the decision, so the
    stored results say why it has no work."""
    decided = {d.category: d.reason for d in decisions}
    template = template_environment().get_template("prompt.md.j2")
    by_id = {s.id: s for s in subtasks}
    prompts = []
    for category in CATEGORY_ORDER:
        group = topological_order([s for s in subtasks if s.category == category])
        if not group:
            if category in decided:
                text = f"# {category.value}: no work for \u201c{_oneline(payload.title)}\u201d\n\n{decided[category]}\n"
                prompts.append(Prompt(category=category, subtask_ids=[], text=text))
            continue
        sections = [
            {"title": "Coding standards", "entries": _unique(x for s in group for x in s.coding_standards)},
            {
                "title": "Project rules",
                "entries": _unique([*payload.project_rules, *(x for s in group for x in s.project_rules)]),
            },
            {"title": "Best practices", "entries": _unique(x for s in group for x in s.best_practices)},
            {"title": "Acceptance criteria", "entries": list(payload.acceptance_criteria)},
        ]
        text = template.render(
            category=category.value,
            task={"title": payload.title, "description": payload.description},
            fence=_fence(payload.description),
            tech_stack=list(payload.tech_stack),
            subtasks=[_subtask_context(s, by_id) for s in group],
            sections=sections,
        )
        prompts.append(Prompt(category=category, subtask_ids=[s.id for s in group], text=text))
    return prompts


def _cell(value: object) -> str:
    """Table-safe text: a pipe would start a new column and a line break would end the row."""
    text = str(value).replace("|", "\\|")
    return _LINE_BREAKS.sub("<br>", text)


def plan_markdown(subtasks: Sequence[Subtask], prompts: Sequence[Prompt] | None = None) -> str:
    """The plan as a markdown table (Dagster run metadata, `orbit task show --format markdown`)."""
    lines = [
        "| id | category | title | effort (h) | priority | depends on |",
        "| --- | --- | --- | ---: | --- | --- |",
    ]
    for s in subtasks:
        depends = ", ".join(s.dependencies) or "\u2014"
        cells = [s.id, s.category.value, s.title, f"{s.estimated_effort_hours:g}", s.priority.value, depends]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    total = sum(s.estimated_effort_hours for s in subtasks)
    lines += ["", f"{len(subtasks)} subtasks, {total:g} h estimated in total."]
    if prompts:
        lines += ["", "| prompt | subtasks | characters |", "| --- | --- | ---: |"]
        for p in prompts:
            lines.append(f"| {_cell(p.category.value)} | {_cell(', '.join(p.subtask_ids))} | {len(p.text)} |")
    return "\n".join(lines) + "\n"

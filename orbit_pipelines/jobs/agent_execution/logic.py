"""Which prompts run in which order, and what their results mean (pure: no Dagster, no processes)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

from orbit_pipelines.jobs.agent_execution.models import AgentResult, PromptStatus, ScheduledPrompt
from orbit_pipelines.jobs.task_decomposition.decompose import order_by_dependencies
from orbit_pipelines.jobs.task_decomposition.models import CATEGORY_ORDER, Category, Prompt, Subtask

ERROR_CLASSES = {
    PromptStatus.FAILED: "AgentFailed",
    PromptStatus.TIMED_OUT: "AgentTimedOut",
    PromptStatus.CRASHED: "AgentCrashed",
    PromptStatus.NOT_STARTED: "AgentNotStarted",
}


class NothingToRun(ValueError):
    pass


def category_dependencies(subtasks: Iterable[Subtask]) -> dict[Category, set[Category]]:
    """Category A needs category B when a subtask of A depends on a subtask of B."""
    category_of = {s.id: s.category for s in subtasks}
    needs: dict[Category, set[Category]] = {}
    for s in subtasks:
        for dep in s.dependencies:
            other = category_of.get(dep)
            if other is not None and other != s.category:
                needs.setdefault(s.category, set()).add(other)
    return needs


def execution_order(
    prompts: Sequence[Prompt], subtasks: Sequence[Subtask], selected: Sequence[Category] = ()
) -> list[ScheduledPrompt]:
    """The prompts to run, dependencies first (CATEGORY_ORDER otherwise). Raises NothingToRun naming
    what is missing, or PlanError naming a dependency cycle between categories."""
    by_category = {p.category: p for p in prompts}
    if not by_category:
        raise NothingToRun("it has no prompts (decompose it first)")
    wanted = list(dict.fromkeys(selected)) or list(by_category)
    missing = [c.value for c in wanted if c not in by_category]
    if missing:
        raise NothingToRun(
            f"categories: it has no prompt for {', '.join(missing)} "
            f"(it has {', '.join(c.value for c in CATEGORY_ORDER if c in by_category)})"
        )
    wanted.sort(key=CATEGORY_ORDER.index)
    needs = category_dependencies(subtasks)
    ordered = order_by_dependencies(wanted, needs, label=lambda c: c.value)
    return [
        ScheduledPrompt(
            category=c,
            text=by_category[c].text,
            sha256=hashlib.sha256(by_category[c].text.encode()).hexdigest(),
            depends_on=[d for d in ordered if d in needs.get(c, set())],
        )
        for c in ordered
    ]


def blocked_by(prompt: ScheduledPrompt, outcomes: Mapping[Category, PromptStatus]) -> Category | None:
    """The first category this prompt needs that did not succeed in this pass (skipped ones count,
    so a failure blocks everything downstream of it)."""
    return next(
        (d for d in prompt.depends_on if outcomes.get(d, PromptStatus.SUCCEEDED) != PromptStatus.SUCCEEDED), None
    )


def describe(result: AgentResult) -> str:
    """One line an operator can act on."""
    took = f" after {result.duration_seconds:.1f} s"
    what = {
        PromptStatus.SUCCEEDED: f"succeeded{took}",
        PromptStatus.FAILED: f"the agent exited with code {result.exit_code}{took}",
        PromptStatus.TIMED_OUT: f"timed out{took} and was killed",
        PromptStatus.CRASHED: f"the agent crashed ({result.signal or f'exit {result.exit_code}'}){took}",
        PromptStatus.NOT_STARTED: "the agent command could not be started",
        PromptStatus.SKIPPED: "not run",
    }[result.status]
    return f"prompt {result.category.value}: {what}" + (f": {result.detail}" if result.detail else "")


def failure_summary(results: Sequence[AgentResult], tail_chars: int = 400) -> tuple[str, str] | None:
    """(error class, message) for a pass that did not succeed everywhere, else None."""
    failed = [r for r in results if r.status not in (PromptStatus.SUCCEEDED, PromptStatus.SKIPPED)]
    if not failed:
        return None
    first = failed[0]
    lines = [describe(r) for r in failed]
    skipped = [r.category.value for r in results if r.status == PromptStatus.SKIPPED]
    if skipped:
        lines.append(f"not run because a prompt they depend on did not succeed: {', '.join(skipped)}")
    tail = first.output_tail.strip()
    if tail:
        lines.append(f"last output of {first.category.value}: {tail[-tail_chars:]}")
    return ERROR_CLASSES[first.status], "; ".join(lines)


def results_markdown(results: Sequence[AgentResult]) -> str:
    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", "<br>")

    lines = ["| prompt | status | exit | seconds | changed files | diff |", "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in results:
        changed = "n/a" if r.changed_files is None else len(r.changed_files)
        diff = (r.diff_stat or "").strip().splitlines()[-1:] or [""]
        exit_code = r.signal or ("" if r.exit_code is None else r.exit_code)
        lines.append(
            f"| {r.category.value} | {r.status.value} | {cell(exit_code)} | {r.duration_seconds:.1f} | "
            f"{changed} | {cell(diff[0])} |"
        )
    return "\n".join(lines) + "\n"

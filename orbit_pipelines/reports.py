"""Human and machine views of tasks and their surroundings: `orbit task show` (with the task's status
history), the listings of `orbit task list/kinds`, `orbit dlq list` and `orbit webhooks log`, and the
documents table of `orbit doc submit --wait` and `orbit demo`."""

from __future__ import annotations

import json
from typing import Any, Iterable

from orbit_pipelines.ledger import Ledger, Task

_WHEN = "%Y-%m-%d %H:%M:%S"


def _plan(ledger: Ledger, task_id: int):
    from orbit_pipelines.jobs.task_decomposition.store import load_plan

    return load_plan(ledger.engine, task_id)


def _agent_results(ledger: Ledger, task_id: int):
    from orbit_pipelines.jobs.agent_execution.store import load_results

    return load_results(ledger.engine, task_id)


def _model_usage(ledger: Ledger, task_id: int):
    from orbit_pipelines.llm.store import usage_for_task

    return usage_for_task(ledger.engine, task_id)


def history(ledger: Ledger, task_id: int) -> list[dict[str, Any]]:
    """The task's status changes and notes, oldest first (orbit.task_events): from (None when it was
    submitted), to, run id, note and time."""
    return [
        {"from": e["from_status"], "to": e["to_status"], "run_id": e["run_id"], "note": e["note"], "at": e["at"]}
        for e in ledger.events(task_id)
    ]


def history_markdown(events: list[dict[str, Any]]) -> str:
    lines = ["| at | from | to | run | note |", "|---|---|---|---|---|"]
    for e in events:
        lines.append(
            f"| {e['at']:{_WHEN}} | {e['from'] or '(submitted)'} | {e['to']} | {e['run_id'] or ''} | "
            f"{(e['note'] or '').replace('|', '/')} |"
        )
    return "\n".join(lines)


def task_report_json(ledger: Ledger, task_id: int) -> str:
    """The task, its status history, its plan, model usage and agent results as JSON."""
    task = ledger.get(task_id)
    subtasks, prompts = _plan(ledger, task_id)
    usage = _model_usage(ledger, task_id)
    return json.dumps(
        {
            "task": {
                "id": task.id,
                "kind": task.kind,
                "status": task.status.value,
                "priority": task.priority,
                "lane": task.lane,
                "idempotency_key": task.idempotency_key,
                "attempts": task.attempts,
                "run_id": task.run_id,
                "run_ids": ledger.run_ids(task_id),
                "error": {"class": task.error_class, "message": task.error_message, "step": task.error_step}
                if task.error_class
                else None,
                "payload": task.payload,
                "created_at": task.created_at.isoformat(),
                "updated_at": task.updated_at.isoformat(),
            },
            "history": [{**e, "at": e["at"].isoformat()} for e in history(ledger, task_id)],
            "subtasks": [s.model_dump(mode="json") for s in subtasks],
            "prompts": [p.model_dump(mode="json") for p in prompts],
            "model_usage": {
                "calls": usage.calls,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cost_usd": str(usage.cost_usd),
            },
            "agent_results": [
                {
                    **stored.result.model_dump(mode="json"),
                    "attempts": stored.attempts,
                    "run_id": stored.run_id,
                    "workdir": stored.workdir,
                }
                for stored in _agent_results(ledger, task_id).values()
            ],
        },
        indent=2,
    )


def task_report_markdown(ledger: Ledger, task_id: int) -> str:
    """The task as markdown: summary, status history, agent results, subtasks and prompts."""
    from orbit_pipelines.jobs.task_decomposition.prompts import plan_markdown

    task = ledger.get(task_id)
    subtasks, prompts = _plan(ledger, task_id)
    lines = [
        f"# Task {task.id}: {task.payload.get('title', '')}",
        "",
        f"- kind: {task.kind}, status: **{task.status.value}**, priority {task.priority}, lane {task.lane}",
        f"- runs: {', '.join(ledger.run_ids(task_id)) or 'none yet'}",
    ]
    if task.error_class:
        lines.append(f"- error: {task.error_class} in step {task.error_step or '?'}: {task.error_message}")
    usage = _model_usage(ledger, task_id)
    if usage.calls:
        lines.append(
            f"- model calls: {usage.calls}, {usage.prompt_tokens} prompt + {usage.completion_tokens} "
            f"completion tokens, ${usage.cost_usd}"
        )
    lines += ["", "## History", "", history_markdown(history(ledger, task_id))]
    agent_results = _agent_results(ledger, task_id)
    if agent_results:
        from orbit_pipelines.jobs.agent_execution.logic import results_markdown

        workdir = next(iter(agent_results.values())).workdir
        lines += [
            "",
            f"## Prompt results (working directory {workdir})",
            "",
            results_markdown([stored.result for stored in agent_results.values()]).rstrip(),
        ]
    if subtasks:
        lines += ["", f"## Subtasks ({len(subtasks)})", "", plan_markdown(subtasks)]
    for prompt in prompts:
        lines += ["", f"## Prompt: {prompt.category.value}", "", prompt.text.rstrip()]
    return "\n".join(lines)


def documents_report_markdown(ledger: Ledger, task_ids: list[int]) -> str:
    """One line per document task: what was extracted, or why it failed."""
    from orbit_pipelines.jobs.document_processing.store import documents_for_tasks

    rows = {r["task_id"]: r for r in documents_for_tasks(ledger.engine, task_ids)}
    lines = ["| task | file | status | vendor | date | total | s3 |", "|---|---|---|---|---|---:|---|"]
    for task in ledger.get_many(task_ids):
        doc = rows.get(task.id)
        name = task.payload.get("source_name", "")
        if doc:
            date = doc["document_date"].date().isoformat() if doc["document_date"] else ""
            lines.append(
                f"| {task.id} | {name} | {task.status.value} | {doc['vendor_name'] or ''} | {date} | "
                f"{doc['total'] if doc['total'] is not None else ''} {doc['currency'] or ''} | "
                f"s3://{doc['s3_bucket']}/{doc['s3_key']} |"
            )
        else:
            why = f"{task.error_class}: {task.error_message}" if task.error_class else ""
            lines.append(f"| {task.id} | {name} | {task.status.value} | {why} | | | |")
    return "\n".join(lines)


def task_lines(tasks: Iterable[Task]) -> list[str]:
    """`orbit task list`: one line per task (id, kind, status, priority, lane, run, title, error)."""
    lines = []
    for t in tasks:
        error = f"  {t.error_class}: {t.error_message}" if t.error_class else ""
        lines.append(
            f"{t.id:>6}  {t.kind:<14} {t.status.value:<9} p={t.priority:<4} {t.lane:<5} "
            f"{t.run_id or '-':<36} {t.payload.get('title', '')[:40]}{error}"
        )
    return lines


def kind_lines() -> list[str]:
    """`orbit task kinds`: each task kind, the job it runs and its default lane."""
    from orbit_pipelines.jobs.registry import all_kinds

    return [f"{k.kind:<16} -> job {k.job_name} (default lane {k.default_lane})" for k in all_kinds().values()]


def dead_letter_lines(rows: list[dict[str, Any]]) -> list[str]:
    """`orbit dlq list`: each dead letter (Ledger.dead_letters) with its failures and what to do."""
    from orbit_pipelines.runtime.remediation import remediation_for

    if not rows:
        return ["no dead letters"]
    lines = []
    for r in rows:
        lines.append(
            f"task {r['id']} ({r['kind']}) run {r['run_id']} step {r['error_step'] or '-'}: "
            f"{r['error_class']}: {r['error_message']} | attempts {r['attempts']}, failures {r['failures']}, "
            f"first {r['first_failure']:{_WHEN}}, last {r['last_failure']:{_WHEN}}"
        )
        lines.append(f"    what to do: {remediation_for(r['error_class'])}")
    return lines


def webhook_log_lines(rows: list[dict[str, Any]], webhook_url_set: bool = True) -> list[str]:
    """`orbit webhooks log`: each delivery (Outbox.log) with its state and last answer or error."""
    if not rows:
        return ["no deliveries" + ("" if webhook_url_set else " (ORBIT_WEBHOOK_URL is not set where this runs)")]
    lines = []
    for r in rows:
        if r["status"] == "delivered":
            when = f"delivered {r['delivered_at']:{_WHEN}}"
        elif r["status"] == "pending":
            when = f"next attempt {r['next_attempt_at']:{_WHEN}}"
        else:
            when = "given up (`orbit webhooks retry --failed`)"
        last = f" | last: {r['last_error']}" if r["last_error"] else ""
        lines.append(
            f"{r['id']:>7} {r['event_type']:<20} task {r['task_id']:<6} {r['status']:<9} "
            f"attempts {r['attempts']} {r['url']} | {when}{last}"
        )
    return lines

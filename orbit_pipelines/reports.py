"""Human and machine views of a task: `orbit task show`."""

from __future__ import annotations

import json

from orbit_pipelines.ledger import Ledger


def _plan(ledger: Ledger, task_id: int):
    from orbit_pipelines.jobs.task_decomposition.store import load_plan

    return load_plan(ledger.engine, task_id)


def _agent_results(ledger: Ledger, task_id: int):
    from orbit_pipelines.jobs.agent_execution.store import load_results

    return load_results(ledger.engine, task_id)


def _model_usage(ledger: Ledger, task_id: int):
    from orbit_pipelines.llm.store import usage_for_task

    return usage_for_task(ledger.engine, task_id)


def task_report_json(ledger: Ledger, task_id: int) -> str:
    task = ledger.get(task_id)
    subtasks, prompts = _plan(ledger, task_id)
    usage = _model_usage(ledger, task_id)
    return json.dumps(
        {
            "task": {
                "id": task.id, "kind": task.kind, "status": task.status.value, "priority": task.priority,
                "lane": task.lane, "idempotency_key": task.idempotency_key, "attempts": task.attempts,
                "run_id": task.run_id, "run_ids": ledger.run_ids(task_id),
                "error": {"class": task.error_class, "message": task.error_message, "step": task.error_step}
                if task.error_class else None,
                "payload": task.payload,
                "created_at": task.created_at.isoformat(), "updated_at": task.updated_at.isoformat(),
            },
            "subtasks": [s.model_dump(mode="json") for s in subtasks],
            "prompts": [p.model_dump(mode="json") for p in prompts],
            "model_usage": {"calls": usage.calls, "prompt_tokens": usage.prompt_tokens,
                            "completion_tokens": usage.completion_tokens, "cost_usd": str(usage.cost_usd)},
            "agent_results": [
                {**stored.result.model_dump(mode="json"), "attempts": stored.attempts, "run_id": stored.run_id,
                 "workdir": stored.workdir}
                for stored in _agent_results(ledger, task_id).values()
            ],
        },
        indent=2,
    )


def task_report_markdown(ledger: Ledger, task_id: int) -> str:
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
        lines.append(f"- model calls: {usage.calls}, {usage.prompt_tokens} prompt + {usage.completion_tokens} "
                     f"completion tokens, ${usage.cost_usd}")
    agent_results = _agent_results(ledger, task_id)
    if agent_results:
        from orbit_pipelines.jobs.agent_execution.logic import results_markdown

        workdir = next(iter(agent_results.values())).workdir
        lines += ["", f"## Prompt results (working directory {workdir})", "",
                  results_markdown([stored.result for stored in agent_results.values()]).rstrip()]
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
            lines.append(f"| {task.id} | {name} | {task.status.value} | {doc['vendor_name'] or ''} | {date} | "
                         f"{doc['total'] if doc['total'] is not None else ''} {doc['currency'] or ''} | "
                         f"s3://{doc['s3_bucket']}/{doc['s3_key']} |")
        else:
            why = f"{task.error_class}: {task.error_message}" if task.error_class else ""
            lines.append(f"| {task.id} | {name} | {task.status.value} | {why} | | | |")
    return "\n".join(lines)

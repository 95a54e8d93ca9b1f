"""Human and machine views of tasks and their surroundings: `orbit task show` (with the task's status
history and, for a document, its extraction), the listings of `orbit task list/kinds`, `orbit dlq list`,
`orbit doc refused`, `orbit voice refused` and `orbit webhooks log`, and the documents table of `orbit doc
submit --wait` and `orbit demo`."""

from __future__ import annotations

import json
from typing import Any, Iterable

from orbit_pipelines.ledger import Ledger, Task, TaskStatus

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


def _documents(ledger: Ledger, task_ids: list[int]) -> dict[int, dict[str, Any]]:
    from orbit_pipelines.jobs.document_processing.api import documents_for_tasks

    return {r["task_id"]: r for r in documents_for_tasks(ledger.engine, task_ids)}


def title(task: Task) -> str:
    """What a person calls the task: a decomposition's title, a document's file name, a worksheet's request."""
    return str(task.payload.get("title") or task.payload.get("source_name") or task.payload.get("prompt") or "")


def history(ledger: Ledger, task_id: int) -> list[dict[str, Any]]:
    """The task's status changes and notes, oldest first (orbit.task_events): from (None when it was
    submitted), to, run id, note and time."""
    return [
        {"from": e["from_status"], "to": e["to_status"], "run_id": e["run_id"], "note": e["note"], "at": e["at"]}
        for e in ledger.events(task_id)
    ]


def history_markdown(events: list[dict[str, Any]]) -> str:
    lines = ["| at | from | to | run | why |", "|---|---|---|---|---|"]
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
                "phase": task.phase,
                "phase_at": task.phase_at.isoformat() if task.phase_at else None,
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
            "document": _document_json(ledger, task),
            **_kind_json(ledger, task),
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


def _kind_of(task: Task):
    from orbit_pipelines.jobs.registry import all_kinds

    return all_kinds().get(task.kind)


def _kind_json(ledger: Ledger, task: Task) -> dict[str, Any]:
    """A job folder's own section of `orbit task show --json`, under its kind's name."""
    own = _kind_of(task)
    return {task.kind: own.report_json(ledger, task)} if own is not None and own.report_json is not None else {}


_AS_TEXT = ("subtotal", "tax", "total", "document_date")


def _document_json(ledger: Ledger, task: Task) -> dict[str, Any] | None:
    """A document task's file and, once stored, its extraction and S3 object."""
    if task.kind != "document":
        return None
    stored = _documents(ledger, [task.id]).get(task.id)
    extraction: dict[str, Any] | None = None
    if stored:
        # JSON-ready: money as exact decimal strings, the date as ISO.
        extraction = {
            k: (v.isoformat() if k == "document_date" else str(v)) if v is not None and k in _AS_TEXT else v
            for k, v in stored.items()
            if k not in ("document_key", "task_id", "source_name", "s3_bucket", "s3_key", "updated_at")
        }
    return {
        "file": task.payload.get("source_name"),
        "path": task.payload.get("path"),
        "key": task.payload.get("sha256"),
        "size_bytes": task.payload.get("size_bytes"),
        "s3": f"s3://{stored['s3_bucket']}/{stored['s3_key']}" if stored else None,
        "extraction": extraction,
    }


def _money(value: Any, currency: str | None) -> str:
    return f"{value} {currency or ''}".rstrip()


def document_markdown(ledger: Ledger, task: Task) -> list[str]:
    """`orbit task show` of a document: the file, its key, what was extracted and where the bytes are."""
    doc = _document_json(ledger, task) or {}
    lines = [
        "## Document",
        "",
        f"- file: {doc['file']} ({doc['path']}, {doc['size_bytes']} bytes)",
        f"- key: {doc['key']} (SHA-256 of the content; the same bytes are one document)",
    ]
    found = doc["extraction"]
    if found is None:
        lines.append(f"- extraction: none stored (the task is {task.status.value})")
        return lines
    date = found["document_date"][:10] if found["document_date"] else "no date"
    parts = [
        f"{found['document_type'] or 'document'} from {found['vendor_name'] or 'an unnamed vendor'}, {date}",
        f"total {_money(found['total'], found['currency'])}"
        + (f" (subtotal {found['subtotal']}, tax {found['tax']})" if found["subtotal"] is not None else ""),
        f"{found['line_item_count']} line item(s)",
    ]
    if found["category"]:
        parts.append(f"category {found['category']}")
    lines += [f"- extraction: {'; '.join(parts)} (Veryfi id {found['veryfi_id']})", f"- S3 object: {doc['s3']}"]
    return lines


def task_report_markdown(ledger: Ledger, task_id: int) -> str:
    """The task as markdown: summary, status history, agent results, subtasks and prompts."""
    from orbit_pipelines.jobs.task_decomposition.prompts import plan_markdown

    task = ledger.get(task_id)
    subtasks, prompts = _plan(ledger, task_id)
    lines = [
        f"# Task {task.id}: {title(task)}",
        "",
        f"- kind: {task.kind}, status: **{status_text(task)}**, priority {task.priority}, lane {task.lane}",
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
    if task.kind == "document":
        lines += ["", *document_markdown(ledger, task)]
    own = _kind_of(task)
    if own is not None and own.report_markdown is not None:
        lines += ["", *own.report_markdown(ledger, task)]
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
    rows = _documents(ledger, task_ids)
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


def status_text(task: Task) -> str:
    """The status, with the phase while the task runs: `RUNNING (EXTRACTING)`."""
    if task.status == TaskStatus.RUNNING and task.phase:
        return f"{task.status.value} ({task.phase})"
    return task.status.value


def task_lines(tasks: Iterable[Task]) -> list[str]:
    """`orbit task list`: one line per task (id, kind, status, priority, lane, run, title or file name,
    error)."""
    lines = []
    for t in tasks:
        error = f"  {t.error_class}: {t.error_message}" if t.error_class else ""
        lines.append(
            f"{t.id:>6}  {t.kind:<14} {status_text(t):<9} p={t.priority:<4} {t.lane:<5} "
            f"{t.run_id or '-':<36} {title(t)[:40]}{error}"
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


def refused_file_lines(found: list, inbox) -> list[str]:
    """`orbit doc refused`, `orbit voice refused`: each refused inbox file (runtime.inbox.RefusedFile), why,
    and since when."""
    if not found:
        return [f"no refused files in {inbox}"]
    lines = [f"{len(found)} refused file(s) in {inbox}; each stays refused until it is replaced or removed:"]
    for f in found:
        since = f"since {f.since:{_WHEN}}" if f.since else "cannot be read at all"
        lines.append(f"  {f.reason} ({since})")
    return lines

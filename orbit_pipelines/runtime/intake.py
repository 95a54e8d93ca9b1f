"""Validating and submitting work to the ledger, for every kind, in one place: `orbit task submit`, the
sensors, and work typed into the Launchpad or sent through GraphQL (`submit_inline`). No Dagster here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from orbit_pipelines.ledger import Ledger, Task, TaskStatus
from orbit_pipelines.ledger.store import MAX_PRIORITY, MIN_PRIORITY
from orbit_pipelines.runtime.tags import IDEMPOTENCY_KEY_TAG

if TYPE_CHECKING:
    from dagster import OpExecutionContext


class PayloadError(ValueError):
    """A payload was refused; the message names every offending field."""


_NAME_SHOWN = 80


def _field_name(part: object) -> str:
    """A field name as a message may show it: an unknown key can be anything a client sent, so it is
    cut short and its control characters escaped."""
    name = str(part)
    if not name.isprintable():
        name = name.encode("unicode_escape").decode("ascii")
    return name if len(name) <= _NAME_SHOWN else f"{name[: _NAME_SHOWN - 20]}…({len(name)} characters)"


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(_field_name(part) for part in err["loc"]) or "(payload)"
        problems.append(f"{prefix}{where}: {err['msg']}")
    return "; ".join(problems)


# Text may hold tabs and line breaks; any other control character is refused. NUL cannot be stored
# by Postgres at all, and escape sequences would reach operators' terminals through `orbit task list`.
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def _bad_character(text: str) -> str | None:
    for char in text:
        if (char < " " and char not in _ALLOWED_CONTROLS) or "\x7f" <= char <= "\x9f":
            return f"control character U+{ord(char):04X} is not allowed"
        if "\ud800" <= char <= "\udfff":
            return "text must be valid Unicode (it holds a lone surrogate)"
    return None


def text_problems(value: Any, where: str = "") -> list[str]:
    """Every string in a JSON-like value (dict keys included) that cannot be stored or shown safely."""
    problems = []
    if isinstance(value, str):
        reason = _bad_character(value)
        if reason:
            problems.append(f"{where or '(payload)'}: {reason}")
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{_field_name(key)}" if where else _field_name(key)
            if isinstance(key, str) and _bad_character(key):
                problems.append(f"{where or '(payload)'}: key {_field_name(key)}: {_bad_character(key)}")
            problems += text_problems(item, path)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            problems += text_problems(item, f"{where}.{i}" if where else str(i))
    return problems


def validate_payload(kind: str, payload: Any, prefix: str = "") -> BaseModel:
    """The kind's pydantic model, then the text rules every kind shares; PayloadError names each field."""
    from orbit_pipelines.jobs.registry import get_kind

    model = get_kind(kind).payload_model
    if not isinstance(payload, dict):
        raise PayloadError(f"{kind} payload must be a JSON object, got {type(payload).__name__}")
    try:
        validated = model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(f"invalid {kind} payload: {describe_validation_error(exc, prefix)}") from None
    problems = text_problems(validated.model_dump(mode="json"), prefix.rstrip("."))
    if problems:
        raise PayloadError(f"invalid {kind} payload: {'; '.join(problems)}")
    return validated


def check_priority(priority: int, field: str = "priority") -> int:
    """The ledger's priority range, refused with the field named (PayloadError: permanent, never retried)."""
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise PayloadError(f"{field}: must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}")
    return priority


def submit_task(
    ledger: Ledger,
    kind: str,
    payload: Any,
    *,
    priority: int = 0,
    lane: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[Task, bool]:
    """Validate and insert; the same idempotency key returns the existing task (created=False)."""
    from orbit_pipelines.jobs.registry import get_kind

    job_kind = get_kind(kind)
    model = validate_payload(kind, payload)
    return ledger.submit(
        kind,
        model.model_dump(mode="json"),
        priority=priority,
        lane=lane or job_kind.default_lane,
        idempotency_key=idempotency_key,
    )


def inline_idempotency_key(context: OpExecutionContext) -> str:
    """The run's idempotency-key tag, else its root run id: re-executions share the root, so relaunching a
    run never makes a second task."""
    return context.run.tags.get(IDEMPOTENCY_KEY_TAG) or f"run:{context.run.root_run_id or context.run_id}"


def submit_inline(
    context: OpExecutionContext,
    ledger: Ledger,
    kind: str,
    payload: BaseModel,
    *,
    priority: int = 0,
    idempotency_key: str | None = None,
) -> Task:
    """Record work typed into the Launchpad (or launched through GraphQL) as a ledger task of this run,
    QUEUED under it. The payload is the kind's validated model; the key defaults to the run's own."""
    key = idempotency_key or inline_idempotency_key(context)
    task, created = ledger.submit(
        kind,
        payload.model_dump(mode="json"),
        priority=priority,
        idempotency_key=key,
        status=TaskStatus.QUEUED,
        run_id=context.run_id,
    )
    context.log.info(f"{'recorded' if created else 'found'} inline task {task.id} (idempotency key {key})")
    return task


# What a refused launch keeps of its input: enough to read what was sent, never a whole upload.
_REFUSED_INPUT_CHARS = 10_000


def _storable(given: dict[str, Any]) -> dict[str, Any]:
    import json

    text = json.dumps(given, default=str)
    if text_problems(given) or len(text) > _REFUSED_INPUT_CHARS:
        return {"refused_input": text[:_REFUSED_INPUT_CHARS].encode("ascii", "backslashreplace").decode("ascii")}
    return given


def _refused_key(context: OpExecutionContext, what: str) -> str:
    # The root run: a re-execution of a refused launch finds the same record, never a second one.
    return f"refused:{context.run.root_run_id or context.run_id}:{what}"


def refuse_inline(
    context: OpExecutionContext,
    ledger: Ledger,
    kind: str,
    given: dict[str, Any],
    error_class: str,
    message: str,
    *,
    what: str = "input",
) -> Task:
    """A Launchpad/GraphQL launch refused on its input ends in the ledger as any failed work does: a FAILED
    task of this run holding what was sent, with the reason, on the dead-letter list (`orbit dlq list`).

    `what` tells apart several refusals of one run (one per document path). Idempotent: a re-execution
    with the same input finds the same task and records the failure under the new run."""
    task, _ = ledger.submit(
        kind,
        _storable(given),
        idempotency_key=_refused_key(context, what),
        status=TaskStatus.QUEUED,
        run_id=context.run_id,
    )
    failed = ledger.move_along(
        task.id,
        TaskStatus.FAILED,
        run_id=context.run_id,
        error=(error_class, message, context.op_def.name),
        note="launch refused on its input",
        only_if_current_run=False,
    )
    context.log.warning(f"refused ({error_class}) and recorded as FAILED task {task.id}: {message}")
    from orbit_pipelines.runtime.lifecycle import tag_failed_items

    tag_failed_items(context, ledger)
    return failed or task


def settle_refused(context: OpExecutionContext, ledger: Ledger, replaced_by: Task, *, what: str = "input") -> None:
    """A re-execution whose input is now valid (the file was put back, the config corrected) takes the
    earlier refusal of the same input off the dead-letter list, saying which task replaced it."""
    refused = ledger.find_by_key(_refused_key(context, what))
    if refused is not None and refused.status == TaskStatus.FAILED and refused.discarded_at is None:
        ledger.discard(refused.id, f"the input was corrected: it ran as task {replaced_by.id} in run {context.run_id}")

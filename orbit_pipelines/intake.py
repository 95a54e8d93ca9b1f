"""Validating and submitting work to the ledger, for every kind, in one place."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from orbit_pipelines.ledger import Ledger, Task


class PayloadError(ValueError):
    """A payload was refused; the message names every offending field."""


def describe_validation_error(exc: ValidationError, prefix: str = "") -> str:
    problems = []
    for err in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in err["loc"]) or "(payload)"
        problems.append(f"{prefix}{where}: {err['msg']}")
    return "; ".join(problems)


def validate_payload(kind: str, payload: Any) -> BaseModel:
    from orbit_pipelines.jobs.registry import get_kind

    model = get_kind(kind).payload_model
    if not isinstance(payload, dict):
        raise PayloadError(f"{kind} payload must be a JSON object, got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError(f"invalid {kind} payload: {describe_validation_error(exc)}") from None


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

"""Ops of send_message: thin wrappers over logic.py, the ledger and the endpoints resource's POST."""

from typing import Optional
from urllib.parse import urlsplit

from dagster import Config, OpExecutionContext, Out, Output, op
from pydantic import Field

from orbit_pipelines.jobs.send_message.logic import Verdict, request_body, verdict
from orbit_pipelines.jobs.send_message.models import KIND, MessagePayload
from orbit_pipelines.jobs.send_message.resources import EndpointUnreachable, MessageEndpoints
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.lifecycle import complete_items, load_ledger_task
from orbit_pipelines.runtime.retry import TRANSIENT_RETRY, parse_retry_after, permanent_failure, retry_requested


class LoadMessageConfig(Config):
    task_id: Optional[int] = Field(default=None, description="Ledger task to deliver (set by the dispatch sensor).")


@op(
    retry_policy=TRANSIENT_RETRY,
    out={"task_id": Out(int, is_required=False), "payload": Out(MessagePayload, is_required=False)},
)
def load_message(context: OpExecutionContext, config: LoadMessageConfig, ledger: LedgerResource):
    loaded = load_ledger_task(context, ledger.get(), config.task_id, MessagePayload, KIND)
    if loaded is None:
        return  # already delivered, or being delivered by another run
    task, payload = loaded
    yield Output(task.id, "task_id")
    yield Output(payload, "payload")


@op
def deliver_message(
    context: OpExecutionContext,
    task_id: int,
    payload: MessagePayload,
    endpoints: MessageEndpoints,
    ledger: LedgerResource,
) -> int:
    """POST the message; retry 429/5xx/timeouts (Retry-After honoured), fail at once on other 4xx."""
    url = endpoints.url_for(payload.endpoint)
    if url is None:
        raise permanent_failure(
            f"endpoint: {payload.endpoint!r} is not configured (known: {', '.join(endpoints.names()) or 'none'})",
            "UnknownEndpoint",
        )
    attempt = context.retry_number
    try:
        answer = endpoints.post(url, request_body(payload, task_id), f"orbit-task-{task_id}")
    except EndpointUnreachable as exc:
        retry = retry_requested(context, max_retries=endpoints.retries)
        if retry is None:
            raise permanent_failure(
                f"{payload.endpoint}: unreachable after {attempt + 1} attempts ({exc})", "DeliveryFailed"
            ) from None
        context.log.warning(f"{payload.endpoint}: {exc}; retrying in {retry.seconds_to_wait:.1f}s")
        raise retry from None
    outcome = verdict(answer.status)
    if outcome == Verdict.RETRY:
        retry = retry_requested(
            context, max_retries=endpoints.retries, wait=parse_retry_after(answer.retry_after, None)
        )
        if retry is not None:
            context.log.warning(
                f"{payload.endpoint} answered {answer.status}; retrying in {retry.seconds_to_wait:.1f}s"
            )
            raise retry
    if outcome != Verdict.DELIVERED:
        raise permanent_failure(
            f"{payload.endpoint} refused the message: HTTP {answer.status} {answer.text[:300]}",
            "DeliveryRejected",
            status=answer.status,
        )
    complete_items(context, ledger.get(), [task_id])
    # The host only: webhook URLs often carry their secret in the path.
    context.add_output_metadata(
        {
            "endpoint": payload.endpoint,
            "host": urlsplit(url).hostname or "",
            "status": answer.status,
            "attempts": attempt + 1,
            "response_ms": answer.elapsed_ms,
        }
    )
    return answer.status

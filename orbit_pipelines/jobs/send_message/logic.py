"""What to send and what an answer means (pure: no HTTP; the retry rule is the platform's)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from orbit_pipelines.jobs.send_message.models import MessagePayload
from orbit_pipelines.runtime.retry import is_transient_status


def request_body(payload: MessagePayload, task_id: int) -> dict:
    if payload.format == "slack":
        # Slack incoming webhooks take `text` (fallback) and optional blocks; mrkdwn fields for facts.
        blocks: list[dict[str, Any]] = []
        if payload.title:
            blocks.append({"type": "header", "text": {"type": "plain_text", "text": payload.title[:150]}})
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": payload.text[:3000]}})
        if payload.fields:
            blocks.append(
                {
                    "type": "section",
                    "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in list(payload.fields.items())[:10]],
                }
            )
        return {"text": payload.text, "blocks": blocks}
    return {"id": f"orbit-task-{task_id}", "title": payload.title, "text": payload.text, "fields": payload.fields}


class Verdict(str, Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


def verdict(status: int) -> Verdict:
    """2xx delivered; 429, 408 and 5xx are worth retrying; any other 4xx will fail the same way again."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if is_transient_status(status):
        return Verdict.RETRY
    return Verdict.REJECTED

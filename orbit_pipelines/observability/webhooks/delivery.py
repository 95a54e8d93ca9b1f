"""POSTing due deliveries: signed, with short timeouts, bounded per tick, in order per task.

Runs in the webhook sensor, never in an op: a slow or dead receiver can delay events but can
never block or fail a run.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests

from orbit_pipelines.observability.webhooks.events import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from orbit_pipelines.observability.webhooks.outbox import Delivery, Outbox
from orbit_pipelines.runtime.retry import backoff_seconds

FIRST_RETRY_SECONDS = 5.0
MAX_RETRY_SECONDS = 900.0
CONNECT_TIMEOUT, READ_TIMEOUT = 3.05, 10.0


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: the platform's schedule in units of
    5 s (5, 15, 35, 75... s), capped at 15 minutes. A receiver is retried for hours, not for seconds."""
    return min(backoff_seconds(max(1, attempts), jitter=False, unit=FIRST_RETRY_SECONDS), MAX_RETRY_SECONDS)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    status: int | None
    error: str = ""
    # No HTTP answer at all: the receiver is down, so its other deliveries wait for the next tick.
    unreachable: bool = False


def post(session: requests.Session, delivery: Delivery, secret: str | None) -> Attempt:
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "orbit-webhooks/1",
        EVENT_ID_HEADER: delivery.event_id,
        EVENT_TYPE_HEADER: delivery.event_type,
        # The same convention as send_message: receivers drop a key they have processed.
        "Idempotency-Key": delivery.event_id,
        TIMESTAMP_HEADER: str(timestamp),
        "Orbit-Delivery-Attempt": str(delivery.attempts + 1),
    }
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, timestamp, delivery.body)
    try:
        response = session.post(
            delivery.url,
            data=delivery.body.encode("utf-8"),
            headers=headers,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return Attempt(False, None, f"{type(exc).__name__}: {exc}", unreachable=True)
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code)
    return Attempt(False, response.status_code, f"HTTP {response.status_code}: {response.text[:300]}")


@dataclass
class TickReport:
    delivered: int = 0
    failed_attempts: int = 0
    given_up: int = 0
    unreachable: set[str] = field(default_factory=set)
    left_for_next_tick: int = 0

    def describe(self) -> str:
        text = f"{self.delivered} delivered, {self.failed_attempts} failed attempt(s)"
        if self.given_up:
            text += f", {self.given_up} given up"
        if self.unreachable:
            text += f", {len(self.unreachable)} receiver(s) unreachable"
        if self.left_for_next_tick:
            text += f", {self.left_for_next_tick} left for the next tick"
        return text


def deliver_due(
    outbox: Outbox,
    secret: str | None,
    now: datetime,
    *,
    budget_seconds: float = 20.0,
    max_deliveries: int = 500,
    workers: int = 8,
) -> TickReport:
    """Deliver what is due, each (receiver, task) chain in order and stopping at its first failure;
    chains run side by side. Stops starting deliveries when the budget is spent (the sensor body
    has a ~60 s gRPC deadline); what is left stays pending for the next tick."""
    due = outbox.due(now, max_deliveries)
    chains: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
    for delivery in due:
        chains[(delivery.url, delivery.task_id)].append(delivery)
    report = TickReport()
    lock = threading.Lock()
    deadline = time.monotonic() + budget_seconds
    answered: set[str] = set()
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session

    def run_chain(chain: list[Delivery]) -> None:
        for delivery in chain:
            with lock:
                if time.monotonic() > deadline or delivery.url in report.unreachable:
                    report.left_for_next_tick += 1
                    continue
            attempt = post(session(), delivery, secret)
            with lock:
                if attempt.ok:
                    assert attempt.status is not None  # an ok attempt is an HTTP answer
                    outbox.delivered(delivery.id, attempt.status, now)
                    report.delivered += 1
                    answered.add(delivery.url)
                    continue
                report.failed_attempts += 1
                if attempt.unreachable:
                    report.unreachable.add(delivery.url)
                retry_at = now + timedelta(seconds=retry_delay(delivery.attempts + 1))
                if outbox.failed_attempt(delivery.id, attempt.status, attempt.error, retry_at):
                    report.given_up += 1
                # Later events of this task wait behind this one (in order per task).
                report.left_for_next_tick += len(chain) - chain.index(delivery) - 1
                return

    # Each receiver's first chain goes first, as a probe: when the receiver is down, that one attempt
    # says so and its other chains wait for the next tick instead of each timing out.
    by_url: dict[str, list[list[Delivery]]] = defaultdict(list)
    for (url, _task), chain in chains.items():
        by_url[url].append(chain)
    for batch in ([c[0] for c in by_url.values()], [chain for c in by_url.values() for chain in c[1:]]):
        if batch:
            with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
                list(pool.map(run_chain, batch))
    for url in answered - report.unreachable:
        outbox.receiver_is_back(url, now)
    return report

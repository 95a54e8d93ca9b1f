"""The one retry vocabulary: for an error, transient (wait, then try again) or permanent (fail now, say
why), and what that becomes in a Dagster op (`RetryRequested` or `permanent_failure`).

One backoff schedule for every op and client: exponential, (2^n - 1) x ORBIT_RETRY_BASE_SECONDS
(1 s: 1, 3, 7, 15, 31 s...) plus or minus up to one base of jitter, which is exactly what the ops'
`TRANSIENT_RETRY` policy does. A server's `Retry-After` is honoured as given: it knows when.

Why some ops raise `RetryRequested` themselves instead of carrying `TRANSIENT_RETRY`: Dagster turns a
cancel that interrupts an op with a RetryPolicy into a retry, so a long op (a batch, a model call, an
agent) would never stop when an operator cancels its run. Those ops call `retry_or_fail` here.
"""

from __future__ import annotations

import email.utils
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from botocore.exceptions import BotoCoreError, ClientError
from dagster import Backoff, Failure, Jitter, OpExecutionContext, RetryPolicy, RetryRequested
from sqlalchemy.exc import OperationalError

from orbit_pipelines.runtime.remediation import remediation_for

# How many times an op tries again after a transient error, unless its config says otherwise.
DEFAULT_MAX_RETRIES = 3


def retry_base_seconds() -> float:
    """The schedule's unit, read where a run starts (tests and the fault suite shorten it)."""
    return float(os.environ.get("ORBIT_RETRY_BASE_SECONDS", "1.0"))


TRANSIENT_RETRY = RetryPolicy(
    max_retries=DEFAULT_MAX_RETRIES, delay=retry_base_seconds(), backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)


def backoff_seconds(retry: int, *, jitter: bool = True, unit: Optional[float] = None) -> float:
    """Seconds before retry number `retry` (1 for the first): the same curve as TRANSIENT_RETRY, in
    units of ORBIT_RETRY_BASE_SECONDS unless a caller that retries on a longer scale gives its own."""
    base = retry_base_seconds() if unit is None else unit
    policy = RetryPolicy(delay=base, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS if jitter else None)
    delay = policy.calculate_delay(retry)
    return max(0.0, float(delay))


def parse_retry_after(value: Optional[str], default: Optional[float]) -> Optional[float]:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); default if unusable."""
    if value is None or not value.strip():
        return default
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = (when - datetime.now(timezone.utc)).total_seconds()
    if not math.isfinite(seconds):
        return default
    return max(0.0, seconds)


def is_transient_status(status: int) -> bool:
    """An HTTP answer worth trying again: request timeout, too many requests, the server's trouble
    (499 is a client-closed request some proxies report for the server's slowness)."""
    return status in (408, 429, 499) or status >= 500


# S3 error codes that mean "try again later" even when the HTTP status does not say 5xx.
_TRANSIENT_S3_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
}


def is_transient_s3_error(exc: BaseException) -> bool:
    """No answer (connection refused, reset, timeout) or S3 saying 5xx/slow down: worth retrying.

    Any other S3 answer (403 AccessDenied, 404 NoSuchBucket, ...) will be the same next time.
    """
    if isinstance(exc, BotoCoreError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status >= 500 or exc.response.get("Error", {}).get("Code") in _TRANSIENT_S3_CODES
    return False


def is_missing_s3_object(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


@dataclass(frozen=True)
class Verdict:
    transient: bool
    # What the server asked for (Retry-After), if anything; the schedule applies otherwise.
    wait: Optional[float] = None


def classify(exc: BaseException) -> Verdict:
    """Transient or permanent, for any error an op meets.

    The HTTP clients (Veryfi, the LLM) decide for their own errors and say so with `retryable` and
    `retry_after`; database disconnects and S3 blips are transient; anything else is permanent.
    """
    retryable = getattr(exc, "retryable", None)
    if isinstance(retryable, bool):
        return Verdict(retryable, getattr(exc, "retry_after", None) if retryable else None)
    if isinstance(exc, OperationalError):
        return Verdict(True)
    if isinstance(exc, (BotoCoreError, ClientError)):
        return Verdict(is_transient_s3_error(exc))
    return Verdict(False)


def permanent_failure(message: str, error_class: str, **metadata: Any) -> Failure:
    """A failure no retry can fix (bad input, a refused transition): fail now, say why and what to do."""
    return Failure(
        description=message,
        metadata={"error_class": error_class, "remediation": remediation_for(error_class), **metadata},
        allow_retries=False,
    )


def retry_requested(
    context: OpExecutionContext, *, max_retries: int = DEFAULT_MAX_RETRIES, wait: Optional[float] = None
) -> Optional[RetryRequested]:
    """The RetryRequested for the op's next attempt; None when the op has used its retries."""
    return next_retry(context.retry_number, max_retries=max_retries, wait=wait)


def next_retry(
    retry_number: int, *, max_retries: int = DEFAULT_MAX_RETRIES, wait: Optional[float] = None
) -> Optional[RetryRequested]:
    """After attempt `retry_number` (0 for the first), the next one: after `wait` when the server said
    how long (Retry-After), else on the schedule; None when `max_retries` are used up."""
    if retry_number >= max_retries:
        return None
    seconds = backoff_seconds(retry_number + 1) if wait is None else wait
    return RetryRequested(max_retries=max_retries, seconds_to_wait=seconds)


def retry_or_fail(
    context: OpExecutionContext,
    exc: BaseException,
    error_class: str,
    message: str,
    *,
    max_retries: int = DEFAULT_MAX_RETRIES,
    **metadata: Any,
) -> BaseException:
    """What to raise for `exc`: a retry while it is transient and retries remain, else a permanent
    failure saying what happened (`raise retry_or_fail(...) from exc`)."""
    verdict = classify(exc)
    if verdict.transient:
        retry = retry_requested(context, max_retries=max_retries, wait=verdict.wait)
        if retry is not None:
            context.log.warning(
                f"{message}; retry {context.retry_number + 1} of {max_retries} in {retry.seconds_to_wait:.1f} s"
            )
            return retry
        message = f"{message} (gave up after {max_retries + 1} attempts)"
    return permanent_failure(message, error_class, **metadata)


@contextmanager
def retry_on_infrastructure_errors(context: OpExecutionContext, max_retries: int = DEFAULT_MAX_RETRIES):
    """The schedule for database and S3 blips, without a RetryPolicy on the op (see the module's note)."""
    try:
        yield
    except (OperationalError, BotoCoreError, ClientError) as exc:
        retry = retry_requested(context, max_retries=max_retries) if classify(exc).transient else None
        if retry is None:
            raise
        raise retry from exc

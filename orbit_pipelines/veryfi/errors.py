"""The errors a Veryfi call raises: one class per kind of failure, each saying whether to retry."""

from __future__ import annotations

from typing import Any, Optional

from orbit_pipelines.http_errors import HttpApiError


class VeryfiError(HttpApiError):
    """Base class. ``message`` is Veryfi's own text when it sent one, and never holds a credential."""

    retryable: bool = False
    # Whether Veryfi may have processed (and billed) the request all the same: only then is a document
    # looked up by external_id before it is sent again. An answer that says "no" (429, 4xx) is sure.
    may_have_been_processed: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: Optional[int] = None,
        trace_id: Optional[str] = None,
        retry_after: Optional[float] = None,
        context: str = "Veryfi request",
    ):
        self.trace_id = trace_id
        self.context = context
        super().__init__(message, status=status, retry_after=retry_after)

    def _render(self) -> str:
        text = f"{self.context} failed"
        if self.status is not None:
            text += f" with HTTP {self.status}"
        text += f": {self.message}"
        if self.trace_id:
            text += f" (Veryfi trace id {self.trace_id})"
        return text

    def _rebuild_kwargs(self) -> dict[str, Any]:
        return {**super()._rebuild_kwargs(), "trace_id": self.trace_id, "context": self.context}


class VeryfiRejected(VeryfiError):
    """4xx other than 429 (bad file, credentials, id, quota): the same request will fail again."""

    retryable = False


class VeryfiRateLimited(VeryfiError):
    """429: retry once ``retry_after`` seconds have passed."""

    retryable = True


class VeryfiServerError(VeryfiError):
    """499 or 5xx: trouble on Veryfi's side; retry with backoff."""

    retryable = True

    @property
    def may_have_been_processed(self) -> bool:  # type: ignore[override]
        # A 503 is a refusal at the door (overloaded, try later); a 500 or a gateway's 502/504 can
        # come after the work was done.
        return self.status != 503


class VeryfiTransportError(VeryfiError):
    """No HTTP answer at all (timeout, refused or reset connection); retry with backoff."""

    retryable = True

    def __init__(self, message: str, *, reached: bool = True, **kwargs: Any):
        # False when the connection was never made (refused, or timed out connecting): nothing was sent.
        self.reached = reached
        super().__init__(message, **kwargs)

    @property
    def may_have_been_processed(self) -> bool:  # type: ignore[override]
        return self.reached

    def _rebuild_kwargs(self) -> dict[str, Any]:
        return {**super()._rebuild_kwargs(), "reached": self.reached}


class VeryfiReadTimeout(VeryfiTransportError):
    """The request was sent but no answer came in time: Veryfi may still process (and bill) it."""


class VeryfiBadResponse(VeryfiError):
    """A 2xx whose body is not JSON; usually a truncated answer, so retryable."""

    retryable = True
    may_have_been_processed = True  # a 2xx: it was


class VeryfiUnusableAnswer(VeryfiError):
    """A 2xx JSON answer with no usable document in it (no document id): Veryfi may have billed it, so
    ``raw`` carries it to be stored; asking again would get (and perhaps pay for) the same answer."""

    retryable = False

    def __init__(self, message: str, *, raw: Any = None, **kwargs: Any):
        self.raw = raw
        super().__init__(message, **kwargs)

    def _rebuild_kwargs(self) -> dict[str, Any]:
        return {**super()._rebuild_kwargs(), "raw": self.raw}


__all__ = [
    "VeryfiBadResponse",
    "VeryfiError",
    "VeryfiUnusableAnswer",
    "VeryfiRateLimited",
    "VeryfiReadTimeout",
    "VeryfiRejected",
    "VeryfiServerError",
    "VeryfiTransportError",
]

"""The base of the HTTP clients' errors (Veryfi, the LLM).

The clients never retry: a call that gets no usable answer raises one subclass, and `retryable` and
`retry_after` on it are what `runtime.retry.classify` reads to decide between a retry and a failure.
Each client words its own message (`_render`) and names its own subclasses (rejected, rate limited,
server error, no answer, bad answer), whose retry decision is the class's `retryable`.
"""

from __future__ import annotations

from typing import Any, Optional


class HttpApiError(Exception):
    """``message`` is the server's own text (or what went wrong), already cleaned of credentials."""

    retryable: bool = False

    def __init__(self, message: str, *, status: Optional[int] = None, retry_after: Optional[float] = None):
        self.message = message
        self.status = status
        self.retry_after = retry_after
        super().__init__(self._render())

    def _render(self) -> str:
        return f"request failed{f' with HTTP {self.status}' if self.status is not None else ''}: {self.message}"

    def _rebuild_kwargs(self) -> dict[str, Any]:
        """The keyword arguments that make this error again; a subclass with more of them adds its own."""
        return {"status": self.status, "retry_after": self.retry_after}

    def __reduce__(self):
        # Keyword-only arguments would otherwise be lost if the error is pickled across processes.
        return (_rebuild_error, (type(self), self.message, self._rebuild_kwargs()))


def _rebuild_error(cls, message, kwargs):
    return cls(message, **kwargs)


__all__ = ["HttpApiError"]

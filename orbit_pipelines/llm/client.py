"""A thin ``requests`` client for ``POST {base_url}/chat/completions`` (OpenAI, vLLM, Ollama, ...).

Like the Veryfi client it never retries: a call returns a ``ChatAnswer`` or raises one ``LLMError``
subclass whose ``retryable``/``retry_after`` tell the Dagster op what to do. Every request has
explicit connect and read timeouts, and the answer is read up to a size cap, so a misbehaving
server can neither hang a run nor fill its memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import requests

from orbit_pipelines.http_errors import HttpApiError
from orbit_pipelines.runtime.retry import is_transient_status, parse_retry_after

DEFAULT_RATE_LIMIT_WAIT = 5.0
MESSAGE_LIMIT = 500


class LLMError(HttpApiError):
    retryable: bool = False

    def _render(self) -> str:
        return f"chat completion failed{f' with HTTP {self.status}' if self.status else ''}: {self.message}"


class LLMRejected(LLMError):
    """4xx other than 408/429 (bad key, unknown model, request too large): the same call fails again."""


class LLMRateLimited(LLMError):
    """429: wait ``retry_after`` seconds."""

    retryable = True


class LLMServerError(LLMError):
    """408 or 5xx: the server's trouble; retry with backoff."""

    retryable = True


class LLMTransportError(LLMError):
    """No answer at all: timeout, refused or reset connection; retry with backoff."""

    retryable = True


class LLMBadResponse(LLMError):
    """A 2xx that is not a chat completion (usually a truncated body), or one larger than the cap."""

    def __init__(
        self, message: str, *, status: Optional[int] = None, retry_after: Optional[float] = None, retryable: bool = True
    ):
        super().__init__(message, status=status, retry_after=retry_after)
        self.retryable = retryable


@dataclass(frozen=True)
class ChatAnswer:
    content: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Optional[str]


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_response_bytes: int = 2_000_000,
        session: Optional[requests.Session] = None,
    ):
        if not base_url:
            raise ValueError("base_url is required")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key  # private: repr and logs never show it
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_response_bytes = max_response_bytes
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"ChatClient({self.url!r}, model={self.model!r})"

    def close(self) -> None:
        self._session.close()

    def complete(
        self, messages: Sequence[dict[str, str]], *, max_tokens: int, temperature: float = 0.0, json_mode: bool = True
    ) -> ChatAnswer:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            with self._session.post(
                self.url,
                json=body,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(self.connect_timeout, self.read_timeout),
            ) as response:
                raw = self._read_capped(response)
        except requests.Timeout as exc:
            raise LLMTransportError(self._clean(f"timed out: {exc}")) from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise LLMTransportError(self._clean(f"connection failed: {exc}")) from None
        if not 200 <= response.status_code < 300:
            raise self._http_error(response, raw)
        return self._answer(response.status_code, raw)

    # ------------------------------------------------------------------------------ plumbing

    def _read_capped(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise LLMBadResponse(
                    f"answer larger than {self.max_response_bytes} bytes; not read further",
                    status=response.status_code,
                    retryable=False,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _answer(self, status: int, raw: bytes) -> ChatAnswer:
        try:
            body = json.loads(raw)
            choice = body["choices"][0]
            content = choice["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("message.content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            preview = raw[:120].decode("utf-8", "replace")
            raise LLMBadResponse(f"not a chat completion ({exc}): {preview!r}", status=status) from None
        usage = body.get("usage") or {}
        return ChatAnswer(
            content=content,
            model=str(body.get("model") or self.model),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=choice.get("finish_reason"),
        )

    def _clean(self, text: str) -> str:
        # A key echoed in an error must not reach the event log (short test keys would mangle words).
        if len(self._api_key) >= 8:
            text = text.replace(self._api_key, "***")
        return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"

    def _http_error(self, response: requests.Response, raw: bytes) -> LLMError:
        status = response.status_code
        message = self._clean(_api_message(raw) or response.reason or "no message")
        retry_after = response.headers.get("Retry-After")
        if status == 429:
            return LLMRateLimited(
                message, status=status, retry_after=parse_retry_after(retry_after, DEFAULT_RATE_LIMIT_WAIT)
            )
        if is_transient_status(status):
            return LLMServerError(message, status=status, retry_after=parse_retry_after(retry_after, None))
        return LLMRejected(message, status=status)


def _api_message(raw: bytes) -> str:
    """The server's own words: OpenAI's ``{"error": {"message": ...}}``, a string ``error``, or the body."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:MESSAGE_LIMIT].decode("utf-8", "replace").strip()
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return json.dumps(body)[:MESSAGE_LIMIT]

"""A client for any OpenAI-compatible `POST {base_url}/audio/transcriptions` (OpenAI, a faster-whisper or
whisper.cpp server): multipart upload, `response_format=verbose_json`, word and segment timestamps.

Like the platform's other clients it never retries: a call returns the server's JSON answer or raises one
`TranscriptionError` subclass whose `retryable`/`retry_after` the op reads (runtime/retry.py's vocabulary:
429 waits Retry-After, 408/5xx and no answer are retried, any other 4xx is permanent).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import requests

from orbit_pipelines.http_errors import HttpApiError
from orbit_pipelines.runtime.retry import is_transient_status, parse_retry_after

MESSAGE_LIMIT = 500
# A 429 without Retry-After waits this long before the next attempt.
DEFAULT_RATE_LIMIT_WAIT = 5.0
MAX_ANSWER_BYTES = 20_000_000


class TranscriptionError(HttpApiError):
    retryable: bool = False

    def _render(self) -> str:
        return f"transcription failed{f' with HTTP {self.status}' if self.status else ''}: {self.message}"


class TranscriptionRejected(TranscriptionError):
    """A 4xx other than 408/429: the request itself is wrong (bad key, bad file, unknown model)."""


class TranscriptionRateLimited(TranscriptionError):
    retryable = True


class TranscriptionServerError(TranscriptionError):
    retryable = True


class TranscriptionTransportError(TranscriptionError):
    """No answer: a timeout, a refused or dropped connection."""

    retryable = True


class TranscriptionBadResponse(TranscriptionError):
    """A 2xx whose body is not JSON: usually cut off on the way, so worth asking again."""

    retryable = True


class TranscriptionClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 300.0,
        session: Optional[requests.Session] = None,
    ):
        if not base_url:
            raise ValueError("base_url is required (ORBIT_VOICE_API_BASE_URL)")
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model = model
        self._api_key = api_key  # private: repr and logs never show it
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"TranscriptionClient({self.url!r}, model={self.model!r})"

    def close(self) -> None:
        self._session.close()

    def transcribe(self, path: str | Path, filename: str, language: str) -> dict[str, Any]:
        data: list[tuple[str, str]] = [
            ("model", self.model),
            ("response_format", "verbose_json"),
            ("language", language.split("-")[0]),
            ("timestamp_granularities[]", "segment"),
            ("timestamp_granularities[]", "word"),
        ]
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            with open(path, "rb") as audio:
                with self._session.post(
                    self.url,
                    data=data,
                    files={"file": (filename, audio)},
                    headers=headers,
                    stream=True,
                    allow_redirects=False,
                    timeout=(self.connect_timeout, self.read_timeout),
                ) as response:
                    raw = self._read_capped(response)
        except requests.Timeout as exc:
            raise TranscriptionTransportError(self._clean(f"timed out: {exc}")) from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            raise TranscriptionTransportError(self._clean(f"connection failed: {exc}")) from None
        if not 200 <= response.status_code < 300:
            raise self._http_error(response, raw)
        try:
            body = json.loads(raw)
        except ValueError:
            preview = raw[:120].decode("utf-8", "replace")
            raise TranscriptionBadResponse(f"not JSON: {preview!r}", status=response.status_code) from None
        if not isinstance(body, dict):
            raise TranscriptionBadResponse(f"not a JSON object: {str(body)[:120]!r}", status=response.status_code)
        return body

    def _read_capped(self, response: requests.Response) -> bytes:
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise TranscriptionRejected(f"answer larger than {MAX_ANSWER_BYTES} bytes", status=response.status_code)
            chunks.append(chunk)
        return b"".join(chunks)

    def _clean(self, text: str) -> str:
        if len(self._api_key) >= 8:
            text = text.replace(self._api_key, "***")
        return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"

    def _http_error(self, response: requests.Response, raw: bytes) -> TranscriptionError:
        status = response.status_code
        message = self._clean(_server_message(raw) or response.reason or "no message")
        retry_after = response.headers.get("Retry-After")
        if status == 429:
            return TranscriptionRateLimited(
                message, status=status, retry_after=parse_retry_after(retry_after, DEFAULT_RATE_LIMIT_WAIT)
            )
        if is_transient_status(status):
            return TranscriptionServerError(message, status=status, retry_after=parse_retry_after(retry_after, None))
        return TranscriptionRejected(message, status=status)


def _server_message(raw: bytes) -> str:
    """OpenAI's `{"error": {"message": ...}}`, a string `error`, or the body."""
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

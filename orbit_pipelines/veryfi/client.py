"""A thin ``requests`` client for the Veryfi v8 documents API.

Deliberately without retries: each call either returns a parsed result or raises one
``VeryfiError`` subclass (see ``errors``) whose ``retryable``/``retry_after`` tell the Dagster op
what to do. Every request has explicit connect and read timeouts, and the answer is read up to a
size cap. Credentials and signatures are in ``auth``, the streamed upload body in ``upload``.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import os
import time
from dataclasses import dataclass, field
from typing import IO, Any, Optional, Sequence, Union

import requests
import urllib3

from orbit_pipelines.runtime.retry import is_transient_status, parse_retry_after
from orbit_pipelines.veryfi.auth import Fields, auth_headers, scrub_secrets
from orbit_pipelines.veryfi.errors import (
    VeryfiBadResponse,
    VeryfiError,
    VeryfiRateLimited,
    VeryfiReadTimeout,
    VeryfiRejected,
    VeryfiServerError,
    VeryfiTransportError,
    VeryfiUnusableAnswer,
)
from orbit_pipelines.veryfi.models import VeryfiDocument, VeryfiResponseError, salvage_document
from orbit_pipelines.veryfi.pacing import RequestPacer
from orbit_pipelines.veryfi.upload import MultipartBody, default_file_name, form_pairs, open_upload
from orbit_pipelines.veryfi.wire import never_connected, read_limited, trace_id

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.veryfi.com/api/"
MESSAGE_LIMIT = 500
DEFAULT_RATE_LIMIT_WAIT = 5.0
# The largest answer read: a document with its OCR text is kilobytes; anything near this is not Veryfi.
MAX_RESPONSE_BYTES = 20 * 1024 * 1024


# -------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class VeryfiResult:
    document: VeryfiDocument
    raw: dict[str, Any]
    status: int
    trace_id: Optional[str]
    # Fields of the answer that did not validate, stored as null (salvage_document): kept, never a failure.
    warnings: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.document.id


@dataclass(frozen=True)
class VeryfiDocumentPage:
    documents: list[VeryfiDocument]
    meta: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    status: int = 200
    trace_id: Optional[str] = None


# --------------------------------------------------------------------------------------- client


def _truncate(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class VeryfiClient:
    """Calls ``{base_url}{api_version}/partner/documents/``. One instance per thread is safest."""

    def __init__(
        self,
        base_url: str,
        client_id: str,
        username: str,
        api_key: str,
        client_secret: Optional[str] = None,
        api_version: str = "v8",
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        session: Optional[requests.Session] = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        pacer: Optional[RequestPacer] = None,
    ):
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.documents_url = f"{self.base_url}{api_version.strip('/')}/partner/documents/"
        self.client_id = client_id
        # Private, so that vars()/repr of the client cannot carry them into logs.
        self._username = username
        self._api_key = api_key
        self._client_secret = client_secret or None
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_response_bytes = max_response_bytes
        self._session = session or requests.Session()
        self._owns_session = session is None
        # Shared by the clients of one op attempt's threads: the account's rate limit is theirs together.
        self._pacer = pacer

    def __repr__(self) -> str:
        return f"VeryfiClient({self.documents_url!r}, client_id={self.client_id!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> "VeryfiClient":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---------------------------------------------------------------------------- operations

    def process_file(
        self,
        path_or_fileobj: Union[str, os.PathLike, IO[bytes]],
        file_name: Optional[str] = None,
        *,
        external_id: Optional[str] = None,
        categories: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        boost_mode: bool = False,
        auto_delete: bool = False,
    ) -> VeryfiResult:
        """Upload one file as multipart/form-data (streamed) and return the processed document."""
        file_name = file_name or default_file_name(path_or_fileobj)
        options = _process_options(external_id, categories, tags, boost_mode, auto_delete)
        form = [("file_name", file_name)] + form_pairs(options)
        file_type = mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with open_upload(path_or_fileobj) as (handle, size):
            body = MultipartBody(form, "file", file_name, handle, size, file_type)
            response = self._send(
                "POST",
                "",
                signed_fields=form,
                data=body,
                headers={"Content-Type": body.content_type},
            )
        return self._document_result(response, "POST", "")

    def process_url(
        self,
        file_url: Union[str, Sequence[str]],
        *,
        external_id: Optional[str] = None,
        categories: Optional[Sequence[str]] = None,
        tags: Optional[Sequence[str]] = None,
        boost_mode: bool = False,
        auto_delete: bool = False,
    ) -> VeryfiResult:
        """Have Veryfi download the file(s) itself; several URLs become one multi-page document."""
        body: dict[str, Any] = {"file_url": file_url} if isinstance(file_url, str) else {"file_urls": list(file_url)}
        body.update(_process_options(external_id, categories, tags, boost_mode, auto_delete))
        response = self._send("POST", "", signed_fields=body, json=body)
        return self._document_result(response, "POST", "")

    def get_document(self, document_id: int) -> VeryfiResult:
        path = f"{int(document_id)}/"
        return self._document_result(self._send("GET", path), "GET", path)

    def delete_document(self, document_id: int) -> dict[str, Any]:
        """Delete a document; returns Veryfi's answer, normally ``{"status": "ok"}``."""
        path = f"{int(document_id)}/"
        response = self._send("DELETE", path)
        body = self._json(response, "DELETE", path)
        return body if isinstance(body, dict) else {"status": "ok", "body": body}

    def list_documents(
        self,
        page: int = 1,
        page_size: int = 50,
        q: Optional[str] = None,
        *,
        external_id: Optional[str] = None,
    ) -> VeryfiDocumentPage:
        params: dict[str, Any] = {"page": page, "page_size": page_size}
        if q:
            params["q"] = q
        if external_id is not None:
            params["external_id"] = external_id
        response = self._send("GET", "", params=params)
        body = self._json(response, "GET", "")
        # v8 wraps the page in {"documents", "meta"}; older versions answered with a bare list.
        items: Optional[list[Any]] = None
        meta: dict[str, Any] = {}
        if isinstance(body, list):
            items = body
        elif isinstance(body, dict) and isinstance(body.get("documents"), list):
            items, meta = body["documents"], body.get("meta") or {}
        if items is None:
            raise self._bad_response(response, "GET", "", "expected {'documents': [...]} in the answer")
        documents = []
        for item in items:  # an entry with no usable document is not one we can take up
            try:
                documents.append(salvage_document(item)[0])
            except VeryfiResponseError:
                log.warning("Veryfi GET documents/: an entry with no usable document was left out")
        return VeryfiDocumentPage(documents, meta, body, response.status_code, trace_id(response))

    # ------------------------------------------------------------------------------ plumbing

    def _headers(self, signed_fields: Fields) -> dict[str, str]:
        return auth_headers(self.client_id, self._username, self._api_key, self._client_secret, signed_fields)

    def _send(self, method: str, path: str, *, signed_fields: Fields = (), headers=None, **kwargs):
        all_headers = self._headers(signed_fields)
        all_headers.update(headers or {})
        sent_at = self._pacer.wait_turn(post=method == "POST") if self._pacer else 0.0
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                self.documents_url + path,
                headers=all_headers,
                timeout=(self.connect_timeout, self.read_timeout),
                # A redirect would silently drop a streamed upload; report it instead.
                allow_redirects=False,
                stream=True,
                **kwargs,
            )
            body = read_limited(response, self.max_response_bytes)
        except requests.ReadTimeout as exc:
            raise self._transport_error(method, path, f"timed out: {exc}", VeryfiReadTimeout) from None
        except requests.ConnectTimeout as exc:
            raise self._transport_error(method, path, f"timed out connecting: {exc}", reached=False) from None
        except requests.Timeout as exc:
            raise self._transport_error(method, path, f"timed out: {exc}") from None
        except (
            requests.ConnectionError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
        ) as exc:
            # requests reports a body that stopped coming as a ConnectionError around urllib3's timeout.
            timed_out = exc.args and isinstance(exc.args[0], urllib3.exceptions.ReadTimeoutError)
            raise self._transport_error(
                method,
                path,
                f"{'timed out' if timed_out else 'connection failed'}: {exc}",
                VeryfiReadTimeout if timed_out else VeryfiTransportError,
                reached=timed_out or not never_connected(exc),
            ) from None
        if body is None:
            raise self._bad_response(
                response, method, path, f"answer larger than {self.max_response_bytes} bytes; not read further"
            )
        response._content = body  # what .content and .json() return: read above, with a size limit
        log.debug(
            "Veryfi %s documents/%s -> %s in %.2fs (trace id %s)",
            method,
            path,
            response.status_code,
            time.monotonic() - started,
            trace_id(response),
        )
        if not 200 <= response.status_code < 300:
            error = self._http_error(response, method, path)
            if self._pacer and isinstance(error, VeryfiRateLimited):
                self._pacer.rate_limited(sent_at, error.retry_after or DEFAULT_RATE_LIMIT_WAIT)
            raise error
        if self._pacer:
            self._pacer.accepted()
        return response

    def _json(self, response: requests.Response, method: str, path: str) -> Any:
        try:
            return json.loads(response.content)
        except ValueError:
            preview = response.content[:80].decode("utf-8", "replace")
            raise self._bad_response(response, method, path, f"body is not valid JSON: {preview!r}") from None

    def _document_result(self, response: requests.Response, method: str, path: str) -> VeryfiResult:
        body = self._json(response, method, path)
        try:
            document, warnings = salvage_document(body)
        except VeryfiResponseError as exc:
            raise VeryfiUnusableAnswer(
                self._clean(str(exc)),
                raw=body,
                status=response.status_code,
                trace_id=trace_id(response),
                context=f"Veryfi {method} documents/{path}",
            ) from None
        return VeryfiResult(document, body, response.status_code, trace_id(response), warnings)

    # ------------------------------------------------------------------------------- errors

    def _clean(self, text: str) -> str:
        return _truncate(scrub_secrets(text, (self._api_key, self._client_secret, self._username)))

    def _transport_error(
        self,
        method: str,
        path: str,
        detail: str,
        cls: type[VeryfiTransportError] = VeryfiTransportError,
        reached: bool = True,
    ) -> VeryfiTransportError:
        return cls(self._clean(detail), reached=reached, context=f"Veryfi {method} documents/{path}")

    def _bad_response(self, response, method: str, path: str, detail: str) -> VeryfiBadResponse:
        return VeryfiBadResponse(
            self._clean(detail),
            status=response.status_code,
            trace_id=trace_id(response),
            context=f"Veryfi {method} documents/{path}",
        )

    def _http_error(self, response: requests.Response, method: str, path: str) -> VeryfiError:
        status = response.status_code
        kwargs: dict[str, Any] = dict(
            status=status, trace_id=trace_id(response), context=f"Veryfi {method} documents/{path}"
        )
        message = self._clean(_api_message(response))
        retry_after_header = response.headers.get("Retry-After")
        if status == 429:
            wait = parse_retry_after(retry_after_header, DEFAULT_RATE_LIMIT_WAIT)
            return VeryfiRateLimited(message, retry_after=wait, **kwargs)
        if is_transient_status(status):
            wait = parse_retry_after(retry_after_header, None)
            return VeryfiServerError(message, retry_after=wait, **kwargs)
        if 300 <= status < 400:
            location = response.headers.get("Location", "?")
            message = self._clean(f"unexpected redirect to {location}; check base_url")
        return VeryfiRejected(message, **kwargs)


def _process_options(external_id, categories, tags, boost_mode, auto_delete) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if external_id is not None:
        options["external_id"] = str(external_id)
    if categories:
        options["categories"] = [categories] if isinstance(categories, str) else list(categories)
    if tags:
        options["tags"] = [tags] if isinstance(tags, str) else list(tags)
    # Per the contract a false flag is omitted, never sent as "false": some parsers read any value as set.
    if boost_mode:
        options["boost_mode"] = True
    if auto_delete:
        options["auto_delete"] = True
    return options


def _api_message(response: requests.Response) -> str:
    """Veryfi's own words: ``error`` or ``message`` from a JSON body, else the raw body."""
    raw = response.content or b""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if value:
                return value if isinstance(value, str) else json.dumps(value)
    text = raw[: MESSAGE_LIMIT * 4].decode("utf-8", "replace").strip()
    return text or (response.reason or f"HTTP {response.status_code} with an empty body")

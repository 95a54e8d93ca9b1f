"""The HTTP side: a threading server whose handler routes, reads bodies and answers as Veryfi."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import parse_qs, urlsplit

from orbit_pipelines.local.veryfi_emulator.faults import _DEFAULT_FAULT_BODIES, Fault
from orbit_pipelines.local.veryfi_emulator.forms import _decode_file_data, _flag, _list_field, _multipart
from orbit_pipelines.local.veryfi_emulator.limits import MAX_BODY_BYTES, MAX_DRAIN_BYTES, Refusal
from orbit_pipelines.local.veryfi_emulator.ratelimit import retry_after_header
from orbit_pipelines.local.veryfi_emulator.records import RecordedRequest, _Upload

if TYPE_CHECKING:
    from orbit_pipelines.local.veryfi_emulator.emulator import VeryfiEmulator

# The package's name, as before the split, so log configuration and filters keep matching.
log = logging.getLogger(__package__)

_DOCUMENTS_PATH = re.compile(r"/api/v\d+/partner/documents/(?:(?P<id>\d+)/)?")
_HOSTED_PATH = re.compile(r"/_emulator/files/(?P<token>[0-9a-f]+)/(?P<name>[^/]+)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 refuses connections as soon as a few dozen clients start at once.
    request_queue_size = 256
    allow_reuse_address = True
    emulator: VeryfiEmulator

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, socket.timeout)):
            return  # the client hung up first (it timed out, or a dropped-connection fault)
        log.exception("Veryfi emulator failed on a request from %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "VeryfiEmulator/1.0"
    # Idle keep-alive connections give their thread back after this many seconds.
    timeout = 30
    # Headers and body leave in two writes; with Nagle on, delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args) -> None:
        log.debug("veryfi-emulator %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    # ---------------------------------------------------------------------------------- I/O

    def _read_body(self) -> Optional[bytes]:
        """The request body; None when it was too large to keep (it is drained so we can answer)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data) if len(data) <= MAX_BODY_BYTES else None
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length <= MAX_BODY_BYTES:
            return self.rfile.read(length) if length else b""
        if length > MAX_DRAIN_BYTES:
            self.close_connection = True
            return None
        left = length
        while left > 0:
            block = self.rfile.read(min(left, 1024 * 1024))
            if not block:
                break
            left -= len(block)
        return None

    def _send(self, status: int, payload: Any, headers: Optional[dict[str, str]] = None) -> None:
        if isinstance(payload, (bytes, str)):
            body = payload.encode("utf-8") if isinstance(payload, str) else payload
            is_json = body[:1] in (b"{", b"[")
            content_type = "application/json" if is_json else "text/html; charset=utf-8"
        else:
            body, content_type = json.dumps(payload).encode("utf-8"), "application/json"
        self.record.status = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-veryfi-trace-id", self.trace_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def _fail(self, status: int, message: str) -> None:
        self._send(status, {"status": "fail", "error": message})

    # ------------------------------------------------------------------------------ routing

    def _dispatch(self, method: str) -> None:
        emulator = self.server.emulator
        self.trace_id = uuid.uuid4().hex
        url = urlsplit(self.path)
        self.record = RecordedRequest(
            method,
            url.path,
            parse_qs(url.query),
            dict(self.headers.items()),
            trace_id=self.trace_id,
            client_port=self.client_address[1],
        )
        hosted = _HOSTED_PATH.fullmatch(url.path)
        if not hosted:  # downloads of hosted test files are not Veryfi API calls
            emulator._record(self.record)
        try:
            body = self._read_body()
            if hosted and method == "GET":
                return self._serve_hosted(hosted.group("token"))
            route = _DOCUMENTS_PATH.fullmatch(url.path)
            if not route:
                raise Refusal("Not found.", 404)
            problem = emulator.credentials_problem(self.headers) or emulator.signature_problem(self.headers, None)
            if problem:
                raise Refusal(problem, 401)
            wait = emulator.limiter.admit(method)
            if wait is not None:
                emulator._count_answer("rate_limited")
                return self._send(
                    429,
                    _DEFAULT_FAULT_BODIES[429],
                    {"Retry-After": retry_after_header(wait)},
                )
            document_id = route.group("id")
            if document_id is None and method == "POST":
                return self._process(body)
            if body is None:
                raise Refusal("Request body too large.", 400)
            problem = emulator.signature_problem(self.headers, self._signed_body_fields(body))
            if problem:
                raise Refusal(problem, 401)
            if document_id is None and method == "GET":
                if self.record.query.get("external_id"):
                    emulator._count_answer("lookup")
                return self._send(200, emulator.list_page(self.record.query))
            if document_id is not None and method == "GET":
                return self._send(200, emulator.get(int(document_id)))
            if document_id is not None and method == "DELETE":
                emulator.delete(int(document_id))
                return self._send(200, {"status": "ok"})
            raise Refusal(f'Method "{method}" not allowed.', 405)
        except Refusal as refusal:
            self._fail(refusal.status, refusal.message)
        except (ConnectionError, TimeoutError):
            raise  # the client went away; nobody to answer
        except Exception:
            # A bug here must look like Veryfi's own 500, not a hung or dropped connection.
            log.exception("Veryfi emulator failed on %s %s", method, url.path)
            self.close_connection = True
            self._fail(500, "Internal server error")

    def _signed_body_fields(self, body: bytes) -> list[tuple[str, Any]]:
        """What a signature on GET or DELETE covers: the JSON object sent as the body, if any.

        A signature is over the request as sent: no body signs no fields (this project's client),
        and the official Python SDK sends and signs ``{}`` on GET and ``{"id": N}`` on DELETE.
        """
        try:
            payload = json.loads(body) if body.strip() else None
        except ValueError:
            return []
        if not isinstance(payload, dict):
            return []
        self.record.json = payload
        return list(payload.items())

    def _serve_hosted(self, token: str) -> None:
        hosted = self.server.emulator._hosted_file(token)
        if hosted is None:
            return self._fail(404, "Not found.")
        data, content_type = hosted
        self.record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _parse_upload(self, body: Optional[bytes]) -> _Upload:
        if body is None:
            raise Refusal("File is too large; the maximum size is 20 MB.")
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            form, files = _multipart(body, content_type)
            self.record.form = form
            self.record.files = [
                {"field": f, "file_name": n, "content_type": t, "size": len(d)} for f, n, t, d in files
            ]
            values: dict[str, list[str]] = {}
            for name, value in form:
                values.setdefault(name, []).append(value)
            upload = _Upload(
                file_name=(values.get("file_name") or [""])[0],
                external_id=(values.get("external_id") or [""])[0] or None,
                categories=_list_field(values.get("categories", [])),
                tags=_list_field(values.get("tags", [])),
                auto_delete=_flag((values.get("auto_delete") or [""])[0]),
                boost_mode=_flag((values.get("boost_mode") or [""])[0]),
                signed_fields=form,
            )
            file_part = next((f for f in files if f[0] == "file"), None)
            if file_part is None:
                raise Refusal("No file provided: send 'file', 'file_data', 'file_url' or 'file_urls'.")
            upload.file_name = upload.file_name or file_part[1]
            upload.data = file_part[3]
            return upload
        if content_type.startswith("application/json") or body[:1] == b"{":
            try:
                payload = json.loads(body)
            except ValueError:
                raise Refusal("Malformed JSON body.") from None
            if not isinstance(payload, dict):
                raise Refusal("The JSON body must be an object.")
            self.record.json = payload
            external_id = payload.get("external_id")
            upload = _Upload(
                file_name=str(payload.get("file_name") or ""),
                external_id=None if external_id in (None, "") else str(external_id),
                # null is no list at all: the SDK sends "categories": null when it is given none.
                categories=_list_field([payload.get("categories")]),
                tags=_list_field([payload.get("tags")]),
                auto_delete=_flag(payload.get("auto_delete")),
                boost_mode=_flag(payload.get("boost_mode")),
                signed_fields=list(payload.items()),
            )
            if payload.get("file_data"):
                upload.data = _decode_file_data(payload["file_data"])
            elif payload.get("file_url") or payload.get("file_urls"):
                urls = payload.get("file_urls") or [payload.get("file_url")]
                if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
                    raise Refusal("file_urls must be a list of URLs.")
                upload.urls = urls
            else:
                raise Refusal("No file provided: send 'file', 'file_data', 'file_url' or 'file_urls'.")
            return upload
        raise Refusal("Unsupported Content-Type: use multipart/form-data or application/json.")

    def _process(self, body: Optional[bytes]) -> None:
        emulator = self.server.emulator
        # The configured latency is the time to an answer, the emulator's own work included (as
        # Veryfi's is): with many calls in flight, its CPU would otherwise add to every answer.
        started = time.monotonic()
        try:
            upload = self._parse_upload(body)
        except Refusal:
            emulator._count_attempt(None)
            raise
        emulator._count_attempt(upload.external_id)
        problem = emulator.signature_problem(self.headers, upload.signed_fields)
        if problem:
            raise Refusal(problem, 401)
        emulator.faults.wait_while_held(emulator._stopping)
        fault, latency = emulator.faults.draw()
        if fault is not None:
            emulator._sleep(latency - (time.monotonic() - started))
        if fault is not None and fault.kind == "drop":
            self.record.status = None
            self.close_connection = True
            return  # nothing written: the client sees the connection close under it
        if fault is not None and fault.kind == "status":
            return self._send_fault(fault)
        if fault is not None and fault.kind == "timeout":
            emulator._sleep(fault.seconds)
        document = emulator.process(upload)
        if fault is not None and fault.kind == "malformed":
            text = json.dumps(document)
            return self._send(201, text[: max(1, len(text) // 3)].encode("utf-8"))
        if fault is None:
            emulator._sleep(latency - (time.monotonic() - started))
        self._send(201, document)

    def _send_fault(self, fault: Fault) -> None:
        body = (
            fault.body
            if fault.body is not None
            else _DEFAULT_FAULT_BODIES.get(
                fault.status, {"status": "fail", "error": f"Request failed (emulated HTTP {fault.status})."}
            )
        )
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        self._send(fault.status, body, headers)

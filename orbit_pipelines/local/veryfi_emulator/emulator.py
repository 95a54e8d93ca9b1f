"""The emulator's state and behaviour: documents, counters, auth checks, processing uploads."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections import Counter, deque
from datetime import datetime, timezone
from typing import Any, Callable, Optional, Sequence, Union
from urllib.parse import quote, unquote, urlsplit

import requests

from orbit_pipelines.local.veryfi_emulator.documents import pdf_page_count, pdf_text, sniff
from orbit_pipelines.local.veryfi_emulator.faults import FaultPlan
from orbit_pipelines.local.veryfi_emulator.limits import MAX_FILE_BYTES, Refusal
from orbit_pipelines.local.veryfi_emulator.ratelimit import AccountLimits, RateLimiter
from orbit_pipelines.local.veryfi_emulator.receipts import image_receipt_text, read_receipt
from orbit_pipelines.local.veryfi_emulator.records import RecordedRequest, _Upload
from orbit_pipelines.local.veryfi_emulator.search import list_page
from orbit_pipelines.local.veryfi_emulator.server import _Handler, _Server
from orbit_pipelines.local.veryfi_emulator.v8 import v8_document

DEFAULT_CLIENT_ID = "vrf-emulator-client"
DEFAULT_USERNAME = "emulator"
DEFAULT_API_KEY = "emulator-api-key"


def utc_now() -> datetime:
    """The emulator's default clock: naive UTC to the second, as ``created_date`` is written."""
    return datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


class VeryfiEmulator:
    """EMULATOR of the Veryfi documents API on a background ThreadingHTTPServer. Not Veryfi."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str = DEFAULT_CLIENT_ID,
        username: str = DEFAULT_USERNAME,
        api_key: str = DEFAULT_API_KEY,
        *,
        client_secret: Optional[str] = None,
        strict_signatures: bool = False,
        download_timeout: float = 10.0,
        clock: Callable[[], datetime] = utc_now,
    ):
        if strict_signatures and not client_secret:
            raise ValueError("strict_signatures needs the client_secret to check against")
        self.host, self.port = host, port
        self.client_id, self.username, self.api_key = client_id, username, api_key
        self.client_secret = client_secret
        self.strict_signatures = strict_signatures
        self.download_timeout = download_timeout
        # When a document is processed (its created_date); tests may set another to date documents.
        self.clock = clock
        self.faults = FaultPlan()
        # The account's rate limits (none unless set): beyond them, 429 with Retry-After.
        self.limiter = RateLimiter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._reset_state()

    def _reset_state(self) -> None:
        with self._lock:
            self._documents: dict[int, dict[str, Any]] = {}
            self._first_by_hash: dict[str, int] = {}
            self._attempts: Counter = Counter()
            self._paid: Counter = Counter()
            # Requests by what they were: "lookup" (a list by external_id), "rate_limited" (answered 429).
            self._answered: Counter = Counter()
            self._document_ids = itertools.count(100_000_001)
            self._line_ids = itertools.count(500_000_001)
            self._requests: deque[RecordedRequest] = deque(maxlen=2000)
            # When the first POST since the last reset arrived (time.monotonic()): a benchmark's "first
            # Veryfi request after the command started", which the bounded request list may have lost.
            self.first_post_at: Optional[float] = None
            self._hosted: dict[str, tuple[bytes, str]] = {}

    # ------------------------------------------------------------------------------ lifecycle

    def start(self) -> "VeryfiEmulator":
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.emulator = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"veryfi-emulator:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers sleeping in latency or timeout faults
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> "VeryfiEmulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What a client takes as base URL; it appends ``v8/partner/documents/``."""
        return f"{self.root_url}api/"

    @property
    def documents_url(self) -> str:
        return f"{self.base_url}v8/partner/documents/"

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``VeryfiClient`` that this emulator accepts."""
        return dict(
            base_url=self.base_url,
            client_id=self.client_id,
            username=self.username,
            api_key=self.api_key,
            client_secret=self.client_secret,
        )

    def auth_headers(self) -> dict[str, str]:
        return {
            "CLIENT-ID": self.client_id,
            "AUTHORIZATION": f"apikey {self.username}:{self.api_key}",
            "Accept": "application/json",
        }

    # ------------------------------------------------------------------------- fault shortcuts

    def fail_next(self, n: int = 1, status: Union[int, str] = 503, **kwargs) -> None:
        self.faults.fail_next(n, status, **kwargs)

    def timeout_next(self, n: int = 1, seconds: float = 130.0) -> None:
        self.faults.timeout_next(n, seconds)

    def drop_next(self, n: int = 1) -> None:
        self.faults.drop_next(n)

    def malformed_next(self, n: int = 1) -> None:
        self.faults.malformed_next(n)

    def set_fault_rate(self, rate: float, status: Union[int, str, Sequence[Union[int, str]]] = 503, **kwargs) -> None:
        self.faults.set_fault_rate(rate, status, **kwargs)

    def set_rate_limit(
        self,
        posts_per_second: Optional[int] = None,
        posts_per_minute: Optional[int] = None,
        requests_per_second: Optional[int] = None,
    ) -> None:
        """Enforce an account's limits from now on (all None: no limit), as Veryfi does: 429 beyond them."""
        self.limiter.set(AccountLimits(posts_per_second, posts_per_minute, requests_per_second))

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        """Forget documents, counters, recorded requests and faults."""
        self.faults.clear()
        self.limiter.set(AccountLimits())
        self._reset_state()

    # ----------------------------------------------------------------------------- inspection

    def calls_for(self, external_id: Optional[str]) -> int:
        """Process attempts (POST documents/ past authentication) carrying this external_id."""
        with self._lock:
            return self._attempts[external_id]

    def paid_calls_for(self, external_id: Optional[str]) -> int:
        """Process calls that produced a billed document (a 201, even if the client never read it)."""
        with self._lock:
            return self._paid[external_id]

    @property
    def lookups(self) -> int:
        """Lists of documents by external_id answered (what a client asks before sending again)."""
        with self._lock:
            return self._answered["lookup"]

    @property
    def rate_limited_answers(self) -> int:
        """Requests answered 429 because the account's rate limit was reached."""
        with self._lock:
            return self._answered["rate_limited"]

    @property
    def total_process_calls(self) -> int:
        with self._lock:
            return sum(self._attempts.values())

    @property
    def total_paid_calls(self) -> int:
        with self._lock:
            return sum(self._paid.values())

    @property
    def documents(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(json.dumps(doc)) for doc in self._documents.values()]

    def document(self, document_id: int) -> Optional[dict[str, Any]]:
        with self._lock:
            doc = self._documents.get(int(document_id))
            return None if doc is None else json.loads(json.dumps(doc))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> Optional[RecordedRequest]:
        with self._lock:
            return self._requests[-1] if self._requests else None

    def host_file(self, name: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Serve ``data`` at a URL for ``file_url`` tests. A test helper, not part of Veryfi's API."""
        token = uuid.uuid4().hex
        with self._lock:
            self._hosted[token] = (data, content_type)
        return f"{self.root_url}_emulator/files/{token}/{quote(name)}"

    # ------------------------------------------------------------------------ request handling

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)
            if request.method == "POST" and self.first_post_at is None:
                self.first_post_at = request.received_at

    def _hosted_file(self, token: str) -> Optional[tuple[bytes, str]]:
        with self._lock:
            return self._hosted.get(token)

    def _count_answer(self, what: str) -> None:
        with self._lock:
            self._answered[what] += 1

    def _count_attempt(self, external_id: Optional[str]) -> None:
        with self._lock:
            self._attempts[external_id] += 1

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def credentials_problem(self, headers) -> Optional[str]:
        client_id, authorization = headers.get("CLIENT-ID"), headers.get("AUTHORIZATION")
        if not client_id or not authorization:
            return "Not Authorized: CLIENT-ID and AUTHORIZATION headers are required."
        expected = f"apikey {self.username}:{self.api_key}"
        scheme, _, credentials = authorization.strip().partition(" ")
        if not (
            hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and scheme.lower() == "apikey"
            and hmac.compare_digest(f"apikey {credentials.strip()}".encode(), expected.encode())
        ):
            return "Not Authorized: invalid client id, username or API key."
        return None

    def signature_problem(self, headers, fields: Optional[list[tuple[str, Any]]]) -> Optional[str]:
        """Shape check always; with strict_signatures, also recompute it (``fields`` given)."""
        timestamp = headers.get("X-Veryfi-Request-Timestamp")
        signature = headers.get("X-Veryfi-Request-Signature")
        if timestamp is None and signature is None:
            return "Not Authorized: request signature required." if self.strict_signatures else None
        if not timestamp or not signature:
            return "Not Authorized: X-Veryfi-Request-Timestamp and X-Veryfi-Request-Signature go together."
        if not timestamp.isdigit():
            return "Not Authorized: X-Veryfi-Request-Timestamp must be epoch milliseconds."
        try:
            digest = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            digest = b""
        if len(digest) != 32:
            return "Not Authorized: X-Veryfi-Request-Signature must be base64 of an HMAC-SHA256 digest."
        if self.strict_signatures and fields is not None:
            assert self.client_secret is not None  # __init__ refuses strict_signatures without one
            payload = f"timestamp:{timestamp}" + "".join(f",{k}:{v}" for k, v in fields)
            expected = hmac.new(self.client_secret.encode(), payload.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, digest):
                return "Not Authorized: request signature does not match."
        return None

    def list_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        with self._lock:
            documents = list(self._documents.values())
        return list_page(documents, query)

    def get(self, document_id: int) -> dict[str, Any]:
        with self._lock:
            doc = self._documents.get(document_id)
        if doc is None:
            raise Refusal("Document not found.", 404)
        return doc

    def delete(self, document_id: int) -> None:
        with self._lock:
            doc = self._documents.pop(document_id, None)
            if doc is not None:
                self._first_by_hash = {h: i for h, i in self._first_by_hash.items() if i != document_id}
        if doc is None:
            raise Refusal("Document not found.", 404)

    def fetch(self, url: str) -> tuple[bytes, str]:
        if urlsplit(url).scheme not in ("http", "https"):
            raise Refusal(f"Could not download file from URL: unsupported scheme in {url[:200]}")
        try:
            with requests.get(url, timeout=(5, self.download_timeout), stream=True) as response:
                if response.status_code != 200:
                    raise Refusal(f"Could not download file from URL: HTTP {response.status_code}.")
                data = bytearray()
                for block in response.iter_content(64 * 1024):
                    data += block
                    if len(data) > MAX_FILE_BYTES:
                        break
        except requests.RequestException as exc:
            raise Refusal(f"Could not download file from URL: {type(exc).__name__}.") from None
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "download"
        return bytes(data), name

    def process(self, upload: _Upload) -> dict[str, Any]:
        """Read the upload and store a v8 document for it: the billed part of a process call."""
        if upload.data is None:
            files = [self.fetch(url) for url in upload.urls]
            upload.data, fetched_name = files[0]
            upload.file_name = upload.file_name or fetched_name
            pages = sum(pdf_page_count(d) if d.startswith(b"%PDF-") else 1 for d, _ in files)
            for data, name in files[1:]:
                sniff(data, name)
        else:
            pages = 0
        kind = sniff(upload.data, upload.file_name or "upload")
        if kind == "txt":
            text = upload.data.decode("utf-8")
        elif kind == "pdf":
            text = pdf_text(upload.data) or image_receipt_text(upload.data)
        else:
            text = image_receipt_text(upload.data)
        pages = pages or (pdf_page_count(upload.data) if kind == "pdf" else 1)
        facts = read_receipt(text)
        content_hash = hashlib.sha256(upload.data).hexdigest()
        with self._lock:
            document_id = next(self._document_ids)
            line_ids = [next(self._line_ids) for _ in facts.items]
            duplicate_of = self._first_by_hash.get(content_hash)
        document = v8_document(
            facts, document_id, line_ids, upload, kind, pages, duplicate_of, self.username, self.clock()
        )
        with self._lock:
            self._paid[upload.external_id] += 1
            if not upload.auto_delete:
                self._documents[document_id] = document
                self._first_by_hash.setdefault(content_hash, document_id)
        return document

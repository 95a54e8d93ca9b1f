"""EMULATOR of the Veryfi v8 documents API, for local runs and tests. It is not Veryfi.

It follows /work/shared/reference/veryfi-api.md: the same paths, auth headers, status codes and
error bodies, and v8-shaped documents. Documents are derived from the uploaded bytes: text and
simple PDF receipts are actually read (vendor, date, items, totals), images get a plausible
receipt whose numbers come from the content hash. So different files give different answers and
the same file always gives the same one.

Tests steer it through ``emulator.faults`` (latency, queued or random failures, timeouts, dropped
connections, malformed bodies) and read back ``calls_for`` / ``paid_calls_for`` to assert how
many times a document was sent and billed.

Run standalone:  python -m orbit_pipelines.local.veryfi_emulator --port 8765
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import logging
import random
import re
import socket
import sys
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional, Sequence, Union
from urllib.parse import parse_qs, quote, unquote, urlsplit

import requests

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "vrf-emulator-client"
DEFAULT_USERNAME = "emulator"
DEFAULT_API_KEY = "emulator-api-key"
MIN_FILE_BYTES = 250
MAX_FILE_BYTES = 20 * 1024 * 1024
# base64 inflates a 20 MB file to ~27 MB; anything larger is drained and refused unread.
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_DRAIN_BYTES = 256 * 1024 * 1024
MAX_PAGES = 15
ALLOWED_EXTENSIONS = frozenset(
    "jpg jpeg png gif webp avif bmp heic heif pdf zip txt html htm eml rtf odt doc docx xls xlsx csv".split()
)
CENT = Decimal("0.01")

_DOCUMENTS_PATH = re.compile(r"/api/v\d+/partner/documents/(?:(?P<id>\d+)/)?")
_HOSTED_PATH = re.compile(r"/_emulator/files/(?P<token>[0-9a-f]+)/(?P<name>[^/]+)")


# ------------------------------------------------------------------------------------- faults

FAULT_KINDS = ("status", "timeout", "drop", "malformed")


@dataclass(frozen=True)
class Fault:
    """One injected failure of a process call.

    kind "status": answer ``status`` with ``body`` (default: a realistic body for the status)
    and ``Retry-After: retry_after`` when given; nothing is processed or billed.
    "timeout": stay silent for ``seconds`` (longer than the client's read timeout), then process
    and bill the document as Veryfi would, though the client has gone.
    "drop": close the connection without answering (not billed).
    "malformed": process and bill, then answer 201 with a truncated JSON body.
    """

    kind: str = "status"
    status: int = 503
    retry_after: Union[float, str, None] = None
    body: Any = None
    seconds: float = 130.0


class FaultPlan:
    """Runtime-switchable faults for process calls (POST documents/); safe to change from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latency = 0.0
        self._queue: deque[Fault] = deque()
        self._rate = 0.0
        self._rate_faults: list[Fault] = []
        self._random = random.Random()

    @property
    def latency(self) -> float:
        """Seconds added to every process call (Veryfi typically takes 3 to 5)."""
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0")
        with self._lock:
            self._latency = float(seconds)

    def fail_next(self, n: int = 1, status: Union[int, str] = 503, *, retry_after=None, body=None,
                  seconds: Optional[float] = None) -> None:
        """Make the next ``n`` process calls fail. ``status`` is an HTTP status or a kind name
        ("timeout", "drop", "malformed")."""
        fault = _make_fault(status, retry_after, body, seconds)
        with self._lock:
            self._queue.extend([fault] * n)

    def timeout_next(self, n: int = 1, seconds: float = 130.0) -> None:
        self.fail_next(n, "timeout", seconds=seconds)

    def drop_next(self, n: int = 1) -> None:
        self.fail_next(n, "drop")

    def malformed_next(self, n: int = 1) -> None:
        self.fail_next(n, "malformed")

    def set_fault_rate(self, rate: float, status: Union[int, str, Sequence[Union[int, str]]] = 503, *,
                       seed: Optional[int] = None, retry_after=None, body=None,
                       seconds: Optional[float] = None) -> None:
        """Fail a random fraction ``rate`` of process calls (after any queued faults); 0 turns it off.

        ``status`` may be a list of statuses and kind names: each failing call draws one of them,
        which is what intermittent trouble looks like (a 503 here, a reset there, a 429 now and then).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        statuses = [status] if isinstance(status, (int, str)) else list(status)
        if not statuses:
            raise ValueError("status: give at least one status or fault kind")
        faults = [_make_fault(s, retry_after if s == 429 or len(statuses) == 1 else None, body, seconds)
                  for s in statuses]
        with self._lock:
            self._rate, self._rate_faults = float(rate), faults
            if seed is not None:
                self._random.seed(seed)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rate, self._rate_faults, self._latency = 0.0, [], 0.0

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def draw(self) -> tuple[Optional[Fault], float]:
        """The fault for the call now starting (or None), and the latency to add."""
        with self._lock:
            if self._queue:
                return self._queue.popleft(), self._latency
            if self._rate and self._random.random() < self._rate:
                return self._random.choice(self._rate_faults), self._latency
            return None, self._latency


def _make_fault(status, retry_after, body, seconds) -> Fault:
    if isinstance(status, str):
        if status not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {status!r}; use one of {FAULT_KINDS}")
        kind, status = status, 503
    else:
        kind = "status"
        # 2xx is allowed for canned answers, e.g. a 201 whose body is not a document.
        if not 200 <= int(status) <= 599:
            raise ValueError("status must be between 200 and 599")
    return Fault(kind, int(status), retry_after, body, 130.0 if seconds is None else float(seconds))


_DEFAULT_FAULT_BODIES: dict[int, Any] = {
    409: {"status": "fail", "error": "Access limit reached. Please contact support."},
    429: {"status": "fail", "error": "Too many requests. Please retry after the delay in Retry-After."},
    499: {"status": "fail", "error": "Client closed request"},
    500: {"status": "fail", "error": "Internal server error"},
    502: "<html><head><title>502 Bad Gateway</title></head>"
         "<body><h1>502 Bad Gateway</h1></body></html>",
    503: {"status": "fail", "message": "Service temporarily unavailable, please try again later."},
    504: "<html><head><title>504 Gateway Time-out</title></head>"
         "<body><h1>504 Gateway Time-out</h1></body></html>",
}


# ------------------------------------------------------------------------ refusals and sniffing


class Refusal(Exception):
    """A request Veryfi would answer with ``status`` and ``{"status": "fail", "error": message}``."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message


def sniff(data: bytes, file_name: str) -> str:
    """Content kind ("pdf", "png", "jpeg", "gif", "webp", "txt"), or Refusal as Veryfi answers."""
    if len(data) < MIN_FILE_BYTES:
        raise Refusal(f"File is too small ({len(data)} bytes); the minimum size is {MIN_FILE_BYTES} bytes.")
    if len(data) > MAX_FILE_BYTES:
        raise Refusal(f"File is too large ({len(data)} bytes); the maximum size is 20 MB.")
    extension = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else ""
    if extension and extension not in ALLOWED_EXTENSIONS:
        raise Refusal(f"Unsupported file type: .{extension}")
    tail = data[-1024:]
    if data.startswith(b"%PDF-"):
        if b"%%EOF" not in tail:
            raise Refusal("Corrupt or truncated PDF file.")
        return "pdf"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if data[12:16] != b"IHDR" or b"IEND" not in tail:
            raise Refusal("Corrupt or truncated PNG image.")
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        if b"\xff\xd9" not in tail:
            raise Refusal("Corrupt or truncated JPEG image.")
        return "jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if b";" not in data[-16:]:
            raise Refusal("Corrupt or truncated GIF image.")
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        if int.from_bytes(data[4:8], "little") + 8 > len(data) + 1:
            raise Refusal("Corrupt or truncated WEBP image.")
        return "webp"
    if _looks_like_text(data):
        return "txt"
    raise Refusal("Unsupported or corrupt file: the content is not a supported document type.")


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    sample = text[:65536]  # a sample decides; counting every character of 20 MB would take seconds
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in sample)
    return printable >= 0.95 * len(sample)


# ---------------------------------------------------------------------------------- PDF text

_PDF_STREAM = re.compile(rb"\bobj\b((?:(?!endobj).)*?)stream\r?\n(.*?)\r?\n?endstream", re.S)
_PDF_TOKEN = re.compile(
    rb"(?P<str>\((?:\\.|[^\\)])*\))|(?P<arr>\[(?:\\.|[^\]\\])*\])"
    rb"|(?P<num>[-+]?(?:\d+\.?\d*|\.\d+))|(?P<op>[A-Za-z'\"*]+)",
    re.S,
)
_PDF_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _pdf_literal(token: bytes) -> str:
    def unescape(match: re.Match) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8) & 0xFF])
        return _PDF_ESCAPES.get(escaped, escaped)

    raw = re.sub(rb"\\([0-7]{1,3}|.)", unescape, token[1:-1], flags=re.S)
    return raw.decode("cp1252", errors="replace")


def pdf_text(data: bytes) -> str:
    """Text shown by Tj/TJ/'/" in the page content streams: enough for simple generated receipts."""
    lines: list[str] = []
    current: list[str] = []

    def newline() -> None:
        if current:
            lines.append(" ".join(part.strip() for part in current if part.strip()))
            current.clear()

    for match in _PDF_STREAM.finditer(data):
        dictionary, stream = match.groups()
        if b"/FlateDecode" in dictionary:
            try:
                stream = zlib.decompress(stream)
            except zlib.error:
                continue
        operands: list[re.Match] = []
        for token in _PDF_TOKEN.finditer(stream):
            op = token.group("op")
            if op is None:
                operands.append(token)
                continue
            if op in (b"'", b'"'):
                newline()
            if op in (b"Tj", b"'", b'"') and operands and operands[-1].group("str"):
                current.append(_pdf_literal(operands[-1].group("str")))
            elif op == b"TJ" and operands and operands[-1].group("arr"):
                pieces = _PDF_TOKEN.finditer(operands[-1].group("arr")[1:-1])
                current.append("".join(
                    _pdf_literal(p.group("str")) if p.group("str")
                    else (" " if p.group("num") and float(p.group("num")) < -200 else "")
                    for p in pieces
                ))
            elif op in (b"T*", b"ET", b"Tm") or (
                op in (b"Td", b"TD") and operands and operands[-1].group("num")
                and float(operands[-1].group("num")) != 0
            ):
                newline()
            operands.clear()
        newline()
    return "\n".join(line for line in lines if line)


def pdf_page_count(data: bytes) -> int:
    return max(1, len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)))


# ---------------------------------------------------------------------------- receipt reading

_AMOUNT = r"[-−]?[$€£]?\s?(?:\d{1,3}(?:,\d{3})+\.\d{2}|\d+[.,]\d{2})"
_AMOUNT_RE = re.compile(_AMOUNT)
_QTY_ITEM = re.compile(
    rf"^(?P<desc>.*?[A-Za-z].*?)\s+(?P<qty>\d+(?:\.\d+)?)\s*[xX×@]\s*(?P<price>{_AMOUNT})"
    rf"(?:\s+(?P<total>{_AMOUNT}))?$"
)
_LEADING_QTY_ITEM = re.compile(
    rf"^(?P<qty>\d+)\s+(?P<desc>[A-Za-z].*?)(?:\s*@\s*(?P<price>{_AMOUNT}))?\s+(?P<total>{_AMOUNT})$"
)
_PLAIN_ITEM = re.compile(rf"^(?P<desc>.*?[A-Za-z].*?)\s+(?P<total>{_AMOUNT})$")
_SUMMARY = (
    ("subtotal", re.compile(r"^(?:sub[\s-]?total|net amount)\b", re.I)),
    ("tax", re.compile(r"^(?:sales\s+)?(?:tax|vat|gst|hst|mwst)\b", re.I)),
    ("tip", re.compile(r"^(?:tip|gratuity)\b", re.I)),
    ("discount", re.compile(r"^(?:discount|savings|coupon)\b", re.I)),
    ("total", re.compile(r"^(?:grand\s+)?(?:total|amount\s+due|balance\s+due)\b", re.I)),
)
_PAYMENT = re.compile(r"^(?P<type>visa|mastercard|amex|discover|cash|debit|credit|card)\b", re.I)
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*%")
_NOT_ITEM = re.compile(r"^(?:change|tendered|cash\s+back|balance)\b", re.I)
_PHONE = re.compile(r"\(?\b\d{3}\)?[-.\s]\d{3}[-.\s]\d{4}\b")
_INVOICE = re.compile(
    r"\b(?:receipt|invoice|order|check)\s*(?:no\.?|number|#)\s*[:#]?\s*([A-Za-z0-9-]+)", re.I
)
_CURRENCY_CODE = re.compile(r"\b(USD|EUR|GBP|CAD|AUD|NZD|CHF|JPY|SEK|NOK|DKK|MXN|INR|PLN|CZK)\b")
_DATES = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?"), "ymd"),
    (re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?"), "mdy"),
    (re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?"), "dmy"),
)


@dataclass
class ReceiptFacts:
    vendor_raw: Optional[str] = None
    address_lines: list[str] = field(default_factory=list)
    phone: Optional[str] = None
    date: Optional[datetime] = None
    currency: str = "USD"
    items: list[dict[str, Any]] = field(default_factory=list)
    subtotal: Optional[Decimal] = None
    tax: Optional[Decimal] = None
    tax_rate: Optional[Decimal] = None
    tip: Optional[Decimal] = None
    discount: Optional[Decimal] = None
    total: Optional[Decimal] = None
    payment_type: Optional[str] = None
    card_last4: Optional[str] = None
    invoice_number: Optional[str] = None
    text: str = ""


def _money(token: str) -> Decimal:
    cleaned = token.replace("−", "-").replace("$", "").replace("€", "").replace("£", "").replace(" ", "")
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")
    elif "," in cleaned:
        cleaned = cleaned.replace(",", ".")
    return Decimal(cleaned).quantize(CENT, rounding=ROUND_HALF_UP)


def _find_date(line: str) -> Optional[datetime]:
    for pattern, order in _DATES:
        match = pattern.search(line)
        if not match:
            continue
        a, b, c, hour, minute, second = (match.group(i) for i in range(1, 7))
        year, month, day = {"ymd": (a, b, c), "mdy": (c, a, b), "dmy": (c, b, a)}[order]
        hour_value = int(hour or 0)
        if order == "mdy" and match.group(7):
            hour_value = hour_value % 12 + (12 if match.group(7).lower() == "pm" else 0)
        try:
            return datetime(int(year), int(month), int(day), hour_value, int(minute or 0), int(second or 0))
        except ValueError:
            continue
    return None


def _read_item(line: str) -> Optional[dict[str, Any]]:
    for pattern in (_QTY_ITEM, _LEADING_QTY_ITEM, _PLAIN_ITEM):
        match = pattern.match(line)
        if not match:
            continue
        parts = match.groupdict()
        quantity = Decimal(parts.get("qty") or 1)
        price = _money(parts["price"]) if parts.get("price") else None
        total = _money(parts["total"]) if parts.get("total") else None
        if total is None:
            total = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if price is None:
            price = (total / quantity).quantize(CENT, rounding=ROUND_HALF_UP) if quantity else total
        return {"description": parts["desc"].strip(" .:-\t"), "quantity": quantity,
                "price": price, "total": total, "text": line}
    return None


def read_receipt(text: str) -> ReceiptFacts:
    """Pull vendor, date, items and totals out of receipt text laid out one fact per line."""
    facts = ReceiptFacts(text=text)
    # Receipts are short; the cap keeps a 20 MB text file from tying up a handler thread.
    lines = [line.strip() for line in text.splitlines()[:2000] if line.strip()]
    if not lines:
        return facts
    facts.vendor_raw = lines[0]
    code = _CURRENCY_CODE.search(text)
    symbol = next((c for s, c in (("€", "EUR"), ("£", "GBP"), ("$", "USD")) if s in text), "USD")
    facts.currency = code.group(1) if code else symbol
    for line in lines[1:]:
        invoice = _INVOICE.search(line)
        if invoice and facts.invoice_number is None:
            facts.invoice_number = invoice.group(1)
        if re.match(r"^currency\b", line, re.I):
            continue
        date = _find_date(line)
        if date:
            facts.date = facts.date or date
            continue
        summary = next((name for name, pattern in _SUMMARY if pattern.match(line)), None)
        if summary:
            # "TAX 8.875% 2.17": the rate must not be mistaken for an amount.
            amounts = _AMOUNT_RE.findall(_PERCENT.sub(" ", line))
            if amounts and getattr(facts, summary) is None:
                amount = _money(amounts[-1])
                setattr(facts, summary, abs(amount) if summary == "discount" else amount)
            rate = re.search(r"(\d+(?:\.\d+)?)\s*%", line)
            if summary == "tax" and rate:
                facts.tax_rate = Decimal(rate.group(1))
            continue
        payment = _PAYMENT.match(line)
        if payment:
            facts.payment_type = facts.payment_type or payment.group("type").lower()
            last4 = re.search(r"\*+\s*(\d{4})", line)
            facts.card_last4 = facts.card_last4 or (last4.group(1) if last4 else None)
            continue
        if _NOT_ITEM.match(line):
            continue
        item = _read_item(line)
        if item:
            facts.items.append(item)
            continue
        if not facts.items and _PHONE.search(line) and facts.phone is None:
            facts.phone = _PHONE.search(line).group(0)
            continue
        if not facts.items and not invoice and len(facts.address_lines) < 2 and re.search(r"\d", line):
            facts.address_lines.append(line)
    if facts.subtotal is None and facts.items:
        facts.subtotal = sum((item["total"] for item in facts.items), Decimal(0))
    if facts.total is None and facts.subtotal is not None:
        facts.total = (facts.subtotal + (facts.tax or 0) + (facts.tip or 0) - (facts.discount or 0))
    return facts


_IMAGE_VENDORS = (  # vendor, (product, typical price)
    ("Quickstop Fuel", (("Unleaded Gas", 48), ("Car Wash", 12), ("Bottled Water", 2))),
    ("Riverside Grill", (("Burger Deluxe", 15), ("Iced Tea", 3), ("Fries", 5))),
    ("Parkview Stationers", (("Stapler", 11), ("Envelopes 50pk", 7), ("Toner Cartridge", 64))),
    ("Granite Hotel", (("Room Night", 169), ("Parking", 25), ("Breakfast", 19))),
    ("Metro Taxi Co", (("Fare", 36), ("Airport Surcharge", 5), ("Toll", 6))),
    ("Evergreen Market", (("Bananas", 2), ("Olive Oil", 11), ("Bread Loaf", 4))),
)


def image_receipt_text(data: bytes) -> str:
    """Receipt text for an image we cannot read: seeded by the content hash, so it is stable."""
    rng = random.Random(hashlib.sha256(data).digest())
    vendor, products = rng.choice(_IMAGE_VENDORS)
    when = datetime(2025, 1, 1) + timedelta(days=rng.randrange(420), minutes=rng.randrange(7 * 60, 22 * 60))
    lines = [vendor.upper(), f"{rng.randint(10, 999)} Commerce Ave", f"{when:%m/%d/%Y %I:%M %p}"]
    subtotal = Decimal(0)
    for product, typical in rng.sample(products, rng.randint(1, 3)):
        qty = rng.randint(1, 3)
        price = (Decimal(typical) * Decimal(rng.randint(70, 130)) / 100).quantize(CENT)
        subtotal += qty * price
        lines.append(f"{product} {qty} x {price}" if qty > 1 else f"{product} {price}")
    rate = rng.choice((Decimal("5"), Decimal("7.25"), Decimal("8"), Decimal("8.875")))
    tax = (subtotal * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    lines += [f"SUBTOTAL {subtotal:.2f}", f"TAX {rate}% {tax}", f"TOTAL {subtotal + tax:.2f}",
              f"VISA ***{rng.randint(1000, 9999)}"]
    return "\n".join(lines) + "\n"


def _category(facts: ReceiptFacts) -> tuple[str, Optional[str], str]:
    """(category, vendor type, line item type) guessed from keywords, as Veryfi's classifier would."""
    haystack = f"{facts.vendor_raw or ''}\n{facts.text[:400]}".lower()
    rules = (
        (("cafe", "coffee", "diner", "grill", "restaurant", "bakery", "bistro", "pizza"),
         ("Meals & Entertainment", "restaurant", "food")),
        (("fuel", "gas station", "petrol", "unleaded"), ("Fuel", "gas station", "fuel")),
        (("hotel", "inn", "motel", "room night"), ("Lodging", "hotel", "service")),
        (("taxi", "airline", "rail", "fare"), ("Travel", "transportation", "service")),
        (("office", "stationer", "paper", "toner"),
         ("Office Supplies & Software", "office supplies", "product")),
        (("pharmacy", "chemist", "clinic"), ("Medical", "pharmacy", "product")),
        (("market", "grocery", "supermarket"), ("Groceries", "grocery", "food")),
        (("hardware", "tools", "lumber"), ("Job Supplies", "hardware store", "product")),
    )
    for words, result in rules:
        # Whole words only: "inn" must not fire on "dinner", nor "fare" on "welfare".
        if re.search(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", haystack):
            return result
    return ("Job Supplies", None, "product")


def _number(value: Optional[Decimal]) -> Optional[float]:
    return None if value is None else float(value)


def _display_name(raw: str) -> str:
    return raw.title() if raw.isupper() else raw


# ----------------------------------------------------------------------------- the emulator


@dataclass
class RecordedRequest:
    """What reached the emulator, for wire-format assertions (file bytes summarised, not kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: list[tuple[str, str]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)
    json: Any = None
    status: Optional[int] = None
    trace_id: Optional[str] = None
    client_port: Optional[int] = None  # one port for several requests: the client kept its connection

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass
class _Upload:
    file_name: str
    data: Optional[bytes] = None
    urls: list[str] = field(default_factory=list)
    external_id: Optional[str] = None
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    auto_delete: bool = False
    boost_mode: bool = False
    signed_fields: list[tuple[str, Any]] = field(default_factory=list)


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
    ):
        if strict_signatures and not client_secret:
            raise ValueError("strict_signatures needs the client_secret to check against")
        self.host, self.port = host, port
        self.client_id, self.username, self.api_key = client_id, username, api_key
        self.client_secret = client_secret
        self.strict_signatures = strict_signatures
        self.download_timeout = download_timeout
        self.faults = FaultPlan()
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
            self._document_ids = itertools.count(100_000_001)
            self._line_ids = itertools.count(500_000_001)
            self._requests: deque[RecordedRequest] = deque(maxlen=2000)
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
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"veryfi-emulator:{self.port}", daemon=True,
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
        return dict(base_url=self.base_url, client_id=self.client_id, username=self.username,
                    api_key=self.api_key, client_secret=self.client_secret)

    def auth_headers(self) -> dict[str, str]:
        return {"CLIENT-ID": self.client_id, "AUTHORIZATION": f"apikey {self.username}:{self.api_key}",
                "Accept": "application/json"}

    # ------------------------------------------------------------------------- fault shortcuts

    def fail_next(self, n: int = 1, status: Union[int, str] = 503, **kwargs) -> None:
        self.faults.fail_next(n, status, **kwargs)

    def timeout_next(self, n: int = 1, seconds: float = 130.0) -> None:
        self.faults.timeout_next(n, seconds)

    def drop_next(self, n: int = 1) -> None:
        self.faults.drop_next(n)

    def malformed_next(self, n: int = 1) -> None:
        self.faults.malformed_next(n)

    def set_fault_rate(self, rate: float, status: Union[int, str, Sequence[Union[int, str]]] = 503,
                       **kwargs) -> None:
        self.faults.set_fault_rate(rate, status, **kwargs)

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        """Forget documents, counters, recorded requests and faults."""
        self.faults.clear()
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

    def _hosted_file(self, token: str) -> Optional[tuple[bytes, str]]:
        with self._lock:
            return self._hosted.get(token)

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
        if not (hmac.compare_digest(client_id.encode(), self.client_id.encode())
                and scheme.lower() == "apikey"
                and hmac.compare_digest(f"apikey {credentials.strip()}".encode(), expected.encode())):
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
            payload = f"timestamp:{timestamp}" + "".join(f",{k}:{v}" for k, v in fields)
            expected = hmac.new(self.client_secret.encode(), payload.encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, digest):
                return "Not Authorized: request signature does not match."
        return None

    def list_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        try:
            page = int(query.get("page", ["1"])[0])
            page_size = int(query.get("page_size", ["50"])[0])
        except ValueError:
            raise Refusal("page and page_size must be integers.") from None
        if page < 1 or page_size < 1:
            raise Refusal("page and page_size must be positive.")
        page_size = min(page_size, 100)
        q = (query.get("q", [""])[0] or "").lower()
        external_id = query.get("external_id", [None])[0]
        with self._lock:
            docs = sorted(self._documents.values(), key=lambda d: d["id"], reverse=True)
        if external_id is not None:
            docs = [d for d in docs if d.get("external_id") == external_id]
        if q:
            docs = [d for d in docs if q in " ".join(
                str(v or "") for v in (d["vendor"]["name"], d.get("external_id"), d.get("ocr_text"))
            ).lower()]
        total_pages = max(1, -(-len(docs) // page_size))
        chunk = docs[(page - 1) * page_size: page * page_size]
        return {"documents": chunk, "meta": {"page_number": page, "page_size": page_size,
                                             "total_pages": total_pages, "total_documents": len(docs)}}

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
        document = self._document(facts, document_id, line_ids, upload, kind, pages, duplicate_of)
        with self._lock:
            self._paid[upload.external_id] += 1
            if not upload.auto_delete:
                self._documents[document_id] = document
                self._first_by_hash.setdefault(content_hash, document_id)
        return document

    def _document(self, facts: ReceiptFacts, document_id: int, line_ids: list[int], upload: _Upload,
                  kind: str, pages: int, duplicate_of: Optional[int]) -> dict[str, Any]:
        now = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
        category, vendor_type, item_type = _category(facts)
        if upload.categories:
            category = category if category in upload.categories else upload.categories[0]
        raw_vendor = facts.vendor_raw
        expires = int(time.time()) + 900
        signed = f"?Expires={expires}&Signature=emulated&Key-Pair-Id=EMULATOR"
        cdn = f"https://scdn.veryfi.invalid/emulator/{document_id}"
        tax_lines = []
        if facts.tax is not None:
            tax_lines.append({"order": 0, "name": "Sales Tax" if facts.currency in ("USD", "CAD") else "VAT",
                              "rate": _number(facts.tax_rate), "base": _number(facts.subtotal),
                              "total": _number(facts.tax)})
        payment = {"type": facts.payment_type, "card_number": facts.card_last4,
                   "display_name": (f"{facts.payment_type.title()} ***{facts.card_last4}"
                                    if facts.payment_type and facts.card_last4 else None),
                   "terms": None}
        return {
            "id": document_id,
            "external_id": upload.external_id,
            "created_date": f"{now:%Y-%m-%d %H:%M:%S}",
            "updated_date": f"{now:%Y-%m-%d %H:%M:%S}",
            "status": "processed",
            "document_type": "invoice" if "invoice" in facts.text[:500].lower() else "receipt",
            "category": category,
            "date": f"{facts.date:%Y-%m-%d %H:%M:%S}" if facts.date else None,
            "due_date": None,
            "invoice_number": facts.invoice_number,
            "currency_code": facts.currency,
            "subtotal": _number(facts.subtotal),
            "tax": _number(facts.tax),
            "tip": _number(facts.tip),
            "discount": _number(facts.discount),
            "total": _number(facts.total),
            "tax_lines": tax_lines,
            "payment": payment,
            "vendor": {
                "name": _display_name(raw_vendor) if raw_vendor else None,
                "raw_name": raw_vendor,
                "address": ", ".join(facts.address_lines) or None,
                "raw_address": "\n".join(facts.address_lines) or None,
                "phone_number": facts.phone, "email": None, "web": None, "vat_number": None,
                "type": vendor_type, "category": vendor_type, "logo": None,
            },
            "bill_to": {"name": None, "address": None, "vat_number": None, "email": None,
                        "phone_number": None, "parsed_address": None, "reg_number": None},
            "ship_to": {"name": None, "address": None, "parsed_address": None},
            "line_items": [
                {"id": line_id, "order": order, "description": item["description"],
                 "quantity": float(item["quantity"]), "price": _number(item["price"]),
                 "total": _number(item["total"]), "sku": None, "tax": None, "tax_rate": None,
                 "discount": None, "type": item_type, "unit_of_measure": None, "text": item["text"],
                 "category": category, "tags": []}
                for order, (line_id, item) in enumerate(zip(line_ids, facts.items, strict=True))
            ],
            "tags": [{"id": 7_000 + i, "name": tag} for i, tag in enumerate(upload.tags)],
            "notes": None,
            "ocr_text": facts.text,
            "img_file_name": f"{document_id}.jpg",
            "img_url": f"{cdn}/{document_id}.jpg{signed}",
            "img_thumbnail_url": f"{cdn}/thumbnail.jpg{signed}",
            "pdf_url": f"{cdn}/{document_id}.pdf{signed}",
            "is_duplicate": duplicate_of is not None,
            "duplicate_of": duplicate_of,
            "is_document": True,
            "img_blur": False,
            "is_money_in": False,
            "meta": {"owner": self.username, "source": "api", "file_type": kind,
                     "processed_pages": min(pages, MAX_PAGES), "total_pages": pages,
                     "emulator": True},
            "warnings": (["boost_mode: enrichment skipped"] if upload.boost_mode else []),
        }


# ------------------------------------------------------------------------------- HTTP plumbing


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


FormFields = list[tuple[str, str]]
FileParts = list[tuple[str, str, str, bytes]]


def _multipart(body: bytes, content_type: str) -> tuple[FormFields, FileParts]:
    """(form fields in order, files as (field, file name, content type, bytes))."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise Refusal("Malformed multipart body: no boundary in Content-Type.")
    delimiter = b"--" + match.group(1).encode("latin-1")
    if delimiter + b"--" not in body:
        raise Refusal("Malformed multipart body: closing boundary missing.")
    fields, files = [], []
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, separator, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise Refusal("Malformed multipart body: part without headers.")
        content = content.removesuffix(b"\r\n")
        headers = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        params = dict(re.findall(r';\s*([\w*]+)="((?:[^"\\]|\\.)*)"', disposition))
        params.update(re.findall(r';\s*([\w*]+)=([^";\s]+)', disposition))
        if "name" not in params:
            raise Refusal("Malformed multipart body: part without a name.")
        if "filename" in params:
            files.append((params["name"], params["filename"], headers.get("content-type", ""), content))
        else:
            fields.append((params["name"], content.decode("utf-8", "replace")))
    return fields, files


def _list_field(values: list[Any]) -> list[str]:
    # Lists arrive as repeated form fields, as a JSON array, or as one JSON-encoded string.
    out: list[str] = []
    for value in values:
        if isinstance(value, str) and value.strip().startswith("["):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out.extend(str(v) for v in value) if isinstance(value, list) else out.append(str(value))
    return out


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def _decode_file_data(value: Any) -> bytes:
    if not isinstance(value, str):
        raise Refusal("file_data must be a base64 string.")
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=False)
    except (binascii.Error, ValueError):
        raise Refusal("file_data is not valid base64.") from None


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
        self.record = RecordedRequest(method, url.path, parse_qs(url.query), dict(self.headers.items()),
                                      trace_id=self.trace_id, client_port=self.client_address[1])
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
            problem = (emulator.credentials_problem(self.headers)
                       or emulator.signature_problem(self.headers, None))
            if problem:
                raise Refusal(problem, 401)
            document_id = route.group("id")
            if document_id is None and method == "POST":
                return self._process(body)
            if body is None:
                raise Refusal("Request body too large.", 400)
            problem = emulator.signature_problem(self.headers, [])
            if problem:
                raise Refusal(problem, 401)
            if document_id is None and method == "GET":
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
            self.record.files = [{"field": f, "file_name": n, "content_type": t, "size": len(d)}
                                 for f, n, t, d in files]
            values: dict[str, list[str]] = {}
            for name, value in form:
                values.setdefault(name, []).append(value)
            upload = _Upload(
                file_name=(values.get("file_name") or [""])[0],
                external_id=(values.get("external_id") or [None])[0],
                categories=_list_field(values.get("categories", [])),
                tags=_list_field(values.get("tags", [])),
                auto_delete=_flag((values.get("auto_delete") or [""])[0]),
                boost_mode=_flag((values.get("boost_mode") or [""])[0]),
                signed_fields=form,
            )
            upload.external_id = upload.external_id or None
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
                categories=_list_field([payload["categories"]] if "categories" in payload else []),
                tags=_list_field([payload["tags"]] if "tags" in payload else []),
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
        body = fault.body if fault.body is not None else _DEFAULT_FAULT_BODIES.get(
            fault.status, {"status": "fail", "error": f"Request failed (emulated HTTP {fault.status})."})
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        self._send(fault.status, body, headers)


# ------------------------------------------------------------------------------------ command


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Run the local Veryfi API EMULATOR (not Veryfi).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    parser.add_argument("--username", default=DEFAULT_USERNAME)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--client-secret", default=None)
    parser.add_argument("--strict-signatures", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each process call")
    args = parser.parse_args(argv)
    emulator = VeryfiEmulator(args.host, args.port, args.client_id, args.username, args.api_key,
                              client_secret=args.client_secret, strict_signatures=args.strict_signatures)
    emulator.faults.latency = args.latency
    emulator.start()
    print("Veryfi API EMULATOR (local stand-in, not the real Veryfi service)")
    print(f"  base URL:      {emulator.base_url}")
    print(f"  documents:     {emulator.documents_url}")
    print(f"  CLIENT-ID:     {emulator.client_id}")
    print(f"  username:      {emulator.username}")
    print(f"  API key:       {emulator.api_key}")
    if emulator.client_secret:
        print(f"  client secret: {emulator.client_secret}"
              f" ({'strict' if emulator.strict_signatures else 'shape-checked'} signatures)")
    print("Press Ctrl+C to stop.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

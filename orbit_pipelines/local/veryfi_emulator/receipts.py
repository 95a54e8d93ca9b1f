"""Reading receipt facts out of text; plausible receipt text for images; the category guess."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Optional

CENT = Decimal("0.01")

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
_INVOICE = re.compile(r"\b(?:receipt|invoice|order|check)\s*(?:no\.?|number|#)\s*[:#]?\s*([A-Za-z0-9-]+)", re.I)
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
            assert price is not None  # every pattern captures a price, a total or both
            total = (quantity * price).quantize(CENT, rounding=ROUND_HALF_UP)
        if price is None:
            price = (total / quantity).quantize(CENT, rounding=ROUND_HALF_UP) if quantity else total
        return {
            "description": parts["desc"].strip(" .:-\t"),
            "quantity": quantity,
            "price": price,
            "total": total,
            "text": line,
        }
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
        if not facts.items and (phone := _PHONE.search(line)) and facts.phone is None:
            facts.phone = phone.group(0)
            continue
        if not facts.items and not invoice and len(facts.address_lines) < 2 and re.search(r"\d", line):
            facts.address_lines.append(line)
    if facts.subtotal is None and facts.items:
        facts.subtotal = sum((item["total"] for item in facts.items), Decimal(0))
    if facts.total is None and facts.subtotal is not None:
        facts.total = facts.subtotal + (facts.tax or 0) + (facts.tip or 0) - (facts.discount or 0)
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
    lines += [
        f"SUBTOTAL {subtotal:.2f}",
        f"TAX {rate}% {tax}",
        f"TOTAL {subtotal + tax:.2f}",
        f"VISA ***{rng.randint(1000, 9999)}",
    ]
    return "\n".join(lines) + "\n"


def _category(facts: ReceiptFacts) -> tuple[str, Optional[str], str]:
    """(category, vendor type, line item type) guessed from keywords, as Veryfi's classifier would."""
    haystack = f"{facts.vendor_raw or ''}\n{facts.text[:400]}".lower()
    rules = (
        (
            ("cafe", "coffee", "diner", "grill", "restaurant", "bakery", "bistro", "pizza"),
            ("Meals & Entertainment", "restaurant", "food"),
        ),
        (("fuel", "gas station", "petrol", "unleaded"), ("Fuel", "gas station", "fuel")),
        (("hotel", "inn", "motel", "room night"), ("Lodging", "hotel", "service")),
        (("taxi", "airline", "rail", "fare"), ("Travel", "transportation", "service")),
        (("office", "stationer", "paper", "toner"), ("Office Supplies & Software", "office supplies", "product")),
        (("pharmacy", "chemist", "clinic"), ("Medical", "pharmacy", "product")),
        (("market", "grocery", "supermarket"), ("Groceries", "grocery", "food")),
        (("hardware", "tools", "lumber"), ("Job Supplies", "hardware store", "product")),
    )
    for words, result in rules:
        # Whole words only: "inn" must not fire on "dinner", nor "fare" on "welfare".
        if re.search(r"\b(?:" + "|".join(map(re.escape, words)) + r")\b", haystack):
            return result
    return ("Job Supplies", None, "product")

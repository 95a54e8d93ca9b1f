"""Sample receipts (text, PDF, PNG) for demos and tests, written with the standard library only.

The text layout is the one the local Veryfi emulator reads back (vendor on the first line, a
date line, "<description> <qty> x <price>" or "<description> <amount>" items, SUBTOTAL/TAX/TOTAL),
so each sample yields its own vendor, line items and totals. Every file is kept above Veryfi's
250-byte minimum.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import date as date_type
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Iterable, Sequence, Union

MIN_FILE_BYTES = 250
CENT = Decimal("0.01")

LineSpec = tuple[str, Union[int, float, str, Decimal], Union[int, float, str, Decimal]]
_FOOTER = (
    "Thank you for your visit!",
    "Please keep this receipt for your records",
    "Returns accepted within thirty days with receipt",
    "Customer service: see our website",
)


@dataclass(frozen=True)
class Receipt:
    vendor: str
    date: datetime
    currency: str
    tax_rate: Decimal
    lines: tuple[tuple[str, Decimal, Decimal], ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    text: str

    @property
    def text_lines(self) -> list[str]:
        return self.text.splitlines()


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _as_datetime(value: Union[datetime, date_type, str]) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date_type):
        return datetime(value.year, value.month, value.day, 12, 0)
    return datetime.fromisoformat(value)


def _plain_number(value: Decimal) -> str:
    # "8.875" and "2", never "8.87500" or "2E+1".
    return format(value.normalize(), "f")


def build_receipt(
    vendor: str,
    date: Union[datetime, date_type, str],
    lines: Iterable[LineSpec],
    tax_rate: Union[float, str, Decimal] = Decimal("0.08"),
    currency: str = "USD",
    *,
    address: str = "100 Main Street, Springfield",
    receipt_number: int = 1001,
) -> Receipt:
    """Lay out a receipt and compute its totals. ``tax_rate`` is a fraction: 0.08 means 8 %."""
    when = _as_datetime(date)
    rate = Decimal(str(tax_rate))
    items = tuple((desc, Decimal(str(qty)), _money(Decimal(str(price)))) for desc, qty, price in lines)
    if not items:
        raise ValueError("a receipt needs at least one line")
    subtotal = _money(sum((qty * price for _, qty, price in items), Decimal(0)))
    tax = _money(subtotal * rate)
    total = subtotal + tax

    text_lines = [vendor, address, f"Date: {when:%Y-%m-%d %H:%M:%S}", f"Currency: {currency}"]
    for desc, qty, price in items:
        if qty == 1:
            text_lines.append(f"{desc} {price}")
        else:
            text_lines.append(f"{desc} {_plain_number(qty)} x {price}")
    text_lines += [
        f"SUBTOTAL {subtotal}",
        f"TAX {_plain_number(rate * 100)}% {tax}",
        f"TOTAL {total}",
        f"Receipt no. {receipt_number}",
    ]
    footer = iter(_FOOTER * 4)
    # The footer carries no amounts, so padding never changes what the emulator extracts.
    while len("\n".join(text_lines).encode("utf-8")) < MIN_FILE_BYTES + 50:
        text_lines.append(next(footer))
    return Receipt(vendor, when, currency, rate, items, subtotal, tax, total, "\n".join(text_lines) + "\n")


def write_text_receipt(
    path: Union[str, Path],
    vendor: str,
    date: Union[datetime, date_type, str],
    lines: Sequence[LineSpec],
    tax_rate: Union[float, str, Decimal] = Decimal("0.08"),
    currency: str = "USD",
    **layout,
) -> Path:
    path = Path(path)
    receipt = build_receipt(vendor, date, lines, tax_rate, currency, **layout)
    path.write_text(receipt.text, encoding="utf-8")
    return path


def _pdf_string(text: str) -> bytes:
    # Helvetica uses WinAnsi (cp1252); characters outside it become "?".
    raw = text.encode("cp1252", errors="replace")
    return b"(" + re.sub(rb"([\\()])", rb"\\\1", raw) + b")"


def pdf_bytes(lines: Sequence[str], *, compress: bool = False) -> bytes:
    """A one-page PDF 1.4 showing ``lines`` in Helvetica, one Tj per line, with a correct xref."""
    content = b"BT\n/F1 11 Tf\n14 TL\n50 800 Td\n"
    content += b"".join(_pdf_string(line) + b" Tj T*\n" for line in lines)
    content += b"ET\n"
    stream_dict = f"<< /Length {{length}}{' /Filter /FlateDecode' if compress else ''} >>"
    if compress:
        content = zlib.compress(content)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        stream_dict.format(length=len(content)).encode("ascii") + b"\nstream\n" + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode("ascii") + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode("ascii")
    out += b"".join(f"{offset:010d} 00000 n \n".encode("ascii") for offset in offsets)
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n").encode("ascii")
    return bytes(out)


def write_pdf_receipt(
    path: Union[str, Path],
    vendor: str,
    date: Union[datetime, date_type, str],
    lines: Sequence[LineSpec],
    tax_rate: Union[float, str, Decimal] = Decimal("0.08"),
    currency: str = "USD",
    *,
    compress: bool = False,
    **layout,
) -> Path:
    path = Path(path)
    receipt = build_receipt(vendor, date, lines, tax_rate, currency, **layout)
    path.write_bytes(pdf_bytes(receipt.text_lines, compress=compress))
    return path


def png_bytes(seed: int, width: int = 24, height: int = 24) -> bytes:
    """An RGB PNG of seeded noise: valid, tiny, and distinct per seed (noise does not compress)."""
    rng = random.Random(seed)
    rows = b"".join(b"\x00" + bytes(rng.getrandbits(8) for _ in range(width * 3)) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b"")
    if len(data) < MIN_FILE_BYTES:
        raise ValueError("image too small for Veryfi; use a larger width/height")
    return data


def write_png(path: Union[str, Path], seed: int, width: int = 24, height: int = 24) -> Path:
    path = Path(path)
    path.write_bytes(png_bytes(seed, width, height))
    return path


_SAMPLE_VENDORS: tuple[tuple[str, str, str, str, tuple[LineSpec, ...]], ...] = (
    (
        "Blue Fern Cafe",
        "12 Market St, Springfield",
        "USD",
        "0.08875",
        (("Avocado Toast", 1, "12.50"), ("Flat White", 2, "6.00")),
    ),
    (
        "Harbor Hardware",
        "48 Dock Road, Portsmouth",
        "USD",
        "0.0725",
        (("Wood Screws 100pk", 1, "8.99"), ("Claw Hammer", 1, "24.50"), ("Work Gloves", 2, "7.25")),
    ),
    (
        "Cafe Lindenhof",
        "Lindenstrasse 5, Berlin",
        "EUR",
        "0.19",
        (("Apfelstrudel", 2, "4.80"), ("Cappuccino", 2, "3.60")),
    ),
    (
        "Cedar Lane Pharmacy",
        "7 Cedar Lane, Oxford",
        "GBP",
        "0.20",
        (("Vitamin C 60 tabs", 1, "6.49"), ("Plasters Assorted", 1, "3.25"), ("Hand Cream", 3, "2.99")),
    ),
    (
        "Lumen Office Supply",
        "300 King St W, Toronto",
        "CAD",
        "0.13",
        (("Printer Paper A4", 3, "9.99"), ("Gel Pens 12pk", 1, "14.75")),
    ),
    (
        "Maple Street Diner",
        "220 Maple St, Burlington",
        "USD",
        "0.06",
        (("Pancake Stack", 2, "9.50"), ("Bacon Side", 1, "4.25"), ("Orange Juice", 2, "3.75")),
    ),
    (
        "Northwind Books",
        "9 Quay Street, Galway",
        "EUR",
        "0.09",
        (("Field Guide to Birds", 1, "22.00"), ("Notebook", 2, "5.50")),
    ),
)


def write_sample_set(folder: Union[str, Path], n: int = 5) -> list[Path]:
    """Write ``n`` receipts with distinct vendors and totals: text and PDF, and a PNG every fifth."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 3, 1, 9, 0)
    paths: list[Path] = []
    for i in range(n):
        if i % 5 == 4:
            paths.append(write_png(folder / f"receipt_{i + 1:03d}_scan.png", seed=i))
            continue
        vendor, address, currency, rate, lines = _SAMPLE_VENDORS[i % len(_SAMPLE_VENDORS)]
        rounds = i // len(_SAMPLE_VENDORS)
        if rounds:
            # Later rounds reuse the vendors, so the name and quantities change to stay distinct.
            vendor = f"{vendor} #{rounds + 1}"
            lines = tuple((desc, int(qty) + rounds, price) for desc, qty, price in lines)
        when = start + timedelta(days=i, minutes=37 * i)
        slug = re.sub(r"[^a-z0-9]+", "_", vendor.lower()).strip("_")
        if i % 2:
            path = write_pdf_receipt(
                folder / f"receipt_{i + 1:03d}_{slug}.pdf",
                vendor,
                when,
                lines,
                rate,
                currency,
                address=address,
                receipt_number=1001 + i,
            )
        else:
            path = write_text_receipt(
                folder / f"receipt_{i + 1:03d}_{slug}.txt",
                vendor,
                when,
                lines,
                rate,
                currency,
                address=address,
                receipt_number=1001 + i,
            )
        paths.append(path)
    return paths


def write_unique_sample_set(folder: Union[str, Path], n: int, salt: str) -> list[Path]:
    """``write_sample_set`` whose files are unique to ``salt``: documents are keyed by their content,
    so a benchmark or a test that must pay for every document needs bytes nobody sent before."""
    paths = write_sample_set(folder, n)
    for i, path in enumerate(paths):
        with open(path, "ab") as handle:  # bytes after the end of a PDF or PNG leave it valid
            handle.write(f"\n{salt} {i}\n".encode())
    return paths

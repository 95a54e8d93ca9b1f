"""The v8 document the emulator answers with, built from the facts read off an upload."""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from orbit_pipelines.local.veryfi_emulator.limits import MAX_PAGES
from orbit_pipelines.local.veryfi_emulator.receipts import ReceiptFacts, _category
from orbit_pipelines.local.veryfi_emulator.records import _Upload


def _number(value: Optional[Decimal]) -> Optional[float]:
    return None if value is None else float(value)


def _display_name(raw: str) -> str:
    return raw.title() if raw.isupper() else raw


def v8_document(
    facts: ReceiptFacts,
    document_id: int,
    line_ids: list[int],
    upload: _Upload,
    kind: str,
    pages: int,
    duplicate_of: Optional[int],
    owner: str,
    now: datetime,
) -> dict[str, Any]:
    """The v8 document Veryfi returns for a processed upload; ``owner`` is the API username, ``now``
    the processing time in UTC (its created_date)."""
    category, vendor_type, item_type = _category(facts)
    if upload.categories:
        category = category if category in upload.categories else upload.categories[0]
    raw_vendor = facts.vendor_raw
    expires = int(time.time()) + 900
    signed = f"?Expires={expires}&Signature=emulated&Key-Pair-Id=EMULATOR"
    cdn = f"https://scdn.veryfi.invalid/emulator/{document_id}"
    tax_lines = []
    if facts.tax is not None:
        tax_lines.append(
            {
                "order": 0,
                "name": "Sales Tax" if facts.currency in ("USD", "CAD") else "VAT",
                "rate": _number(facts.tax_rate),
                "base": _number(facts.subtotal),
                "total": _number(facts.tax),
            }
        )
    payment = {
        "type": facts.payment_type,
        "card_number": facts.card_last4,
        "display_name": (
            f"{facts.payment_type.title()} ***{facts.card_last4}" if facts.payment_type and facts.card_last4 else None
        ),
        "terms": None,
    }
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
            "phone_number": facts.phone,
            "email": None,
            "web": None,
            "vat_number": None,
            "type": vendor_type,
            "category": vendor_type,
            "logo": None,
        },
        "bill_to": {
            "name": None,
            "address": None,
            "vat_number": None,
            "email": None,
            "phone_number": None,
            "parsed_address": None,
            "reg_number": None,
        },
        "ship_to": {"name": None, "address": None, "parsed_address": None},
        "line_items": [
            {
                "id": line_id,
                "order": order,
                "description": item["description"],
                "quantity": float(item["quantity"]),
                "price": _number(item["price"]),
                "total": _number(item["total"]),
                "sku": None,
                "tax": None,
                "tax_rate": None,
                "discount": None,
                "type": item_type,
                "unit_of_measure": None,
                "text": item["text"],
                "category": category,
                "tags": [],
            }
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
        "meta": {
            "owner": owner,
            "source": "api",
            "file_type": kind,
            "processed_pages": min(pages, MAX_PAGES),
            "total_pages": pages,
            "emulator": True,
        },
        "warnings": (["boost_mode: enrichment skipped"] if upload.boost_mode else []),
    }

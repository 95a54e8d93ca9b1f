"""Listing documents as ``GET documents/`` does: the filters Veryfi documents, then one page.

Veryfi's search parameters: ``q`` (a search term looked for in external_id, category, vendor.name,
notes, invoice_number, total and ocr_text), ``external_id``, ``tag`` (a tag name), and
``created__gt``/``created__gte``/``created__lt``/``created__lte`` (``YYYY-MM-DD HH:MM:SS``, sent
as ``YYYY-MM-DD+HH:MM:SS`` in the query). The official Python SDK's ``get_documents(created_gt=...)``
sends ``created__gt``, and so on. Several filters narrow together.
"""

from __future__ import annotations

import operator
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Optional

from orbit_pipelines.local.veryfi_emulator.limits import Refusal

Query = dict[str, list[str]]

# The fields Veryfi documents for ``q``, as paths into a v8 document.
SEARCHED_FIELDS = (
    ("external_id",),
    ("category",),
    ("vendor", "name"),
    ("notes",),
    ("invoice_number",),
    ("total",),
    ("ocr_text",),
)

CREATED_FILTERS: dict[str, Callable[[Any, Any], bool]] = {
    "created__gt": operator.gt,
    "created__gte": operator.ge,
    "created__lt": operator.lt,
    "created__lte": operator.le,
}

MAX_PAGE_SIZE = 100


def _first(query: Query, name: str) -> Optional[str]:
    values = query.get(name)
    return values[0] if values else None


def _field(document: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = document
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _searched_text(document: dict[str, Any]) -> str:
    values = (_field(document, path) for path in SEARCHED_FIELDS)
    return "\n".join(str(value) for value in values if value is not None).lower()


def parse_created(name: str, text: str) -> datetime:
    """A ``created__*`` bound as a naive UTC datetime (``created_date`` is UTC), or a 400 refusal."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Refusal(f"{name} must be a date and time as YYYY-MM-DD HH:MM:SS, not {text[:40]!r}.") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _page_numbers(query: Query) -> tuple[int, int]:
    try:
        page = int(_first(query, "page") or "1")
        page_size = int(_first(query, "page_size") or "50")
    except ValueError:
        raise Refusal("page and page_size must be integers.") from None
    if page < 1 or page_size < 1:
        raise Refusal("page and page_size must be positive.")
    return page, min(page_size, MAX_PAGE_SIZE)


def matching(documents: Iterable[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """The documents that pass every filter in ``query``, newest (highest id) first."""
    docs = sorted(documents, key=lambda d: d["id"], reverse=True)
    external_id = _first(query, "external_id")
    if external_id is not None:
        docs = [d for d in docs if d.get("external_id") == external_id]
    tag = _first(query, "tag")
    if tag is not None:
        docs = [d for d in docs if any(t.get("name") == tag for t in d.get("tags") or [])]
    for name, compare in CREATED_FILTERS.items():
        bound = _first(query, name)
        if bound is not None:
            moment = parse_created(name, bound)
            docs = [d for d in docs if compare(datetime.fromisoformat(d["created_date"]), moment)]
    q = (_first(query, "q") or "").strip().lower()
    if q:
        docs = [d for d in docs if q in _searched_text(d)]
    return docs


def list_page(documents: Iterable[dict[str, Any]], query: Query) -> dict[str, Any]:
    """The answer to ``GET documents/?...``: one page of the matching documents and its meta."""
    page, page_size = _page_numbers(query)
    docs = matching(documents, query)
    total_pages = max(1, -(-len(docs) // page_size))
    return {
        "documents": docs[(page - 1) * page_size : page * page_size],
        "meta": {
            "page_number": page,
            "page_size": page_size,
            "total_pages": total_pages,
            "total_documents": len(docs),
        },
    }

"""Pydantic models of a Veryfi v8 document.

Veryfi answers with a large object in which most fields are often null and new fields appear
without notice, so every model keeps unknown fields (``extra="allow"``) and treats null, missing
and empty strings alike. What the project relies on is typed; a value of the wrong type is a
broken answer and fails loudly, naming the field.
"""

from __future__ import annotations

import copy
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import ErrorDetails

VERYFI_DATETIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


class VeryfiResponseError(ValueError):
    """The body is not a usable Veryfi document; ``fields`` holds the offending dotted paths."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()):
        super().__init__(message)
        self.fields = fields


def _blank_to_none(value: Any) -> Any:
    # Veryfi sometimes sends "" where it means "not found".
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _parse_veryfi_datetime(value: Any) -> Any:
    value = _blank_to_none(value)
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        # Without this, pydantic would read a number as a Unix timestamp and hide a broken answer.
        raise ValueError(f"expected a 'YYYY-MM-DD HH:MM:SS' string, got {type(value).__name__}")
    text = value.strip()
    for fmt in VERYFI_DATETIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a 'YYYY-MM-DD HH:MM:SS' string, got {text[:40]!r}") from None


def _reject_bool(value: Any) -> Any:
    # bool is an int to Python; a true/false amount is a broken answer, not the number 1.
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return _blank_to_none(value)


def _none_to_empty_list(value: Any) -> Any:
    return [] if value is None else value


# The documents table keeps amounts as NUMERIC(14, 2); no receipt or invoice comes near it.
MONEY_LIMIT = Decimal(10) ** 12


def _storable_amount(value: Optional[Decimal]) -> Optional[Decimal]:
    if value is not None and abs(value) >= MONEY_LIMIT:
        raise ValueError(f"amount {value:.3g} is out of range (at most 12 digits before the decimal point)")
    return value


Money = Annotated[Optional[Decimal], BeforeValidator(_reject_bool), AfterValidator(_storable_amount)]
VeryfiDateTime = Annotated[Optional[datetime], BeforeValidator(_parse_veryfi_datetime)]
Text = Annotated[Optional[str], BeforeValidator(_blank_to_none)]


class _VeryfiModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        # Numeric-looking identifiers (invoice numbers, SKUs, phone numbers) arrive as numbers at times.
        coerce_numbers_to_str=True,
        allow_inf_nan=False,
        populate_by_name=True,
    )


class VeryfiVendor(_VeryfiModel):
    name: Text = None
    raw_name: Text = None
    address: Text = None
    raw_address: Text = None
    phone_number: Text = None
    email: Text = None
    web: Text = None
    vat_number: Text = None
    type: Text = None
    category: Text = None
    logo: Text = None


class VeryfiLineItem(_VeryfiModel):
    id: Optional[int] = None
    order: Optional[int] = None
    description: Text = None
    quantity: Money = None
    price: Money = None
    total: Money = None
    sku: Text = None
    tax: Money = None
    tax_rate: Money = None
    discount: Money = None
    type: Text = None
    unit_of_measure: Text = None
    text: Text = None
    category: Text = None


class VeryfiTaxLine(_VeryfiModel):
    order: Optional[int] = None
    name: Text = None
    rate: Money = None
    base: Money = None
    total: Money = None


class VeryfiPayment(_VeryfiModel):
    type: Text = None
    card_number: Text = None
    display_name: Text = None
    terms: Text = None


class VeryfiMeta(_VeryfiModel):
    owner: Text = None
    source: Text = None
    processed_pages: Optional[int] = None
    total_pages: Optional[int] = None


class VeryfiDocument(_VeryfiModel):
    id: int
    external_id: Text = None
    created_date: VeryfiDateTime = None
    updated_date: VeryfiDateTime = None
    status: Text = None
    document_type: Text = None
    category: Text = None
    date: VeryfiDateTime = None
    due_date: VeryfiDateTime = None
    invoice_number: Text = None
    currency_code: Text = None
    subtotal: Money = None
    tax: Money = None
    tip: Money = None
    discount: Money = None
    total: Money = None
    tax_lines: list[VeryfiTaxLine] = Field(default_factory=list)
    payment: Optional[VeryfiPayment] = None
    vendor: VeryfiVendor = Field(default_factory=VeryfiVendor)
    bill_to: Optional[dict[str, Any]] = None
    ship_to: Optional[dict[str, Any]] = None
    line_items: list[VeryfiLineItem] = Field(default_factory=list)
    tags: list[Any] = Field(default_factory=list)
    notes: Text = None
    ocr_text: Optional[str] = None
    img_url: Text = None
    img_thumbnail_url: Text = None
    pdf_url: Text = None
    is_duplicate: Optional[bool] = None
    duplicate_of: Optional[int] = None
    is_document: Optional[bool] = None
    meta: VeryfiMeta = Field(default_factory=VeryfiMeta)
    warnings: list[Any] = Field(default_factory=list)

    @field_validator("tax_lines", "line_items", "tags", "warnings", mode="before")
    @classmethod
    def _null_list_is_empty(cls, value: Any) -> Any:
        return _none_to_empty_list(value)

    @field_validator("vendor", "meta", mode="before")
    @classmethod
    def _null_object_is_empty(cls, value: Any) -> Any:
        # Callers can then write doc.vendor.name without guarding against a null vendor.
        return {} if value is None else value


def _describe(error: ErrorDetails) -> tuple[str, str]:
    field = ".".join(str(part) for part in error["loc"]) or "<document>"
    shown = repr(error.get("input"))
    if len(shown) > 60:
        shown = shown[:57] + "..."
    detail = error["msg"] if error["type"] == "missing" else f"{error['msg']} (got {shown})"
    return field, detail


def parse_document(data: Any) -> VeryfiDocument:
    """Validate one decoded Veryfi document, raising VeryfiResponseError that names bad fields."""
    if not isinstance(data, dict):
        raise VeryfiResponseError(f"Veryfi document must be a JSON object, got {type(data).__name__}", ("<document>",))
    try:
        return VeryfiDocument.model_validate(data)
    except ValidationError as exc:
        described = [_describe(error) for error in exc.errors()]
        fields = tuple(dict.fromkeys(field for field, _ in described))
        summary = "; ".join(f"{field}: {detail}" for field, detail in described[:10])
        raise VeryfiResponseError(f"invalid Veryfi document: {summary}", fields) from None


# Enough passes for every broken field of a real answer; each pass nulls or drops at least one.
_SALVAGE_PASSES = 200


def _null_at(data: Any, loc: tuple, seen: set) -> tuple[str, Any]:
    """Null the value at `loc` (a pydantic error location) in `data`, or drop it from its list, or, when
    that was tried already, null its parent; returns what was done and the value it held."""
    path = [part for part in loc]
    # Walk down as far as the location exists (a union's error loc can name a member type after the field).
    parents: list[tuple[Any, Any]] = []
    node = data
    for part in path:
        if (
            isinstance(node, dict)
            and part in node
            or isinstance(node, list)
            and isinstance(part, int)
            and part < len(node)
        ):
            parents.append((node, part))
            node = node[part]
        else:
            break
    while parents:
        container, key = parents[-1]
        where = ".".join(str(p) for _, p in parents)
        if isinstance(container, list):
            value = container.pop(key)
            return f"{where}: dropped", value
        if (where, "null") not in seen:
            seen.add((where, "null"))
            value, container[key] = container[key], None
            return f"{where}: stored as null", value
        parents.pop()  # null is not allowed there either: go up
    raise VeryfiResponseError("the answer has no usable document", ("<document>",))


def salvage_document(data: Any) -> tuple[VeryfiDocument, list[str]]:
    """The document in a billed answer, keeping what validates: each field that does not is stored as
    null (or, in a list, dropped), with a warning naming the field and the value it had.

    VeryfiResponseError only when nothing usable is there: not an object, or no document id.
    """
    if not isinstance(data, dict):
        raise VeryfiResponseError(f"Veryfi document must be a JSON object, got {type(data).__name__}", ("<document>",))
    try:
        return VeryfiDocument.model_validate(data), []
    except ValidationError:
        pass  # salvaged on a copy: the answer itself is stored as it came
    work = copy.deepcopy(data)
    warnings: list[str] = []
    seen: set = set()
    for _ in range(_SALVAGE_PASSES):
        try:
            return VeryfiDocument.model_validate(work), warnings
        except ValidationError as exc:
            error = exc.errors()[0]
            field, detail = _describe(error)
            if error["loc"][:1] == ("id",):
                raise VeryfiResponseError(f"the answer has no usable document id: {field}: {detail}", ("id",)) from None
            done, _ = _null_at(work, tuple(error["loc"]), seen)
            warnings.append(f"{field}: {detail}; {done.split(': ', 1)[1]}")
    raise VeryfiResponseError("the answer has too many invalid fields to store", ("<document>",))

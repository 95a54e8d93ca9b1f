import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from orbit_pipelines.veryfi import VeryfiDocument, VeryfiResponseError, parse_document

# The example v8 answer of fixtures/veryfi-v8-receipt.example.json without its OCR text (OCR_TEXT below);
# reliability/test_bad_input.py imports it too. A test below keeps it equal to the fixture.
EXAMPLE_JSON = r"""
{
 "id": 987654321,
 "external_id": "order-42",
 "created_date": "2026-03-02 18:04:11",
 "updated_date": "2026-03-02 18:04:13",
 "status": "processed",
 "document_type": "receipt",
 "category": "Meals & Entertainment",
 "date": "2026-03-01 12:31:00",
 "due_date": null,
 "invoice_number": "10482",
 "currency_code": "USD",
 "subtotal": 24.5,
 "tax": 2.17,
 "tip": 4.0,
 "discount": null,
 "total": 30.67,
 "tax_lines": [
  {
   "order": 0,
   "name": "Sales Tax",
   "rate": 8.875,
   "base": 24.5,
   "total": 2.17
  }
 ],
 "payment": {
  "type": "visa",
  "card_number": "4242",
  "display_name": "Visa ***4242",
  "terms": null
 },
 "vendor": {
  "name": "Blue Fern Cafe",
  "raw_name": "BLUE FERN CAFE",
  "address": "12 Market St, Springfield, IL 62701",
  "raw_address": "12 MARKET ST\nSPRINGFIELD IL",
  "phone_number": "217-555-0134",
  "email": null,
  "web": null,
  "vat_number": null,
  "type": "cafe",
  "category": "cafe",
  "logo": null
 },
 "bill_to": {
  "name": null,
  "address": null,
  "vat_number": null,
  "email": null,
  "phone_number": null,
  "parsed_address": null,
  "reg_number": null
 },
 "ship_to": {
  "name": null,
  "address": null,
  "parsed_address": null
 },
 "line_items": [
  {
   "id": 5100001,
   "order": 0,
   "description": "Avocado Toast",
   "quantity": 1.0,
   "price": 12.5,
   "total": 12.5,
   "sku": null,
   "tax": null,
   "tax_rate": null,
   "discount": null,
   "type": "food",
   "unit_of_measure": null,
   "text": "1 Avocado Toast\t12.50",
   "category": "Meals & Entertainment",
   "tags": []
  },
  {
   "id": 5100002,
   "order": 1,
   "description": "Flat White",
   "quantity": 2.0,
   "price": 6.0,
   "total": 12.0,
   "sku": null,
   "tax": null,
   "tax_rate": null,
   "discount": null,
   "type": "food",
   "unit_of_measure": null,
   "text": "2 Flat White @ 6.00\t12.00",
   "category": "Meals & Entertainment",
   "tags": []
  }
 ],
 "tags": [],
 "notes": null,
 "ocr_text": null,
 "img_file_name": "987654321.jpg",
 "img_url": "https://scdn.veryfi.test/receipts/abc/987654321.jpg?Expires=1772474653&Signature=x&Key-Pair-Id=y",
 "img_thumbnail_url": "https://scdn.veryfi.test/receipts/abc/thumbnail.jpg?Expires=1772474653&Signature=x&Key-Pair-Id=y",
 "pdf_url": "https://scdn.veryfi.test/receipts/abc/987654321.pdf?Expires=1772474653&Signature=x&Key-Pair-Id=y",
 "is_duplicate": false,
 "duplicate_of": null,
 "is_document": true,
 "img_blur": false,
 "is_money_in": false,
 "meta": {
  "owner": "acme_api",
  "source": "api",
  "processed_pages": 1,
  "total_pages": 1
 },
 "warnings": []
}
"""
OCR_TEXT = (
    "BLUE FERN CAFE\n"
    "12 MARKET ST\n"
    "SPRINGFIELD IL\n"
    "03/01/2026 12:31 PM\n"
    "1 Avocado Toast\t12.50\n"
    "2 Flat White @ 6.00\t12.00\n"
    "SUBTOTAL\t24.50\n"
    "TAX 8.875%\t2.17\n"
    "TIP\t4.00\n"
    "TOTAL\t30.67\n"
    "VISA ***4242\n"
)
# The fixture lives in the repository, so this test never depends on a file outside it. Its origin: an
# invented, realistic v8 answer written for this project with its Veryfi API notes (a byte-identical
# copy of the reference example those notes ship); not taken from Veryfi's SDKs or their test fixtures,
# so no third-party licence applies to it.
FIXTURE = Path(__file__).parent / "fixtures" / "veryfi-v8-receipt.example.json"


@pytest.fixture
def example() -> dict:
    return {**json.loads(EXAMPLE_JSON), "ocr_text": OCR_TEXT}


def test_embedded_example_matches_the_fixture(example):
    assert example == json.loads(FIXTURE.read_text(encoding="utf-8"))


def test_reference_example_parses_with_its_totals(example):
    doc = parse_document(example)
    assert (doc.subtotal, doc.tax, doc.tip, doc.total) == (
        Decimal("24.5"),
        Decimal("2.17"),
        Decimal("4.0"),
        Decimal("30.67"),
    )
    assert doc.discount is None


def test_reference_example_parses_vendor_and_identity(example):
    doc = parse_document(example)
    assert doc.id == 987654321
    assert doc.external_id == "order-42"
    assert doc.vendor.name == "Blue Fern Cafe"
    assert doc.vendor.address == "12 Market St, Springfield, IL 62701"
    assert doc.currency_code == "USD"


def test_reference_example_date_becomes_a_datetime(example):
    assert parse_document(example).date == datetime(2026, 3, 1, 12, 31)


def test_reference_example_line_items_keep_quantities_and_prices(example):
    items = parse_document(example).line_items
    assert [(i.description, i.quantity, i.price, i.total) for i in items] == [
        ("Avocado Toast", Decimal("1"), Decimal("12.5"), Decimal("12.5")),
        ("Flat White", Decimal("2"), Decimal("6"), Decimal("12")),
    ]


def test_unknown_fields_are_kept_rather_than_dropped(example):
    doc = parse_document({**example, "brand_new_field": {"x": 1}})
    assert doc.model_extra["brand_new_field"] == {"x": 1}
    assert doc.model_extra["img_blur"] is False


def test_document_of_nulls_parses_with_empty_collections():
    doc = parse_document(
        {
            "id": 1,
            "external_id": None,
            "date": None,
            "total": None,
            "subtotal": None,
            "tax": None,
            "vendor": None,
            "line_items": None,
            "tax_lines": None,
            "meta": None,
            "warnings": None,
            "payment": None,
            "tags": None,
            "ocr_text": None,
            "is_duplicate": None,
        }
    )
    assert doc.total is None and doc.date is None
    assert doc.vendor.name is None
    assert doc.line_items == [] and doc.warnings == [] and doc.tags == []
    assert doc.meta.total_pages is None


def test_an_async_answer_with_only_an_id_parses():
    assert parse_document({"id": 55}).id == 55


def test_empty_strings_are_read_as_missing():
    doc = parse_document({"id": 1, "date": "", "total": "", "vendor": {"name": ""}})
    assert (doc.date, doc.total, doc.vendor.name) == (None, None, None)


def test_numeric_identifiers_are_accepted_as_text():
    doc = parse_document({"id": 1, "invoice_number": 10482, "line_items": [{"sku": 777}]})
    assert doc.invoice_number == "10482" and doc.line_items[0].sku == "777"


def test_wrong_type_for_an_amount_names_the_field():
    with pytest.raises(VeryfiResponseError, match=r"\btotal\b") as caught:
        parse_document({"id": 1, "total": "thirty"})
    assert caught.value.fields == ("total",)


def test_boolean_amount_is_rejected_naming_the_nested_field():
    with pytest.raises(VeryfiResponseError) as caught:
        parse_document({"id": 1, "line_items": [{"price": 1.0}, {"price": True}]})
    assert caught.value.fields == ("line_items.1.price",)


def test_number_where_a_date_belongs_is_rejected_naming_the_field():
    with pytest.raises(VeryfiResponseError, match=r"\bdate\b"):
        parse_document({"id": 1, "date": 1700000000})


def test_unparseable_date_text_is_rejected_naming_the_field():
    with pytest.raises(VeryfiResponseError, match=r"\bdate\b"):
        parse_document({"id": 1, "date": "yesterday-ish"})


def test_missing_id_is_named():
    with pytest.raises(VeryfiResponseError, match=r"\bid\b") as caught:
        parse_document({"total": 3.5})
    assert caught.value.fields == ("id",)


@pytest.mark.parametrize("body", [[{"id": 1}], "document", None, 42])
def test_a_body_that_is_not_an_object_is_rejected(body):
    with pytest.raises(VeryfiResponseError, match="JSON object"):
        parse_document(body)


def test_response_error_is_a_value_error():
    assert issubclass(VeryfiResponseError, ValueError)


def test_documents_are_pydantic_models_that_round_trip():
    doc = parse_document({"id": 3, "total": 9.99, "date": "2026-01-02 03:04:05"})
    assert VeryfiDocument.model_validate(doc.model_dump()) == doc

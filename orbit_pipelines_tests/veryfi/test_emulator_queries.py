"""The emulator's GET one, DELETE and list: Veryfi's search filters, and signatures on what was sent."""

import time
from datetime import datetime

import pytest
import requests

from orbit_pipelines.local.sample_documents import write_png, write_sample_set
from orbit_pipelines.local.veryfi_emulator.search import matching
from orbit_pipelines.veryfi import VeryfiRejected, sign_request

from .conftest import SECRET

# ------------------------------------------------------------------------------ get, delete


def test_get_returns_the_stored_document(client, receipt_path):
    processed = client.process_file(receipt_path, external_id="g-1")
    fetched = client.get_document(processed.id)
    assert (fetched.status, fetched.raw) == (200, processed.raw)


def test_delete_removes_the_document(client, receipt_path):
    document_id = client.process_file(receipt_path).id
    assert client.delete_document(document_id) == {"status": "ok"}
    with pytest.raises(VeryfiRejected) as caught:
        client.get_document(document_id)
    assert caught.value.status == 404


def _signed_delete(emulator, document_id: int, signed_fields: dict):
    timestamp = int(time.time() * 1000)
    headers = {
        **emulator.auth_headers(),
        "X-Veryfi-Request-Timestamp": str(timestamp),
        "X-Veryfi-Request-Signature": sign_request(SECRET, timestamp, signed_fields),
    }
    url = f"{emulator.documents_url}{document_id}/"
    return requests.delete(url, headers=headers, json={"id": document_id}, timeout=10)


def test_strict_mode_accepts_a_delete_signed_over_the_json_body_it_carries(signing_emulator, make_client, receipt_path):
    document_id = make_client(signing_emulator).process_file(receipt_path).id
    response = _signed_delete(signing_emulator, document_id, {"id": document_id})
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert signing_emulator.document(document_id) is None


def test_strict_mode_refuses_a_delete_whose_signature_leaves_out_its_body(signing_emulator, make_client, receipt_path):
    document_id = make_client(signing_emulator).process_file(receipt_path).id
    response = _signed_delete(signing_emulator, document_id, {})
    assert response.status_code == 401 and "does not match" in response.json()["error"]
    assert signing_emulator.document(document_id) is not None


# ------------------------------------------------------------------------------------- list


def test_list_pages_through_documents_newest_first(client, tmp_path):
    ids = [client.process_file(p).id for p in write_sample_set(tmp_path, 5)]
    first, second = client.list_documents(page=1, page_size=3), client.list_documents(page=2, page_size=3)
    assert [d.id for d in first.documents + second.documents] == ids[::-1]
    assert first.meta["total_pages"] == 2 and first.meta["total_documents"] == 5


def test_list_filters_by_query_text(client, tmp_path):
    for path in write_sample_set(tmp_path, 4):
        client.process_file(path)
    assert [d.vendor.name for d in client.list_documents(q="lindenhof").documents] == ["Cafe Lindenhof"]


def test_list_filters_by_external_id(client, receipt_path, tmp_path):
    client.process_file(receipt_path, external_id="keep")
    client.process_file(write_png(tmp_path / "x.png", 1), external_id="other")
    assert [d.external_id for d in client.list_documents(external_id="keep").documents] == ["keep"]


def _doc(document_id: int, **fields) -> dict:
    """A v8 document with nothing in the fields a search reads, but for ``fields``."""
    empty = {"external_id": None, "category": None, "vendor": {"name": None, "address": None}, "notes": None}
    more = {"invoice_number": None, "total": None, "ocr_text": None, "tags": [], "line_items": []}
    return {"id": document_id, "created_date": "2026-03-01 12:00:00", **empty, **more, **fields}


@pytest.mark.parametrize(
    ("q", "fields"),
    [
        ("needle", {"external_id": "po-NEEDLE-7"}),
        ("needle", {"category": "Needlework"}),
        ("needle", {"vendor": {"name": "Needle & Thread", "address": None}}),
        ("needle", {"notes": "paid for the needles"}),
        ("needle", {"invoice_number": "INV-NEEDLE-1"}),
        ("41.59", {"total": 341.59}),
        ("needle", {"ocr_text": "PINE NEEDLE TEA 2.00"}),
    ],
    ids=["external_id", "category", "vendor.name", "notes", "invoice_number", "total", "ocr_text"],
)
def test_q_searches_each_field_veryfi_documents_for_it_ignoring_case(q, fields):
    assert [d["id"] for d in matching([_doc(1), _doc(2, **fields)], {"q": [q]})] == [2]


def test_q_does_not_search_fields_outside_the_documented_ones():
    elsewhere = _doc(2, vendor={"name": "Corner Shop", "address": "1 Needle Lane"})
    assert matching([elsewhere], {"q": ["needle"]}) == []


def _list(emulator, **params) -> list[int]:
    response = requests.get(emulator.documents_url, headers=emulator.auth_headers(), params=params, timeout=10)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["documents"]]


def test_tag_filter_keeps_the_documents_with_that_tag(emulator, client, receipt_path, tmp_path):
    march = client.process_file(receipt_path, tags=["march", "travel"]).id
    client.process_file(write_png(tmp_path / "x.png", 1), tags=["april"])
    client.process_file(write_png(tmp_path / "y.png", 2))
    assert _list(emulator, tag="march") == [march]


@pytest.fixture
def dated_ids(emulator, client, tmp_path):
    """Three documents processed on 1, 2 and 3 March 2026 at 10:00 (UTC), oldest first."""
    ids = []
    for day in (1, 2, 3):
        emulator.clock = lambda day=day: datetime(2026, 3, day, 10, 0, 0)
        ids.append(client.process_file(write_png(tmp_path / f"{day}.png", day)).id)
    return ids


@pytest.mark.parametrize(
    ("name", "expected"),
    [("created__gt", [2]), ("created__gte", [2, 1]), ("created__lt", [0]), ("created__lte", [1, 0])],
)
def test_created_filters_compare_with_the_created_date(emulator, dated_ids, name, expected):
    assert _list(emulator, **{name: "2026-03-02 10:00:00"}) == [dated_ids[i] for i in expected]


def test_created_bounds_together_keep_the_documents_between(emulator, dated_ids):
    between = _list(emulator, created__gt="2026-03-01 10:00:00", created__lt="2026-03-03")
    assert between == [dated_ids[1]]


def test_created_bound_that_is_not_a_date_is_refused_with_400(emulator):
    response = requests.get(
        emulator.documents_url, headers=emulator.auth_headers(), params={"created__gt": "last week"}, timeout=10
    )
    assert response.status_code == 400 and "created__gt" in response.json()["error"]

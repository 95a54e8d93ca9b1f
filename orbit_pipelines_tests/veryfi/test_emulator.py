"""The local Veryfi emulator, driven over real HTTP: documents, refusals, storage, counting, faults."""

import base64
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest
import requests

from orbit_pipelines.local.sample_documents import (
    build_receipt,
    pdf_bytes,
    png_bytes,
    write_pdf_receipt,
    write_png,
    write_sample_set,
    write_text_receipt,
)
from orbit_pipelines.local.veryfi_emulator import MAX_FILE_BYTES
from orbit_pipelines.veryfi import (
    VeryfiBadResponse,
    VeryfiClient,
    VeryfiRejected,
    VeryfiServerError,
    VeryfiTransportError,
    sign_request,
)

LINES = [("Avocado Toast", 1, "12.50"), ("Flat White", 2, "6.00")]


def _post(emulator, data: bytes, name: str = "receipt.txt", headers=None, **form):
    return requests.post(
        emulator.documents_url,
        headers=emulator.auth_headers() if headers is None else headers,
        files={"file": (name, data)},
        data={"file_name": name, **form},
        timeout=10,
    )


def _assert_refused(response, status, fragment):
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "fail"
    assert fragment in body["error"]


# ------------------------------------------------------------------------------ documents


def test_text_receipt_is_read_back_into_vendor_date_items_and_totals(client, receipt_path):
    expected = build_receipt("Blue Fern Cafe", datetime(2026, 3, 1, 12, 31), LINES, "0.08875")
    doc = client.process_file(receipt_path).document
    assert doc.vendor.name == "Blue Fern Cafe"
    assert doc.date == datetime(2026, 3, 1, 12, 31)
    assert (doc.subtotal, doc.tax, doc.total) == (expected.subtotal, expected.tax, expected.total)
    assert [(i.description, i.quantity, i.price, i.total) for i in doc.line_items] == [
        ("Avocado Toast", 1, Decimal("12.50"), Decimal("12.50")),
        ("Flat White", 2, Decimal("6.00"), Decimal("12.00")),
    ]
    assert doc.currency_code == "USD" and doc.document_type == "receipt"


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "flate"])
def test_pdf_receipt_is_read_back_from_its_content_stream(client, tmp_path, compress):
    path = write_pdf_receipt(
        tmp_path / "r.pdf",
        "Cafe Lindenhof",
        "2026-03-03 10:14:00",
        [("Apfelstrudel", 2, "4.80")],
        "0.19",
        "EUR",
        compress=compress,
    )
    doc = client.process_file(path).document
    assert (doc.vendor.name, doc.currency_code, doc.total) == ("Cafe Lindenhof", "EUR", Decimal("11.42"))
    assert [i.description for i in doc.line_items] == ["Apfelstrudel"]
    assert doc.meta.total_pages == 1


def test_different_receipts_give_different_vendors_totals_and_line_items(client, tmp_path):
    docs = [client.process_file(p).document for p in write_sample_set(tmp_path, 5)]
    assert len({d.vendor.name for d in docs}) == 5
    assert len({d.total for d in docs}) == 5
    assert len({tuple(i.description for i in d.line_items) for d in docs}) == 5


def test_image_gets_a_plausible_document_derived_from_its_bytes(client, tmp_path):
    first = client.process_file(write_png(tmp_path / "a.png", seed=1)).document
    again = client.process_file(write_png(tmp_path / "b.png", seed=1)).document
    other = client.process_file(write_png(tmp_path / "c.png", seed=2)).document
    assert first.total > 0 and first.line_items and first.vendor.name
    assert (again.vendor.name, again.total) == (first.vendor.name, first.total)
    assert (other.vendor.name, other.total) != (first.vendor.name, first.total)


def test_same_bytes_uploaded_twice_are_flagged_as_a_duplicate(client, receipt_path):
    first = client.process_file(receipt_path).document
    second = client.process_file(receipt_path).document
    assert first.is_duplicate is False
    assert (second.is_duplicate, second.duplicate_of) == (True, first.id)


def test_external_id_is_echoed(client, receipt_path):
    assert client.process_file(receipt_path, external_id="order-42").document.external_id == "order-42"


@pytest.mark.parametrize("data_uri", [False, True], ids=["raw", "data-uri"])
def test_base64_json_upload_is_processed(emulator, receipt_path, data_uri):
    encoded = base64.b64encode(receipt_path.read_bytes()).decode()
    if data_uri:
        encoded = "data:text/plain;base64," + encoded
    response = requests.post(
        emulator.documents_url,
        headers=emulator.auth_headers(),
        timeout=10,
        json={"file_name": "r.txt", "file_data": encoded, "external_id": "b64"},
    )
    assert response.status_code == 201
    assert (response.json()["vendor"]["name"], response.json()["external_id"]) == ("Blue Fern Cafe", "b64")


def test_file_url_is_downloaded_and_processed(emulator, client, receipt_path):
    url = emulator.host_file("from-url.txt", receipt_path.read_bytes())
    assert client.process_url(url).document.vendor.name == "Blue Fern Cafe"


def test_file_url_that_cannot_be_downloaded_is_refused_with_400(emulator):
    response = requests.post(
        emulator.documents_url,
        headers=emulator.auth_headers(),
        timeout=10,
        json={"file_url": emulator.root_url + "_emulator/files/00/missing.pdf"},
    )
    _assert_refused(response, 400, "Could not download")


@pytest.mark.parametrize("field", ["categories", "tags"])
def test_a_null_list_in_a_json_upload_is_no_list(emulator, receipt_path, field):
    body = {"file_name": "r.txt", "file_data": base64.b64encode(receipt_path.read_bytes()).decode(), field: None}
    response = requests.post(emulator.documents_url, headers=emulator.auth_headers(), json=body, timeout=10)
    assert response.status_code == 201
    assert (response.json()["category"], response.json()["tags"]) == ("Meals & Entertainment", [])


def test_auto_delete_processes_but_does_not_keep_the_document(emulator, client, receipt_path):
    document_id = client.process_file(receipt_path, auto_delete=True).id
    assert emulator.document(document_id) is None
    assert emulator.paid_calls_for(None) == 1


# ------------------------------------------------------------------------------- refusals


def test_missing_credentials_are_refused_with_401(emulator, receipt_path):
    _assert_refused(_post(emulator, receipt_path.read_bytes(), headers={}), 401, "Not Authorized")


def test_wrong_api_key_is_refused_with_401(emulator, receipt_path):
    headers = {**emulator.auth_headers(), "AUTHORIZATION": f"apikey {emulator.username}:wrong"}
    _assert_refused(_post(emulator, receipt_path.read_bytes(), headers=headers), 401, "Not Authorized")


def test_wrong_client_id_is_refused_with_401(emulator):
    headers = {**emulator.auth_headers(), "CLIENT-ID": "someone-else"}
    _assert_refused(requests.get(emulator.documents_url, headers=headers, timeout=10), 401, "Not Authorized")


def test_signature_of_the_wrong_shape_is_refused_with_401(emulator):
    headers = {
        **emulator.auth_headers(),
        "X-Veryfi-Request-Timestamp": "1700000000000",
        "X-Veryfi-Request-Signature": "not-a-digest",
    }
    _assert_refused(requests.get(emulator.documents_url, headers=headers, timeout=10), 401, "Signature")


def test_well_formed_signature_is_accepted_without_strict_mode(emulator):
    headers = {
        **emulator.auth_headers(),
        "X-Veryfi-Request-Timestamp": "1700000000000",
        "X-Veryfi-Request-Signature": sign_request("any-secret", 1700000000000, {}),
    }
    assert requests.get(emulator.documents_url, headers=headers, timeout=10).status_code == 200


def test_strict_mode_refuses_a_client_signing_with_the_wrong_secret(signing_emulator, make_client, receipt_path):
    client = make_client(signing_emulator, client_secret="wrong-secret")
    with pytest.raises(VeryfiRejected) as caught:
        client.process_file(receipt_path)
    assert caught.value.status == 401 and "does not match" in caught.value.message


def test_strict_mode_refuses_unsigned_requests(signing_emulator, make_client, receipt_path):
    with pytest.raises(VeryfiRejected, match="signature required"):
        make_client(signing_emulator, client_secret=None).process_file(receipt_path)


def test_file_under_250_bytes_is_refused_with_400(emulator):
    _assert_refused(_post(emulator, b"Corner Shop\nTOTAL 1.00\n"), 400, "too small")


def test_file_over_20_mb_is_refused_with_400(client, tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as handle:
        handle.write(b"Huge Store\n")
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(VeryfiRejected) as caught:
        client.process_file(big)
    assert caught.value.status == 400 and "too large" in caught.value.message


def test_unknown_binary_content_is_refused_with_400(emulator):
    _assert_refused(_post(emulator, bytes(range(256)) * 4, "blob.bin.pdf"), 400, "Unsupported")


def test_truncated_png_is_refused_as_corrupt(emulator):
    _assert_refused(_post(emulator, png_bytes(3)[:-20], "scan.png"), 400, "Corrupt")


def test_pdf_without_an_end_marker_is_refused_as_corrupt(emulator):
    _assert_refused(_post(emulator, pdf_bytes(["Shop", "TOTAL 1.00"] * 20)[:-40], "r.pdf"), 400, "Corrupt")


def test_unsupported_extension_is_refused_with_400(emulator, receipt_path):
    _assert_refused(_post(emulator, receipt_path.read_bytes(), "setup.exe"), 400, "Unsupported file type")


def test_request_without_a_file_is_refused_with_400(emulator):
    response = requests.post(emulator.documents_url, headers=emulator.auth_headers(), json={}, timeout=10)
    _assert_refused(response, 400, "No file provided")


def test_unknown_path_is_404_and_wrong_method_is_405(emulator):
    headers = emulator.auth_headers()
    unknown = requests.get(emulator.base_url + "v8/partner/nothing/", headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert requests.put(emulator.documents_url, headers=headers, timeout=10).status_code == 405


def test_every_response_carries_a_trace_id(emulator, receipt_path):
    refused = _post(emulator, receipt_path.read_bytes(), headers={})
    listed = requests.get(emulator.documents_url, headers=emulator.auth_headers(), timeout=10)
    assert refused.headers["x-veryfi-trace-id"] != listed.headers["x-veryfi-trace-id"]


# ---------------------------------------------------------------------- counting and faults


def test_failed_attempts_are_counted_but_only_201s_are_paid(emulator, client, receipt_path):
    emulator.fail_next(2, 503)
    for _ in range(2):
        with pytest.raises(VeryfiServerError):
            client.process_file(receipt_path, external_id="doc-1")
    client.process_file(receipt_path, external_id="doc-1")
    assert (emulator.calls_for("doc-1"), emulator.paid_calls_for("doc-1")) == (3, 1)
    assert (emulator.total_process_calls, emulator.total_paid_calls) == (3, 1)


def test_refused_uploads_count_as_calls_but_are_not_paid(emulator):
    _post(emulator, b"tiny", external_id="small")
    assert (emulator.calls_for("small"), emulator.paid_calls_for("small")) == (1, 0)


def test_faults_only_hit_process_calls(emulator, client, receipt_path):
    document_id = client.process_file(receipt_path).id
    emulator.fail_next(1, 500)
    assert client.get_document(document_id).id == document_id
    assert client.list_documents().documents
    assert emulator.faults.pending == 1


def test_latency_is_added_to_each_process_call(emulator, client, receipt_path):
    emulator.faults.latency = 0.3
    started = time.monotonic()
    client.process_file(receipt_path)
    assert time.monotonic() - started >= 0.3


def test_seeded_fault_rate_fails_a_repeatable_fraction_of_calls(emulator, client, receipt_path):
    def outcomes():
        emulator.set_fault_rate(0.5, 503, seed=7)
        results = []
        for _ in range(20):
            try:
                client.process_file(receipt_path)
                results.append("ok")
            except VeryfiServerError:
                results.append("503")
        return results

    first, second = outcomes(), outcomes()
    assert first == second
    assert 3 <= first.count("503") <= 17
    emulator.set_fault_rate(0)
    client.process_file(receipt_path)


def test_timed_out_call_is_still_processed_and_paid_after_the_client_gives_up(emulator, make_client, receipt_path):
    client = make_client(emulator, read_timeout=0.3)
    emulator.timeout_next(1, seconds=0.6)
    with pytest.raises(VeryfiTransportError):
        client.process_file(receipt_path, external_id="slow")
    deadline = time.monotonic() + 5
    while emulator.paid_calls_for("slow") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (emulator.calls_for("slow"), emulator.paid_calls_for("slow")) == (1, 1)
    assert len(emulator.documents) == 1


def test_dropped_connection_is_counted_but_not_paid(emulator, client, receipt_path):
    emulator.drop_next(1)
    with pytest.raises(VeryfiTransportError):
        client.process_file(receipt_path, external_id="dropped")
    assert (emulator.calls_for("dropped"), emulator.paid_calls_for("dropped")) == (1, 0)


def test_malformed_answer_is_paid_because_the_document_was_processed(emulator, client, receipt_path):
    emulator.malformed_next(1)
    with pytest.raises(VeryfiBadResponse):
        client.process_file(receipt_path, external_id="garbled")
    assert emulator.paid_calls_for("garbled") == 1
    assert len(emulator.documents) == 1


def test_faults_can_be_changed_while_requests_are_in_flight(emulator, client, receipt_path):
    emulator.faults.latency = 0.4
    worker = threading.Thread(target=client.process_file, args=(receipt_path,))
    worker.start()
    time.sleep(0.1)
    emulator.fail_next(1, 429, retry_after=1)  # queued for the next call, not the one in flight
    worker.join(5)
    assert emulator.total_paid_calls == 1 and emulator.faults.pending == 1


def test_32_concurrent_uploads_with_latency_are_each_answered_and_billed_once(emulator, receipt_path):
    # How fast they are served together is bench/documents.py's question; this one is that none is lost.
    emulator.faults.latency = 0.25

    def upload(i: int) -> int:
        with VeryfiClient(**emulator.client_kwargs(), read_timeout=30) as client:
            return client.process_file(receipt_path, external_id=f"c-{i}").id

    with ThreadPoolExecutor(32) as pool:
        ids = list(pool.map(upload, range(32)))
    assert len(set(ids)) == 32
    assert [emulator.paid_calls_for(f"c-{i}") for i in range(32)] == [1] * 32


# ------------------------------------------------------------------------- samples and CLI


def test_every_sample_is_above_the_250_byte_minimum_and_distinct(tmp_path):
    paths = write_sample_set(tmp_path, 10)
    contents = [p.read_bytes() for p in paths]
    assert all(len(c) >= 250 for c in contents)
    assert len(set(contents)) == 10
    assert {p.suffix for p in paths} == {".txt", ".pdf", ".png"}


def test_standalone_command_prints_its_url_and_credentials():
    process = subprocess.Popen(
        [sys.executable, "-m", "orbit_pipelines.local.veryfi_emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(6)]
    finally:
        process.terminate()
        process.wait(10)
    text = "".join(lines)
    assert "EMULATOR" in text and "/api/" in text
    url = next(line.split()[-1] for line in lines if "base URL" in line)
    assert url.startswith("http://127.0.0.1:") and not url.startswith("http://127.0.0.1:0/")
    assert "vrf-emulator-client" in text and "emulator-api-key" in text


def test_held_calls_wait_in_flight_unpaid_until_released_then_answer(emulator, client, tmp_path):
    paths = [
        write_text_receipt(tmp_path / f"r{n}.txt", f"Shop {n}", "2026-03-01", [("Tea", 1, "2.50")]) for n in (1, 2)
    ]
    emulator.faults.hold()
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [pool.submit(client.process_file, str(p), p.name, external_id=p.name) for p in paths]
        deadline = time.monotonic() + 5
        while emulator.faults.held < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert emulator.faults.held == 2 and emulator.total_process_calls == 2
        time.sleep(0.2)
        assert emulator.total_paid_calls == 0 and not any(a.done() for a in answers)
        emulator.faults.release()
        assert {a.result(timeout=5).document.external_id for a in answers} == {"r1.txt", "r2.txt"}
    assert emulator.faults.held == 0 and emulator.total_paid_calls == 2
    client.process_file(str(paths[0]), paths[0].name)  # released: later calls are not held

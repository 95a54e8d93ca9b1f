"""Contract: the official Veryfi Python SDK (``veryfi`` 5.1.0, a test-only dependency) against the emulator.

The SDK runs unchanged over real HTTP, pointed at the emulator by its own ``base_url``. Every call is
signed (the SDK has the client secret) and the emulator is strict: it recomputes each signature, so
every test here also shows that the emulator accepts what a real client sends to the real API.
"""

from datetime import datetime

import pytest
import veryfi
from veryfi.errors import ResourceNotFound, UnauthorizedAccessToken

from orbit_pipelines.local.sample_documents import write_png, write_sample_set, write_text_receipt
from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator
from orbit_pipelines.local.veryfi_emulator.emulator import utc_now

from .conftest import SECRET


@pytest.fixture(scope="module")
def strict_emulator():
    with VeryfiEmulator(client_secret=SECRET, strict_signatures=True) as running:
        yield running


@pytest.fixture
def emulator(strict_emulator):
    """The module's strict emulator, emptied for each test."""
    strict_emulator.reset()
    strict_emulator.clock = utc_now
    return strict_emulator


def _sdk(emulator: VeryfiEmulator, secret: str = SECRET) -> veryfi.Client:
    return veryfi.Client(
        client_id=emulator.client_id,
        client_secret=secret,
        username=emulator.username,
        api_key=emulator.api_key,
        base_url=emulator.base_url,
        timeout=10,
    )


@pytest.fixture
def sdk(emulator):
    client = _sdk(emulator)
    yield client
    client._session.close()


def test_sdk_calls_are_signed_and_the_strict_emulator_checks_them(emulator, sdk, receipt_path):
    sdk.process_document(str(receipt_path))
    wrong = _sdk(emulator, secret="not-the-secret")
    with pytest.raises(UnauthorizedAccessToken, match="does not match"):
        wrong.process_document(str(receipt_path))
    wrong._session.close()
    signed = [r.header("X-Veryfi-Request-Signature") for r in emulator.requests]
    assert all(signed) and [r.status for r in emulator.requests] == [201, 401]


def test_process_document_uploads_the_file_and_answers_with_what_it_reads(emulator, sdk, receipt_path):
    document = sdk.process_document(str(receipt_path), external_id="sdk-file")
    assert (document["vendor"]["name"], document["total"], document["external_id"]) == (
        "Blue Fern Cafe",
        26.67,
        "sdk-file",
    )
    assert emulator.paid_calls_for("sdk-file") == 1


def test_process_document_url_has_the_emulator_download_the_file(emulator, sdk, receipt_path):
    url = emulator.host_file("from-url.txt", receipt_path.read_bytes())
    document = sdk.process_document_url(file_url=url, external_id="sdk-url")
    assert (document["vendor"]["name"], document["external_id"]) == ("Blue Fern Cafe", "sdk-url")


def test_process_document_url_without_categories_sends_null_and_gets_the_category_read(emulator, sdk, receipt_path):
    document = sdk.process_document_url(file_url=emulator.host_file("r.txt", receipt_path.read_bytes()))
    assert emulator.last_request.json["categories"] is None
    assert document["category"] == "Meals & Entertainment"


def test_get_document_returns_the_processed_document(sdk, receipt_path):
    processed = sdk.process_document(str(receipt_path))
    assert sdk.get_document(processed["id"]) == processed


def test_get_documents_by_external_id_finds_only_that_document(sdk, receipt_path, tmp_path):
    kept = sdk.process_document(str(receipt_path), external_id="keep")
    sdk.process_document(str(write_png(tmp_path / "x.png", 1)), external_id="other")
    listed = sdk.get_documents(external_id="keep")
    assert [d["id"] for d in listed["documents"]] == [kept["id"]]


def test_get_documents_by_q_searches_the_vendor_name(sdk, tmp_path):
    for path in write_sample_set(tmp_path, 4):
        sdk.process_document(str(path))
    listed = sdk.get_documents(q="lindenhof")
    assert [d["vendor"]["name"] for d in listed["documents"]] == ["Cafe Lindenhof"]


def test_get_documents_by_q_searches_the_external_id(sdk, receipt_path, tmp_path):
    wanted = sdk.process_document(str(receipt_path), external_id="po-needle-7")
    sdk.process_document(str(write_png(tmp_path / "x.png", 1)), external_id="po-other-8")
    assert [d["id"] for d in sdk.get_documents(q="NEEDLE")["documents"]] == [wanted["id"]]


def test_get_documents_by_q_searches_the_category(sdk, receipt_path, tmp_path):
    cafe = sdk.process_document(str(receipt_path))
    hardware = write_text_receipt(
        tmp_path / "tools.txt", "Harbor Hardware", datetime(2026, 3, 4), [("Hammer", 1, "24")]
    )
    assert sdk.process_document(str(hardware))["category"] == "Job Supplies"
    assert [d["id"] for d in sdk.get_documents(q="entertainment")["documents"]] == [cafe["id"]]


def test_get_documents_by_tag_finds_the_tagged_documents(sdk, receipt_path, tmp_path):
    tagged = sdk.process_document(str(receipt_path), tags=["march"])
    sdk.process_document(str(write_png(tmp_path / "x.png", 1)), tags=["april"])
    assert [d["id"] for d in sdk.get_documents(tag="march")["documents"]] == [tagged["id"]]


def test_get_documents_by_created_bounds_finds_the_documents_between(emulator, sdk, tmp_path):
    ids = []
    for day in (1, 2, 3):
        emulator.clock = lambda day=day: datetime(2026, 3, day, 10, 0, 0)
        ids.append(sdk.process_document(str(write_png(tmp_path / f"{day}.png", day)))["id"])
    between = sdk.get_documents(created_gt="2026-03-01 10:00:00", created_lte="2026-03-02 10:00:00")
    assert emulator.last_request.query["created__gt"] == ["2026-03-01 10:00:00"]
    assert [d["id"] for d in between["documents"]] == [ids[1]]


def test_delete_document_is_accepted_in_strict_mode_and_removes_it(emulator, sdk, receipt_path):
    document_id = sdk.process_document(str(receipt_path))["id"]
    sdk.delete_document(document_id)
    assert emulator.last_request.json == {"id": document_id}
    with pytest.raises(ResourceNotFound):
        sdk.get_document(document_id)


def test_delete_of_an_unknown_document_is_not_found(sdk):
    with pytest.raises(ResourceNotFound, match="not found"):
        sdk.delete_document(999)

"""What the client puts on the wire, as recorded by the emulator on the other end of a real socket."""

import base64
import hashlib
import hmac
import io
from importlib.metadata import version

import requests

from orbit_pipelines.veryfi import VeryfiClient, sign_request

from .conftest import SECRET


def test_sign_request_matches_the_sdk_test_vector():
    assert sign_request("my_secret", 1700000000000, {}) == "3Y5JEI3QrmLxc6noAtJVHx+yse+Mn1HbypsrCiZJyUY="


def test_sign_request_appends_each_field_in_order_with_python_str_values():
    payload = b"timestamp:1700000000000,file_url:https://x/y.pdf,boost_mode:True"
    expected = base64.b64encode(hmac.new(b"k", payload, hashlib.sha256).digest()).decode()
    fields = {"file_url": "https://x/y.pdf", "boost_mode": True}
    assert sign_request("k", 1700000000000, fields) == expected
    assert sign_request("k", 1700000000000, list(fields.items())) == expected


def test_every_request_carries_client_id_apikey_authorization_and_json_accept(emulator, client, receipt_path):
    client.process_file(receipt_path)
    sent = emulator.last_request
    assert sent.header("CLIENT-ID") == emulator.client_id
    assert sent.header("AUTHORIZATION") == f"apikey {emulator.username}:{emulator.api_key}"
    assert sent.header("Accept") == "application/json"


def test_every_request_names_the_project_and_its_version_in_the_user_agent(emulator, client, receipt_path):
    document_id = client.process_file(receipt_path).id
    client.get_document(document_id)
    client.list_documents()
    client.delete_document(document_id)
    expected = f"orbit-pipelines/{version('orbit_pipelines')} (+requests/{requests.__version__})"
    assert [r.header("User-Agent") for r in emulator.requests] == [expected] * 4


def test_upload_posts_to_the_v8_documents_path(emulator, client, receipt_path):
    client.process_file(receipt_path)
    sent = emulator.last_request
    assert (sent.method, sent.path) == ("POST", "/api/v8/partner/documents/")


def test_upload_is_multipart_with_a_file_part_and_a_file_name_field(emulator, client, receipt_path):
    client.process_file(receipt_path, "renamed.txt")
    sent = emulator.last_request
    assert sent.form[0] == ("file_name", "renamed.txt")
    assert sent.files == [
        {"field": "file", "file_name": "renamed.txt", "content_type": "text/plain", "size": receipt_path.stat().st_size}
    ]


def test_file_name_defaults_to_the_path_basename(emulator, client, receipt_path):
    client.process_file(receipt_path)
    assert ("file_name", receipt_path.name) in emulator.last_request.form


def test_upload_sends_external_id_lists_and_true_flags_as_form_fields(emulator, client, receipt_path):
    client.process_file(
        receipt_path,
        external_id="doc-7",
        categories=["Meals", "Travel"],
        tags=["q1"],
        boost_mode=True,
        auto_delete=True,
    )
    assert emulator.last_request.form == [
        ("file_name", receipt_path.name),
        ("external_id", "doc-7"),
        ("categories", "Meals"),
        ("categories", "Travel"),
        ("tags", "q1"),
        ("boost_mode", "true"),
        ("auto_delete", "true"),
    ]


def test_false_flags_and_absent_options_are_left_out_of_the_form(emulator, client, receipt_path):
    client.process_file(receipt_path, boost_mode=False, auto_delete=False)
    assert [name for name, _ in emulator.last_request.form] == ["file_name"]


def test_multipart_content_type_is_the_encoders_own_with_a_boundary_the_server_can_split(
    emulator, client, receipt_path
):
    client.process_file(receipt_path)
    sent = emulator.last_request
    content_type = sent.header("Content-Type")
    assert content_type.startswith("multipart/form-data; boundary=")
    assert len(content_type.split("boundary=", 1)[1]) >= 16
    assert sent.files and sent.status == 201  # the emulator split the body on that very boundary


def test_upload_declares_its_length_instead_of_chunking(emulator, client, receipt_path):
    client.process_file(receipt_path)
    sent = emulator.last_request
    assert int(sent.header("Content-Length")) > receipt_path.stat().st_size
    assert sent.header("Transfer-Encoding") is None


class _ReadSpy(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.reads = []

    def read(self, size=-1):
        chunk = super().read(size)
        self.reads.append(len(chunk))
        return chunk


def test_upload_streams_the_file_in_blocks_instead_of_reading_it_whole(emulator, client, receipt_path):
    data = receipt_path.read_bytes() + b"Thank you\n" * 100_000  # ~1 MB, still a valid text receipt
    spy = _ReadSpy(data)
    client.process_file(spy, "big.txt")
    assert sum(spy.reads) == len(data)
    assert max(spy.reads) < len(data) // 4


def test_upload_accepts_an_open_file_object(emulator, client, receipt_path):
    with open(receipt_path, "rb") as handle:
        result = client.process_file(handle)
    assert result.document.vendor.name == "Blue Fern Cafe"
    assert emulator.last_request.files[0]["file_name"] == receipt_path.name


def test_no_signature_headers_without_a_client_secret(emulator, client, receipt_path):
    client.process_file(receipt_path)
    sent = emulator.last_request
    assert sent.header("X-Veryfi-Request-Timestamp") is None
    assert sent.header("X-Veryfi-Request-Signature") is None


def test_multipart_signature_is_sign_request_over_the_form_fields(signing_emulator, make_client, receipt_path):
    client = make_client(signing_emulator)
    client.process_file(receipt_path, external_id="doc-1", tags=["a", "b"], boost_mode=True)
    sent = signing_emulator.last_request
    timestamp = int(sent.header("X-Veryfi-Request-Timestamp"))
    assert sent.header("X-Veryfi-Request-Signature") == sign_request(SECRET, timestamp, sent.form)
    assert sent.status == 201


def test_json_signature_is_sign_request_over_the_body_fields_in_order(signing_emulator, make_client):
    client = make_client(signing_emulator)
    url = signing_emulator.host_file("r.txt", b"Corner Shop\n" + b"Milk 2 x 1.25\nTOTAL 2.50\n" * 20)
    client.process_url(url, external_id="u-1", boost_mode=True)
    sent = signing_emulator.last_request
    timestamp = int(sent.header("X-Veryfi-Request-Timestamp"))
    assert list(sent.json) == ["file_url", "external_id", "boost_mode"]
    assert sent.header("X-Veryfi-Request-Signature") == sign_request(SECRET, timestamp, sent.json)


def test_signed_get_and_delete_are_accepted_by_a_strict_server(signing_emulator, make_client, receipt_path):
    client = make_client(signing_emulator)
    document_id = client.process_file(receipt_path).id
    assert client.get_document(document_id).id == document_id
    assert client.delete_document(document_id) == {"status": "ok"}


def test_timestamp_header_is_epoch_milliseconds(signing_emulator, make_client, receipt_path):
    import time

    make_client(signing_emulator).process_file(receipt_path)
    timestamp = int(signing_emulator.last_request.header("X-Veryfi-Request-Timestamp"))
    assert abs(timestamp - time.time() * 1000) < 60_000


def test_process_url_sends_a_json_body_with_file_url_and_options(emulator, client):
    url = emulator.host_file("r.txt", b"Corner Shop\n" + b"Milk 2 x 1.25\nTOTAL 2.50\n" * 20)
    client.process_url(url, external_id="u-1", categories=["Groceries"])
    sent = emulator.last_request
    assert sent.header("Content-Type") == "application/json"
    assert sent.json == {"file_url": url, "external_id": "u-1", "categories": ["Groceries"]}


def test_process_url_with_several_urls_sends_file_urls(emulator, client):
    body = b"Corner Shop\n" + b"Milk 2 x 1.25\nTOTAL 2.50\n" * 20
    urls = [emulator.host_file("p1.txt", body), emulator.host_file("p2.txt", body)]
    result = client.process_url(urls)
    assert emulator.last_request.json == {"file_urls": urls}
    assert result.document.meta.total_pages == 2


def test_get_delete_and_list_use_the_documented_paths_and_query(emulator, client, receipt_path):
    document_id = client.process_file(receipt_path).id
    client.get_document(document_id)
    assert emulator.last_request.path == f"/api/v8/partner/documents/{document_id}/"
    client.list_documents(page=2, page_size=10, q="fern")
    assert emulator.last_request.query == {"page": ["2"], "page_size": ["10"], "q": ["fern"]}
    client.delete_document(document_id)
    assert (emulator.last_request.method, emulator.last_request.path) == (
        "DELETE",
        f"/api/v8/partner/documents/{document_id}/",
    )


def test_base_url_without_a_trailing_slash_reaches_the_same_endpoint(emulator, make_client, receipt_path):
    client = make_client(emulator, base_url=emulator.base_url.rstrip("/"))
    client.process_file(receipt_path)
    assert emulator.last_request.path == "/api/v8/partner/documents/"


def test_result_carries_document_raw_json_status_and_trace_id(emulator, client, receipt_path):
    result = client.process_file(receipt_path, external_id="ext-1")
    assert result.status == 201
    assert result.raw["id"] == result.document.id == result.id
    assert result.document.external_id == "ext-1"
    assert result.trace_id and len(result.trace_id) == 32


def test_client_repr_shows_no_credentials():
    client = VeryfiClient("https://api.example.test/api/", "cid", "alice-user", "key-123", "sec-456")
    assert not any(secret in repr(client) for secret in ("alice-user", "key-123", "sec-456"))

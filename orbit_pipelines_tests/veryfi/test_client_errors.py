"""How each failure reaches the caller: class, retryable flag, wait, message; never a credential."""

import pickle
import time

import pytest

from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator
from orbit_pipelines.veryfi import (
    VeryfiBadResponse,
    VeryfiError,
    VeryfiRateLimited,
    VeryfiReadTimeout,
    VeryfiRejected,
    VeryfiServerError,
    VeryfiTransportError,
    VeryfiUnusableAnswer,
)


def _failure(client, path) -> VeryfiError:
    with pytest.raises(VeryfiError) as caught:
        client.process_file(path)
    return caught.value


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422])
def test_client_side_statuses_are_rejections_that_must_not_be_retried(emulator, client, receipt_path, status):
    emulator.fail_next(1, status)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiRejected
    assert (error.status, error.retryable, error.may_have_been_processed) == (status, False, False)


@pytest.mark.parametrize("status, maybe_processed", [(499, True), (500, True), (502, True), (503, False), (504, True)])
def test_server_side_statuses_are_retryable_server_errors(emulator, client, receipt_path, status, maybe_processed):
    emulator.fail_next(1, status)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiServerError
    assert (error.status, error.retryable) == (status, True)
    # Only an answer that may come after the work was done makes the retry look the document up.
    assert error.may_have_been_processed is maybe_processed


def test_429_is_a_retryable_rate_limit_that_was_not_processed(emulator, client, receipt_path):
    emulator.fail_next(1, 429, retry_after=3)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiRateLimited
    assert (error.status, error.retryable, error.may_have_been_processed) == (429, True, False)


def test_rate_limit_wait_comes_from_retry_after_seconds(emulator, client, receipt_path):
    emulator.fail_next(1, 429, retry_after=2)
    assert _failure(client, receipt_path).retry_after == 2.0


def test_rate_limit_without_retry_after_waits_the_default(emulator, client, receipt_path):
    emulator.fail_next(1, 429)
    assert _failure(client, receipt_path).retry_after == 5.0


def test_rate_limit_with_a_garbage_retry_after_waits_the_default(emulator, client, receipt_path):
    emulator.fail_next(1, 429, retry_after="soon-ish")
    assert _failure(client, receipt_path).retry_after == 5.0


def test_server_error_keeps_a_retry_after_when_one_is_sent(emulator, client, receipt_path):
    emulator.fail_next(1, 503, retry_after=7)
    assert _failure(client, receipt_path).retry_after == 7.0


def test_server_error_without_retry_after_leaves_the_wait_to_the_caller(emulator, client, receipt_path):
    emulator.fail_next(1, 500)
    assert _failure(client, receipt_path).retry_after is None


def test_message_is_taken_from_the_error_field(emulator, client, receipt_path):
    emulator.fail_next(1, 400, body={"status": "fail", "error": "Unsupported file type: .exe"})
    assert _failure(client, receipt_path).message == "Unsupported file type: .exe"


def test_message_is_taken_from_the_message_field_when_error_is_absent(emulator, client, receipt_path):
    emulator.fail_next(1, 503, body={"status": "fail", "message": "Maintenance window"})
    assert _failure(client, receipt_path).message == "Maintenance window"


def test_message_is_the_raw_body_when_it_is_not_json(emulator, client, receipt_path):
    text = "upstream connect error or disconnect/reset before headers"
    emulator.fail_next(1, 502, body=text)
    assert _failure(client, receipt_path).message == text


def test_long_messages_are_truncated(emulator, client, receipt_path):
    emulator.fail_next(1, 400, body={"status": "fail", "error": "x" * 5000})
    message = _failure(client, receipt_path).message
    assert 400 <= len(message) <= 500 and message.endswith("…")


def test_a_real_refusal_carries_the_api_text_and_trace_id(emulator, client, tmp_path):
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("too short")
    error = _failure(client, tiny)
    assert type(error) is VeryfiRejected and error.status == 400
    assert "too small" in error.message
    assert error.trace_id == emulator.last_request.trace_id
    assert error.trace_id in str(error)


def test_missing_document_is_a_404_rejection(client):
    with pytest.raises(VeryfiRejected) as caught:
        client.get_document(123)
    assert caught.value.status == 404


def test_wrong_credentials_are_a_401_rejection(emulator, make_client, receipt_path):
    client = make_client(emulator, api_key="not-the-key")
    error = _failure(client, receipt_path)
    assert (type(error), error.status, error.retryable) == (VeryfiRejected, 401, False)


def test_credentials_never_appear_in_messages_even_when_the_api_echoes_them(make_client, receipt_path):
    secrets = {"username": "alice-the-user", "api_key": "key-0123456789", "client_secret": "sec-9876543210"}
    with VeryfiEmulator(username=secrets["username"], api_key=secrets["api_key"]) as echoing:
        client = make_client(echoing, client_secret=secrets["client_secret"])
        echoing.fail_next(
            1, 401, body={"error": "bad apikey {username}:{api_key} signed with {client_secret}".format(**secrets)}
        )
        error = _failure(client, receipt_path)
    for secret in secrets.values():
        assert secret not in error.message and secret not in str(error) and secret not in repr(error)


def test_read_timeout_is_a_retryable_transport_error_that_may_still_be_processed(emulator, make_client, receipt_path):
    client = make_client(emulator, read_timeout=0.5)
    emulator.timeout_next(1, seconds=30)
    started = time.monotonic()
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiReadTimeout and isinstance(error, VeryfiTransportError)
    assert (error.status, error.retryable, error.may_have_been_processed) == (None, True, True)
    # Without the read timeout the answer would take 30 s: far less proves it was applied, on any machine.
    assert time.monotonic() - started < 20


def test_dropped_connection_is_a_retryable_transport_error(emulator, client, receipt_path):
    emulator.drop_next(1)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiTransportError and error.retryable
    assert error.may_have_been_processed, "the request was sent: Veryfi may have done the work"


def test_refused_connection_is_a_retryable_transport_error(make_client, receipt_path):
    with VeryfiEmulator() as gone:
        client = make_client(gone)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiTransportError and error.retryable
    assert not error.may_have_been_processed, "nothing was sent: no need to look it up"


def test_malformed_json_on_201_is_a_retryable_bad_response(emulator, client, receipt_path):
    emulator.malformed_next(1)
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiBadResponse
    assert (error.status, error.retryable) == (201, True)
    assert "not valid JSON" in error.message


def test_201_whose_json_holds_no_document_is_unusable_carries_the_answer_and_is_not_retried(
    emulator, client, receipt_path
):
    emulator.fail_next(1, 201, body={"status": "ok", "total": 3})
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiUnusableAnswer and not error.retryable
    assert error.raw == {"status": "ok", "total": 3}, "the billed answer comes with the error, to be stored"
    assert "no usable document id: id: Field required" in error.message


def test_every_error_class_is_a_veryfi_error():
    classes = (
        VeryfiRejected,
        VeryfiRateLimited,
        VeryfiServerError,
        VeryfiTransportError,
        VeryfiBadResponse,
        VeryfiUnusableAnswer,
    )
    assert all(issubclass(cls, VeryfiError) for cls in classes)


def test_errors_survive_pickling_with_their_attributes():
    error = VeryfiRateLimited("slow down", status=429, trace_id="t-1", retry_after=2.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message, copy.status, copy.trace_id, copy.retry_after, copy.retryable) == (
        VeryfiRateLimited,
        "slow down",
        429,
        "t-1",
        2.0,
        True,
    )


def test_an_answer_larger_than_the_limit_is_not_read_into_memory(emulator, make_client, receipt_path):
    client = make_client(emulator, max_response_bytes=1000)  # a processed receipt is a few kilobytes
    error = _failure(client, receipt_path)
    assert type(error) is VeryfiBadResponse and "answer larger than 1000 bytes" in str(error)


def test_a_client_reuses_its_connection_between_calls(emulator, make_client, receipt_path):
    client = make_client(emulator)
    first = client.process_file(receipt_path, external_id="a")
    client.get_document(first.id)
    client.get_document(first.id)
    assert len({r.client_port for r in emulator.requests}) == 1

"""The retry vocabulary: one schedule, the server's Retry-After, transient or permanent for any error."""

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

from botocore.exceptions import ClientError, EndpointConnectionError
from dagster import Failure, OpExecutionContext, RetryRequested, build_op_context, job, op
from sqlalchemy.exc import OperationalError

from orbit_pipelines.llm import LLMRateLimited, LLMRejected
from orbit_pipelines.runtime.retry import (
    TRANSIENT_RETRY,
    backoff_seconds,
    classify,
    is_transient_status,
    next_retry,
    parse_retry_after,
    retry_or_fail,
)
from orbit_pipelines.veryfi import VeryfiRejected, VeryfiServerError


def _s3_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")


def test_the_schedule_doubles_and_adds_one_base_each_retry():
    assert [backoff_seconds(n, jitter=False) for n in (1, 2, 3, 4)] == [1.0, 3.0, 7.0, 15.0]


def test_the_schedule_with_jitter_stays_within_one_base_of_the_curve():
    for n in (1, 2, 3):
        assert all(abs(backoff_seconds(n) - (2**n - 1)) <= 1.0 for _ in range(50))


def test_the_op_retry_policy_follows_the_same_schedule():
    assert TRANSIENT_RETRY.delay == 1.0 and TRANSIENT_RETRY.max_retries == 3


def test_a_longer_scale_keeps_the_shape():
    assert [backoff_seconds(n, jitter=False, unit=5.0) for n in (1, 2, 3)] == [5.0, 15.0, 35.0]


def test_retry_after_in_seconds_or_as_a_date():
    assert parse_retry_after("3", 1.0) == 3.0
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 25 <= parse_retry_after(format_datetime(when, usegmt=True), 5.0) <= 30


def test_an_unusable_or_past_retry_after_falls_back_or_means_no_wait():
    assert parse_retry_after("soon", 1.5) == 1.5
    assert parse_retry_after(None, 2.0) == 2.0
    assert parse_retry_after("nan", 2.0) == 2.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 5.0) == 0.0


def test_timeouts_rate_limits_and_server_errors_are_transient_other_answers_are_not():
    assert [is_transient_status(s) for s in (408, 429, 499, 500, 503, 400, 401, 404, 422)] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]


def test_client_errors_say_for_themselves_with_the_servers_wait():
    assert classify(LLMRateLimited("slow down", status=429, retry_after=12.0)).wait == 12.0
    assert classify(VeryfiServerError("down", status=503)).transient
    assert not classify(VeryfiRejected("bad key", status=401)).transient
    assert not classify(LLMRejected("bad request", status=400)).transient


def test_database_disconnects_and_s3_blips_are_transient_s3_refusals_are_not():
    assert classify(OperationalError("SELECT 1", {}, Exception("server closed the connection"))).transient
    assert classify(EndpointConnectionError(endpoint_url="http://127.0.0.1:1")).transient
    assert classify(_s3_error("SlowDown", 503)).transient
    assert not classify(_s3_error("AccessDenied", 403)).transient


def test_anything_else_is_permanent():
    assert not classify(ValueError("priority: must be at most 100")).transient


def test_a_retry_waits_what_the_server_asked_or_else_the_schedule():
    assert next_retry(0, wait=12.0).seconds_to_wait == 12.0
    assert next_retry(0, wait=0.5).seconds_to_wait == 0.5
    assert 6.0 <= next_retry(2).seconds_to_wait <= 8.0


def test_there_is_no_retry_once_the_retries_are_used_up():
    assert isinstance(next_retry(2, max_retries=3), RetryRequested)
    assert next_retry(3, max_retries=3) is None


def test_a_permanent_error_fails_at_once_without_retries_and_says_what_to_do():
    failure = retry_or_fail(build_op_context(), VeryfiRejected("bad key", status=401), "VeryfiRejected", "bad key")
    assert isinstance(failure, Failure) and failure.allow_retries is False
    assert failure.description == "bad key"
    assert failure.metadata["remediation"].value


def test_an_op_retries_a_transient_error_on_the_schedule_then_fails_saying_so(monkeypatch):
    monkeypatch.setenv("ORBIT_RETRY_BASE_SECONDS", "0.01")
    attempts = []

    @op
    def call_veryfi(context: OpExecutionContext):
        attempts.append(context.retry_number)
        raise retry_or_fail(
            context, VeryfiServerError("down", status=503), "VeryfiServerError", "Veryfi is down", max_retries=3
        )

    @job
    def extraction():
        call_veryfi()

    result = extraction.execute_in_process(raise_on_error=False)
    assert attempts == [0, 1, 2, 3]
    failure = result.failure_data_for_node("call_veryfi").error
    assert "Veryfi is down (gave up after 4 attempts)" in failure.message

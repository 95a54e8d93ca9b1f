"""The emulator enforces an account's rate limits as Veryfi does: 429 with Retry-After beyond them."""

import pytest

from orbit_pipelines.veryfi import VeryfiRateLimited


def _post_until_refused(client, receipt_path, n):
    accepted, refusals = 0, []
    for i in range(n):
        try:
            client.process_file(receipt_path, external_id=f"r-{i}")
            accepted += 1
        except VeryfiRateLimited as exc:
            refusals.append(exc)
    return accepted, refusals


def test_posts_beyond_the_per_second_limit_get_429_with_retry_after(emulator, client, receipt_path):
    emulator.set_rate_limit(posts_per_second=5)
    accepted, refusals = _post_until_refused(client, receipt_path, 8)
    assert accepted == 5, "a second's worth, then refused (unless this machine took a second for five posts)"
    assert [(r.status, r.retry_after) for r in refusals] == [(429, 1.0)] * 3
    assert emulator.total_paid_calls == 5
    assert emulator.rate_limited_answers == 3


def test_the_per_minute_limit_says_how_long_until_the_window_frees(emulator, client, receipt_path):
    emulator.set_rate_limit(posts_per_minute=3)
    accepted, refusals = _post_until_refused(client, receipt_path, 4)
    assert accepted == 3
    [refusal] = refusals
    assert 55 <= refusal.retry_after <= 60


def test_requests_per_second_counts_reads_too(emulator, client, receipt_path):
    emulator.set_rate_limit(requests_per_second=2)
    client.list_documents()
    client.list_documents(external_id="x")
    with pytest.raises(VeryfiRateLimited):
        client.list_documents()
    assert emulator.lookups == 1, "a lookup by external_id is counted as one"


def test_no_limit_is_enforced_unless_one_is_set(emulator, client, receipt_path):
    accepted, refusals = _post_until_refused(client, receipt_path, 30)
    assert (accepted, refusals) == (30, [])

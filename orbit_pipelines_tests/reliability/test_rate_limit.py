"""An account rate limit (the emulator enforcing it as Veryfi does, 429 with Retry-After beyond it):
every document completes, paid once, and no document is looked up because of a 429; under a per-minute
limit the run is told of, its POSTs leave evenly spaced and meet no 429."""

import itertools
import time

import pytest

from orbit_pipelines.jobs.document_processing.doubts import mark_sending
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.veryfi import VeryfiClient
from orbit_pipelines_tests.reliability.accounting import account
from orbit_pipelines_tests.support import process_documents, submitted_documents, veryfi_overrides

LIMIT = 20  # POSTs a second
DOCUMENTS = 100
PER_MINUTE = 120  # POSTs a minute: a run paced to it sends one every ~0.5 s


@pytest.fixture
def batch(ledger, tmp_path, request):
    def make(n: int) -> tuple[list[int], list]:
        paths = write_unique_sample_set(tmp_path / "docs", n, salt=request.node.name)
        return submitted_documents(ledger, paths), paths

    return make


def _run_under_limit(instance, ledger, emulator, ids, scoreboard, fault, resources, limits=None, ideal_s=None):
    emulator.set_rate_limit(**(limits or {"posts_per_second": LIMIT}))
    ideal_s = len(ids) / LIMIT if ideal_s is None else ideal_s
    started = time.monotonic()
    result = process_documents(instance, ledger, ids, resources=resources)
    elapsed = time.monotonic() - started
    assert result.success
    refused, posts = emulator.rate_limited_answers, emulator.total_process_calls + emulator.rate_limited_answers
    outcome = scoreboard(
        account(
            ledger,
            ids,
            fault,
            emulator=emulator,
            recover_seconds=elapsed,
            note=f"{refused} of {posts} POSTs answered 429; run {elapsed:.1f} s for N/limit = {ideal_s:.0f} s",
        )
    )
    return outcome


def test_under_a_limit_the_client_is_told_of_every_document_completes_paid_once(
    instance, ledger, emulator, batch, scoreboard
):
    ids, _ = batch(DOCUMENTS)
    outcome = _run_under_limit(
        instance,
        ledger,
        emulator,
        ids,
        scoreboard,
        f"Veryfi account limit {LIMIT} POST/s, paced to it",
        veryfi_overrides(rate_limit_per_second=LIMIT),
    )
    assert outcome.completed == DOCUMENTS
    assert emulator.lookups == 0, "nothing was in doubt: no document looked up"


def test_under_a_limit_the_client_does_not_know_every_document_completes_paid_once(
    instance, ledger, emulator, batch, scoreboard
):
    ids, _ = batch(DOCUMENTS)
    outcome = _run_under_limit(
        instance,
        ledger,
        emulator,
        ids,
        scoreboard,
        f"Veryfi account limit {LIMIT} POST/s, not configured (paced by its 429s)",
        veryfi_overrides(),
    )
    assert outcome.completed == DOCUMENTS
    assert emulator.rate_limited_answers > 0, "the limit was really met"
    assert emulator.lookups == 0, "a 429 says the request was not processed: no lookup after one"


def test_under_a_per_minute_limit_the_run_spaces_its_posts_evenly_and_earns_no_429(
    instance, ledger, emulator, batch, scoreboard
):
    # The account refuses more than 3 POSTs in any second; a run told only of its 120 a minute spaces its
    # POSTs ~0.5 s apart, so it never meets the per-second refusal that 12 documents at once (16 in
    # flight) would. (A backlog beyond a whole minute's allowance is bench.rate_limit's sustained section:
    # 3 minutes, too long for the suite; the minute window itself is test_pacing.py's, on a fake clock.)
    n = 12
    ids, _ = batch(n)
    outcome = _run_under_limit(
        instance,
        ledger,
        emulator,
        ids,
        scoreboard,
        f"Veryfi account limits {PER_MINUTE} POST/min and 3 POST/s, the run paced to the per-minute one",
        veryfi_overrides(rate_limit_per_minute=PER_MINUTE),
        limits={"posts_per_minute": PER_MINUTE, "posts_per_second": 3},
        ideal_s=n / PER_MINUTE * 60,
    )
    assert outcome.completed == n
    assert emulator.rate_limited_answers == 0
    assert emulator.lookups == 0
    posts = sorted(r.received_at for r in emulator.requests if r.method == "POST")
    assert len(posts) == n
    gaps = [b - a for a, b in itertools.pairwise(posts)]
    assert min(gaps) > 0.4, f"POSTs {60 / PER_MINUTE:.2f} s apart, evenly: {gaps}"


@pytest.mark.parametrize("status", [429, 503])
def test_a_document_refused_with_a_status_that_says_not_processed_is_sent_again_without_a_lookup(
    instance, ledger, emulator, batch, scoreboard, status
):
    ids, _ = batch(10)
    emulator.fail_next(4, status, retry_after=1)
    result = process_documents(instance, ledger, ids, resources=veryfi_overrides(read_timeout=1.0))
    assert result.success
    outcome = scoreboard(account(ledger, ids, f"Veryfi {status}, no lookup after it", emulator=emulator))
    assert outcome.completed == 10
    assert emulator.lookups == 0


def test_a_document_a_crashed_attempt_was_sending_is_looked_up_and_not_paid_again(
    instance, ledger, emulator, batch, scoreboard
):
    [task_id], [path] = batch(1)
    key = ledger.get(task_id).payload["sha256"]
    # The crashed attempt marked it, sent it, and died before the answer was stored.
    mark_sending(ledger.engine, [key], run_id="a-run-that-crashed")
    with VeryfiClient(**emulator.client_kwargs()) as client:
        client.process_file(path, external_id=key)
    result = process_documents(instance, ledger, [task_id], resources=veryfi_overrides())
    assert result.success
    outcome = scoreboard(account(ledger, [task_id], "crash mid-call: the send left in doubt", emulator=emulator))
    assert outcome.completed == 1 and emulator.paid_calls_for(key) == 1
    assert emulator.lookups == 1

"""Veryfi misbehaving over real HTTP (the emulator): every document ends COMPLETED once or FAILED
with a reason, and every completed document is paid for exactly once."""

import time

import pytest
from dagster import ReexecutionOptions, execute_job

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.reliability.accounting import account
from orbit_pipelines_tests.support import process_documents, recon_job, submitted_documents, veryfi_overrides

# Short timeouts keep the suite fast; the ratios (a timed-out call answers after 1.5 read timeouts)
# are what matter.
READ_TIMEOUT = 1.0
FAST = veryfi_overrides(read_timeout=READ_TIMEOUT)


@pytest.fixture
def batch(ledger, tmp_path, request):
    def make(n: int) -> list[int]:
        return submitted_documents(ledger, write_unique_sample_set(tmp_path / "docs", n, salt=request.node.name))

    return make


def run_under_fault(instance, ledger, emulator, ids, fault: str, scoreboard, resources=FAST, note=""):
    started = time.monotonic()
    result = process_documents(instance, ledger, ids, resources=resources)
    elapsed = time.monotonic() - started
    assert result.success, "document failures are per document; the run itself must not fail"
    return scoreboard(account(ledger, ids, fault, emulator=emulator, recover_seconds=elapsed, note=note))


@pytest.mark.parametrize(
    "fault, inject",
    [
        ("Veryfi 429 with Retry-After: 1", lambda e: e.fail_next(5, 429, retry_after=1)),
        ("Veryfi 500, 502, 503, 504", lambda e: [e.fail_next(2, status) for status in (500, 502, 503, 504)]),
        ("Veryfi connection reset", lambda e: e.drop_next(3)),
        ("Veryfi malformed JSON (processed and billed)", lambda e: e.malformed_next(3)),
    ],
)
def test_transient_veryfi_faults_complete_every_document_once(
    instance, ledger, emulator, batch, scoreboard, fault, inject
):
    ids = batch(20)
    inject(emulator)
    outcome = run_under_fault(instance, ledger, emulator, ids, fault, scoreboard)
    assert outcome.completed == 20


def test_a_timed_out_call_veryfi_finishes_later_is_found_not_paid_again(instance, ledger, emulator, batch, scoreboard):
    # Veryfi answers after 1.75 read timeouts: later than the first retry's backoff (1 s) would ask.
    ids = batch(20)
    emulator.timeout_next(3, seconds=3.5)
    outcome = run_under_fault(
        instance,
        ledger,
        emulator,
        ids,
        "Veryfi read timeout (processed 1.75x the timeout later)",
        scoreboard,
        resources=veryfi_overrides(read_timeout=2.0),
    )
    assert outcome.completed == 20


def test_a_corrupt_file_refused_with_400_fails_alone_with_veryfis_message(
    instance, ledger, emulator, batch, scoreboard
):
    ids = batch(20)
    emulator.fail_next(1, 400, body={"status": "fail", "error": "Corrupt file: the PDF cannot be read"})
    outcome = run_under_fault(instance, ledger, emulator, ids, "Veryfi 400 (corrupt file)", scoreboard)
    assert (outcome.completed, outcome.failed_with_reason) == (19, 1)
    [failed] = [t for t in ledger.get_many(ids) if t.status == TaskStatus.FAILED]
    assert failed.error_class == "VeryfiRejected" and "Corrupt file: the PDF cannot be read" in failed.error_message
    assert emulator.paid_calls_for(failed.payload["sha256"]) == 0


def test_bad_credentials_fail_the_batch_with_a_reason_and_a_re_execution_after_the_fix_completes_it(
    instance, ledger, emulator, batch, scoreboard
):
    ids = batch(20)
    wrong_key = veryfi_overrides(read_timeout=READ_TIMEOUT, api_key="not-the-key")
    first = process_documents(instance, ledger, ids, resources=wrong_key)
    outcome = scoreboard(account(ledger, ids, "Veryfi 401 (bad credentials)", emulator=emulator))
    assert outcome.failed_with_reason == 20
    assert all("401" in t.error_message for t in ledger.get_many(ids))
    assert emulator.total_paid_calls == 0

    started = time.monotonic()  # the operator fixes the key and re-executes the extraction
    again = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={**first.dagster_run.run_config, "resources": FAST},
        reexecution_options=ReexecutionOptions(
            parent_run_id=first.run_id, step_selection=["upload_and_extract", "store_documents", "summarize"]
        ),
    )
    assert again.success
    outcome = scoreboard(
        account(
            ledger,
            ids,
            "Veryfi 401, after the key is fixed: re-execution",
            emulator=emulator,
            recover_seconds=time.monotonic() - started,
        )
    )
    assert outcome.completed == 20


INTERMITTENT = [429, 500, 502, 503, 504, "drop", "malformed", "timeout"]


@pytest.mark.parametrize("rate", [0.10, 0.30])
def test_intermittent_faults_over_a_batch_of_200(instance, ledger, emulator, batch, scoreboard, rate):
    ids = batch(200)
    emulator.set_fault_rate(rate, INTERMITTENT, seed=6, retry_after=1, seconds=1.5 * READ_TIMEOUT)
    outcome = run_under_fault(
        instance,
        ledger,
        emulator,
        ids,
        f"Veryfi intermittent faults at {rate:.0%} (429, 5xx, resets, malformed, timeouts)",
        scoreboard,
    )
    # Four retries: a document fails for good only if all five of its attempts drew a fault.
    assert outcome.completed >= 200 - 2
    assert emulator.total_process_calls > 200, "the faults were really there"

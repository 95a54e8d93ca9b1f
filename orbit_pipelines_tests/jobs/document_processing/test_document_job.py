"""document_processing against the real local S3 server, the Veryfi emulator over HTTP and Postgres."""

import os
import threading
import time
from contextlib import contextmanager

import boto3
import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job
from sqlalchemy import text

from orbit_pipelines.jobs.document_processing.store import documents_for_tasks
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import build_receipt, write_pdf_receipt, write_text_receipt
from orbit_pipelines_tests.support import process_documents, recon_job, submitted_documents, veryfi_overrides

RECEIPTS = [
    ("Blue Fern Cafe", "2026-03-01", [("Avocado Toast", 1, "12.50"), ("Flat White", 2, "4.25")], "0.08875", "USD"),
    ("Harbor Hardware", "2026-03-02", [("Hammer", 1, "24.99"), ("Nails 1kg", 2, "6.49")], "0.07", "USD"),
    ("Cafe Lindenhof", "2026-03-03", [("Apfelstrudel", 2, "5.90"), ("Melange", 2, "4.20")], "0.10", "EUR"),
]


@pytest.fixture
def receipts(tmp_path):
    paths = []
    for i, (vendor, date, lines, rate, currency) in enumerate(RECEIPTS):
        write = write_pdf_receipt if i % 2 else write_text_receipt
        paths.append(write(tmp_path / f"receipt_{i}{'.pdf' if i % 2 else '.txt'}", vendor, date, lines, rate, currency))
    return paths


def s3_keys():
    s3 = boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"])
    try:
        return [o["Key"] for o in s3.list_objects_v2(Bucket="orbit-documents").get("Contents", [])]
    except s3.exceptions.NoSuchBucket:
        return []


@contextmanager
def sampled(observe):
    """What `observe()` returns every 50 ms while the block runs (a run executes in the block), in order."""
    seen: list = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append(observe())
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield seen
    finally:
        done.set()
        watcher.join()


def events(result, event_type, step=None):
    return [e for e in result.all_events if e.event_type == event_type and (step is None or e.step_key == step)]


def test_each_document_is_uploaded_extracted_and_stored(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts)
    result = process_documents(instance, ledger, ids)
    assert result.success
    assert {t.status for t in ledger.get_many(ids)} == {TaskStatus.COMPLETED}
    rows = {r["source_name"]: r for r in documents_for_tasks(ledger.engine, ids)}
    for path, (vendor, date, lines, rate, currency) in zip(receipts, RECEIPTS, strict=True):
        expected = build_receipt(vendor, date, lines, rate, currency)
        row = rows[path.name]
        assert (row["vendor_name"], row["currency"], row["total"]) == (vendor, currency, expected.total)
        assert row["document_date"].date().isoformat() == date
        assert len(row["line_items"]) == len(lines)


def test_nothing_is_uploaded_paid_or_stored_twice_across_runs_and_re_executions(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts)
    first = process_documents(instance, ledger, ids)
    keys_after_first = sorted(s3_keys())
    for step in ("upload_and_extract", "store_documents"):
        again = execute_job(
            recon_job("document_processing"),
            instance=instance,
            raise_on_error=False,
            reexecution_options=ReexecutionOptions(parent_run_id=first.run_id, step_selection=[step, "summarize"]),
        )
        assert again.success
    rerun = process_documents(instance, ledger, ids)  # the same tasks launched again: already done
    assert rerun.success
    for task in ledger.get_many(ids):
        assert emulator.paid_calls_for(task.payload["sha256"]) == 1
        assert task.status == TaskStatus.COMPLETED
    assert sorted(s3_keys()) == keys_after_first
    assert len(documents_for_tasks(ledger.engine, ids)) == len(ids)


def test_a_corrupt_file_fails_alone_and_names_itself(instance, ledger, emulator, receipts, tmp_path):
    ids = submitted_documents(ledger, receipts)
    receipts[1].write_bytes(os.urandom(4096))  # corrupted after submission
    result = process_documents(instance, ledger, ids)
    assert result.success, "one bad document must not sink the batch"
    bad, *good = [ledger.get(ids[1])] + [ledger.get(ids[0]), ledger.get(ids[2])]
    assert bad.status == TaskStatus.FAILED and bad.error_step == "upload_and_extract"
    assert str(receipts[1]) in bad.error_message
    assert all(t.status == TaskStatus.COMPLETED for t in good)


def test_server_errors_are_retried_and_each_document_is_paid_for_once(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts)
    emulator.fail_next(2, status=503)
    result = process_documents(instance, ledger, ids)
    assert result.success
    assert events(result, DagsterEventType.STEP_UP_FOR_RETRY, "upload_and_extract")
    assert {t.status for t in ledger.get_many(ids)} == {TaskStatus.COMPLETED}
    assert emulator.total_paid_calls == len(ids)


def test_a_rate_limit_waits_for_retry_after_within_the_step(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts[:1])
    emulator.fail_next(1, status=429, retry_after=2)
    result = process_documents(instance, ledger, ids)
    assert result.success and ledger.get(ids[0]).status == TaskStatus.COMPLETED
    assert not events(result, DagsterEventType.STEP_UP_FOR_RETRY), "a 429 uses up no attempt"
    first, second = [r.received_at for r in emulator.requests if r.method == "POST"]
    assert second - first >= 2.0, "sent again only once Retry-After had passed"


def test_a_refused_document_fails_without_retry_with_the_apis_message(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts[:2])
    emulator.fail_next(1, status=400, body={"status": "fail", "error": "Corrupt file: cannot be processed"})
    result = process_documents(instance, ledger, ids)
    assert result.success
    assert not events(result, DagsterEventType.STEP_UP_FOR_RETRY)
    failed = [t for t in ledger.get_many(ids) if t.status == TaskStatus.FAILED]
    assert len(failed) == 1
    assert failed[0].error_class == "VeryfiRejected" and "Corrupt file: cannot be processed" in failed[0].error_message


def test_bad_credentials_fail_every_document_with_a_clear_reason(instance, ledger, emulator, receipts, monkeypatch):
    ids = submitted_documents(ledger, receipts[:1])
    emulator.fail_next(1, status=401)
    process_documents(instance, ledger, ids)
    task = ledger.get(ids[0])
    assert (task.status, task.error_class, task.error_step) == (
        TaskStatus.FAILED,
        "VeryfiRejected",
        "upload_and_extract",
    )
    assert "401" in task.error_message


def test_file_url_mode_hands_veryfi_a_presigned_s3_url(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts[:1])
    result = process_documents(instance, ledger, ids, resources=veryfi_overrides(upload_mode="file_url"))
    assert result.success and ledger.get(ids[0]).status == TaskStatus.COMPLETED
    sent = emulator.last_request
    assert "Signature=" in sent.json["file_url"] and "/orbit-documents/documents/" in sent.json["file_url"]
    assert sent.files == []


def test_a_timed_out_call_that_veryfi_processed_is_not_paid_for_again(instance, ledger, emulator, receipts):
    ids = submitted_documents(ledger, receipts[:1])
    emulator.timeout_next(1, seconds=1.5)  # answers after the client (1 s) gave up, before the retry
    result = process_documents(instance, ledger, ids, resources=veryfi_overrides(read_timeout=1.0))
    assert result.success
    retry = events(result, DagsterEventType.STEP_UP_FOR_RETRY, "upload_and_extract")
    assert retry, "the timed-out call must have been retried"
    assert retry[0].event_specific_data.seconds_to_wait >= 1.0, "it waits a read timeout for Veryfi to finish"
    key = ledger.get(ids[0]).payload["sha256"]
    assert emulator.calls_for(key) == 1, "the retry asked Veryfi for the document instead of sending it again"
    assert emulator.paid_calls_for(key) == 1


def test_documents_refused_by_veryfi_complete_after_a_re_execution_of_the_extract_step(
    instance, ledger, emulator, receipts
):
    ids = submitted_documents(ledger, receipts)
    emulator.fail_next(len(ids), status=401)  # bad credentials for the whole batch
    first = process_documents(instance, ledger, ids)
    assert {t.status for t in ledger.get_many(ids)} == {TaskStatus.FAILED}
    emulator.clear_faults()  # the operator fixed the credentials
    again = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions(
            parent_run_id=first.run_id, step_selection=["upload_and_extract", "store_documents", "summarize"]
        ),
    )
    assert again.success
    step = next(
        e
        for e in again.all_events
        if e.event_type == DagsterEventType.STEP_OUTPUT and e.step_key == "upload_and_extract"
    ).step_output_data.metadata
    assert (step["sent_to_s3"].value, step["already_in_s3"].value) == (0, len(ids)), "the uploads are reused"
    for task in ledger.get_many(ids):
        assert (task.status, task.run_id) == (TaskStatus.COMPLETED, again.run_id)
        assert emulator.paid_calls_for(task.payload["sha256"]) == 1
        assert ledger.run_ids(task.id) == [first.run_id, again.run_id]


def test_a_launch_with_inline_paths_and_s3_uris_records_and_processes_each(instance, ledger, emulator, receipts):
    s3 = boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"])
    s3.create_bucket(Bucket="incoming-scans")
    s3.upload_file(str(receipts[1]), "incoming-scans", "2026/03/receipt.pdf")
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={
            "ops": {
                "load_documents": {"config": {"paths": [str(receipts[0]), "s3://incoming-scans/2026/03/receipt.pdf"]}}
            }
        },
    )
    assert result.success
    tasks = ledger.list(kind="document")
    assert len(tasks) == 2 and {t.status for t in tasks} == {TaskStatus.COMPLETED}
    with ledger.engine.connect() as conn:
        summary = conn.execute(
            text("SELECT summary FROM orbit.run_summaries WHERE run_id = :r"), {"r": result.run_id}
        ).scalar()
    assert (summary["stored"], summary["failed"]) == (2, 0) and summary["totals"]["USD"]


def test_a_bad_s3_uri_is_refused_by_name(instance, ledger, emulator):
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"paths": ["s3://no-such-bucket/x.pdf"]}}}},
    )
    failure = events(result, DagsterEventType.STEP_FAILURE, "load_documents")[0]
    assert (
        "s3://no-such-bucket/x.pdf: could not be downloaded" in failure.step_failure_data.user_failure_data.description
    )


def test_a_document_task_with_a_bad_payload_fails_naming_the_field(instance, ledger, emulator, receipts):
    good = submitted_documents(ledger, receipts[:1])
    bad, _ = ledger.submit("document", {"path": "/x.pdf", "source_name": "x.pdf", "sha256": "nothex", "size_bytes": 1})
    ledger.claim_pending(limit=5)
    result = process_documents(instance, ledger, good + [bad.id])
    assert result.success and ledger.get(good[0]).status == TaskStatus.COMPLETED
    failed = ledger.get(bad.id)
    assert (failed.status, failed.error_class, failed.error_step) == (
        TaskStatus.FAILED,
        "InvalidPayload",
        "load_documents",
    )
    assert "sha256: String should match pattern" in failed.error_message


def test_a_document_is_stored_and_completed_while_the_rest_of_its_batch_is_still_extracted(
    instance, ledger, emulator, receipts
):
    ids = submitted_documents(ledger, receipts)
    emulator.faults.latency = 1.0  # one call at a time (concurrency 1): about a second per document
    with sampled(lambda: {t.id: t.status for t in ledger.get_many(ids)}) as seen:
        result = process_documents(instance, ledger, ids, resources=veryfi_overrides(concurrency=1))
    assert result.success
    # Some moment had one document's row stored and its task COMPLETED, another's call still to come.
    assert any(TaskStatus.COMPLETED in states.values() and TaskStatus.RUNNING in states.values() for states in seen), (
        seen[-3:]
    )
    assert len(documents_for_tasks(ledger.engine, ids)) == len(ids)


def test_a_batch_reports_how_many_of_its_documents_have_finished_as_it_goes(
    instance, ledger, emulator, receipts, monkeypatch
):
    from orbit_pipelines.runtime import progress
    from orbit_pipelines.runtime.tags import PROGRESS_TAG

    monkeypatch.setattr(progress, "INTERVAL_SECONDS", 0.5)
    ids = submitted_documents(ledger, receipts)
    emulator.faults.latency = 1.0  # one call at a time (concurrency 1): about a second per document

    def progress_tag():
        run_id = ledger.get(ids[0]).run_id
        run = instance.get_run_by_id(run_id) if run_id else None
        return run.tags.get(PROGRESS_TAG) if run is not None else None

    with sampled(progress_tag) as tags:
        result = process_documents(instance, ledger, ids, resources=veryfi_overrides(concurrency=1))
    seen = [t for t in tags if t is not None]
    assert result.success
    # The run's tag counted the batch up while it ran, and ends with all of it.
    assert [v for v in dict.fromkeys(seen) if v != "3/3"], seen
    assert instance.get_run_by_id(result.run_id).tags[PROGRESS_TAG] == "3/3"
    said = [e.user_message for e in instance.all_logs(result.run_id) if e.user_message.startswith("finished ")]
    assert said[-1] == "finished 3 of 3 documents (100%)", said
    assert len(said) >= 2, said  # a line as it went, and the last

"""What an operator sees on a run without opening its logs: tags to find it on the Runs page, and step
metadata (counts, tables, S3 links, Veryfi figures, what to do about a failure). Real runs on the
Postgres-backed instance against the local S3 server and the Veryfi emulator."""

import re

from click.testing import CliRunner
from dagster import DagsterEventType, execute_job

from orbit_pipelines.cli import main
from orbit_pipelines.jobs.document_processing.intake import submit_document
from orbit_pipelines.jobs.document_processing.store import documents_for_tasks
from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.local.sample_documents import write_sample_set
from orbit_pipelines.runtime.remediation import DEFAULT_HINT, HINTS, remediation_for
from orbit_pipelines.runtime.tags import run_tags
from orbit_pipelines_tests.support import ROOT, recon_job

ORBIT_SOURCE = ROOT / "orbit_pipelines"


def outputs(result, step):
    """The metadata of a step's output, as the run page shows it."""
    event = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_OUTPUT and e.step_key == step)
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def submitted(ledger, paths):
    ids = [submit_document(ledger, p)[0].id for p in paths]
    ledger.claim_pending(limit=len(ids), kinds=["document"], batch_size=len(ids))
    return ids


def test_a_lone_document_run_is_tagged_with_its_document_key_and_a_batch_with_its_batch(ledger, tmp_path):
    kind = get_kind("document")
    one = ledger.get_many(submitted(ledger, write_sample_set(tmp_path / "one", n=1)))
    batch = ledger.get_many(submitted(ledger, write_sample_set(tmp_path / "many", n=3)[1:]))
    assert kind.tags_for(one) == {
        "orbit/task_id": str(one[0].id),
        "orbit/kind": "document",
        "orbit/lane": "async",
        "dagster/priority": "0",
        "dagster/max_runtime": "3600",  # the kind's run budget
        "orbit/document_key": one[0].payload["sha256"],
    }
    tags = kind.tags_for(batch)
    assert tags["orbit/batch"] == batch[0].dispatch_key and tags["orbit/batch_size"] == "2"
    assert "orbit/document_key" not in tags and "orbit/task_id" not in tags


def test_a_launchpad_launch_of_one_file_gets_the_same_tags_as_a_dispatched_one(instance, ledger, emulator, tmp_path):
    (path,) = write_sample_set(tmp_path, n=1)
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"paths": [str(path)]}}}},
    )
    assert result.success
    (task,) = ledger.list(kind="document")
    tags = instance.get_run_by_id(result.run_id).tags
    assert (tags["orbit/task_id"], tags["orbit/document_key"], tags["orbit/kind"], tags["orbit/lane"]) == (
        str(task.id),
        task.payload["sha256"],
        "document",
        "async",
    )


def test_a_document_run_shows_totals_per_document_s3_objects_and_veryfi_figures(instance, ledger, emulator, tmp_path):
    ids = submitted(ledger, write_sample_set(tmp_path, n=3))
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"task_ids": ids}}}},
        tags=run_tags(ledger.get_many(ids)),
    )
    assert result.success
    keys = [t.payload["sha256"] for t in ledger.get_many(ids)]

    loaded = outputs(result, "load_documents")
    assert loaded["documents"] == 3 and all(k in loaded["files"] for k in keys)

    uploaded = extracted = outputs(result, "upload_and_extract")
    # The local S3 server lives for the whole session: an earlier test may have stored the same content.
    assert uploaded["uploaded"] == uploaded["sent_to_s3"] + uploaded["already_in_s3"] == 3
    for key in keys:
        assert re.search(rf"`s3://orbit-documents/documents/{key[:2]}/{key}\.\w+`", uploaded["objects"])
    assert "first_object_in_console" not in uploaded, "the local S3 server has no console to link to"

    assert extracted["veryfi_calls"] == 3 and extracted["veryfi_calls_by_status_class"] == {"2xx": 3}
    assert extracted["veryfi_latency_max_s"] >= extracted["veryfi_latency_median_s"] > 0
    assert extracted["veryfi_documents"].count("| 1000") == 3, "each document's Veryfi id is listed"

    summary = outputs(result, "summarize")["documents"]
    header, _, *rows = summary.strip().splitlines()
    assert header == "| task | file | vendor | date | subtotal | tax | total | currency | object |"
    shown = {int(cells[0]): cells for cells in ([c.strip() for c in row.strip("| ").split(" | ")] for row in rows)}
    for doc in documents_for_tasks(ledger.engine, ids):
        assert shown[doc["task_id"]][1:8] == [
            doc["source_name"],
            doc["vendor_name"],
            doc["document_date"].date().isoformat(),
            str(doc["subtotal"]),
            str(doc["tax"]),
            str(doc["total"]),
            doc["currency"],
        ]
        assert shown[doc["task_id"]][8] == f"`s3://{doc['s3_bucket']}/{doc['s3_key']}`"


def test_an_aws_bucket_links_each_object_to_its_console_page(monkeypatch):
    from orbit_pipelines.resources.documents import DocumentStorage

    # A test process that started the local S3 server exports its endpoint; this bucket is AWS's.
    monkeypatch.delenv("ORBIT_S3_ENDPOINT_URL", raising=False)

    aws = DocumentStorage(region_name="eu-west-1", bucket="receipts")
    assert aws.link_markdown("documents/ab/abc.pdf") == (
        "[s3://receipts/documents/ab/abc.pdf](https://s3.console.aws.amazon.com/s3/object/receipts"
        "?region=eu-west-1&prefix=documents/ab/abc.pdf)"
    )
    local = DocumentStorage(endpoint_url="http://127.0.0.1:9000", bucket="receipts")
    assert local.console_url("x.pdf") is None


def test_a_permanent_failure_says_what_to_do_in_the_step_and_the_run_log(instance, ledger):
    from orbit_pipelines_tests.support import run_config_for

    task, _ = ledger.submit("decomposition", {"description": "no title here"})
    ledger.claim_pending(limit=1)
    result = execute_job(
        recon_job("task_decomposition"), instance=instance, run_config=run_config_for(task.id), raise_on_error=False
    )
    failure = next(e for e in result.all_events if e.event_type == DagsterEventType.STEP_FAILURE)
    metadata = failure.step_failure_data.user_failure_data.metadata
    assert metadata["error_class"].value == "InvalidPayload"
    assert metadata["remediation"].value == HINTS["InvalidPayload"]
    logs = [r.user_message for r in instance.all_logs(result.run_id)]
    assert f"load_task failed: InvalidPayload. What to do: {HINTS['InvalidPayload']}" in logs
    dead_letters = CliRunner().invoke(main, ["dlq", "list"]).output
    assert f"task {task.id} (decomposition)" in dead_letters
    assert f"what to do: {HINTS['InvalidPayload']}" in dead_letters


def test_a_failed_document_in_a_batch_is_listed_with_what_to_do(instance, ledger, emulator, tmp_path):
    ids = submitted(ledger, write_sample_set(tmp_path, n=2))
    emulator.fail_next(1, status=400, body={"status": "fail", "error": "Corrupt file"})
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"task_ids": ids}}}},
        tags=run_tags(ledger.get_many(ids)),
    )
    assert result.success
    failures = outputs(result, "summarize")["failures"]
    assert "VeryfiRejected" in failures and remediation_for("VeryfiRejected") in failures


def test_every_error_class_the_code_raises_has_its_own_hint():
    """A new error class without a hint would leave operators with the generic advice."""
    source = "\n".join(p.read_text() for p in [*ORBIT_SOURCE.rglob("*.py"), *ORBIT_SOURCE.rglob("*.j2")])
    raised = set()
    for call in re.finditer(r"(permanent_failure|\.failed|FailureDetails|error=)\(", source):
        # The class is the first quoted CamelCase word that is an argument of its own.
        found = re.search(r'(?:^|,)\s*"([A-Z][A-Za-z]+)"', source[call.end() : call.end() + 400])
        if found:
            raised.add(found.group(1))
    assert {"InvalidPayload", "BadDocument", "TransientErrorsExhausted", "RunLost", "WrongKind"} <= raised, raised
    missing = {c for c in raised if remediation_for(c) == DEFAULT_HINT}
    assert not missing, f"error classes without a remediation hint: {sorted(missing)}"

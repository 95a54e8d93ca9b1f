"""A document batch paused while it extracts (runtime/batch_pause.py in upload_and_extract), on the
Postgres-backed instance with the Veryfi emulator over HTTP: the emulator holds the calls in flight until the
step has seen the pause, so the pause lands mid-batch every time. The calls in flight are answered and
stored, no call starts after the pause, the documents not started are PAUSED, the run stops before
store_documents; re-executing what a resume re-executes finishes the batch with every document paid once."""

import threading
import time

import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.checkpoints import task_checkpoints
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.ledger.pauses import pause_request, request_pause
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.task_control import (
    PauseAsked,
    Refused,
    job_of,
    rollback,
    steps_to_resume,
    wait_for_pause,
)
from orbit_pipelines_tests.support import process_documents, recon_job, submitted_documents, veryfi_overrides

CONCURRENCY = 2


def run_log(instance, run_id) -> list[str]:
    return [r.event_log_entry.user_message for r in instance.get_records_for_run(run_id).records]


def step_starts(instance, run_id) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return [r.event_log_entry.step_key for r in records]


def wait_for(predicate, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def paused_while_in_flight(instance, ledger, emulator, ids):
    """Run the batch with its calls held; once CONCURRENCY are in flight ask for a pause, and let them
    answer once the step says it has seen it. The run's result."""
    failures: list[BaseException] = []

    def pause_then_release() -> None:
        try:
            wait_for(lambda: emulator.faults.held == CONCURRENCY, "the first calls to be in flight")
            run_id = ledger.get(ids[0]).run_id
            request_pause(ledger, run_id, "ana")
            wait_for(lambda: any("pause asked by ana seen in" in m for m in run_log(instance, run_id)), "the pause")
        except BaseException as exc:
            failures.append(exc)
        finally:
            emulator.faults.release()

    emulator.faults.hold()
    helper = threading.Thread(target=pause_then_release, daemon=True)
    helper.start()
    result = process_documents(instance, ledger, ids, resources=veryfi_overrides(concurrency=CONCURRENCY))
    helper.join(10)
    if failures:
        raise failures[0]
    return result


@pytest.fixture
def documents(ledger, tmp_path):
    def make(n: int) -> tuple[list[int], dict[int, str]]:
        paths = write_unique_sample_set(tmp_path / "docs", n, salt=f"batch pause {time.time_ns()}")
        ids = submitted_documents(ledger, paths)
        return ids, {t.id: t.payload["sha256"] for t in ledger.get_many(ids)}

    return make


def test_a_batch_paused_while_extracting_stores_what_was_in_flight_and_pauses_the_rest(
    instance, ledger, emulator, documents
):
    ids, keys = documents(5)
    result = paused_while_in_flight(instance, ledger, emulator, ids)
    assert result.success  # as a run the gate paused: SUCCESS, not FAILURE
    assert step_starts(instance, result.run_id) == ["load_documents", "upload_and_extract"]
    status = {t.id: t.status for t in ledger.get_many(ids)}
    completed = [i for i in ids if status[i] == TaskStatus.COMPLETED]
    paused = [i for i in ids if status[i] == TaskStatus.PAUSED]
    assert (len(completed), len(paused)) == (CONCURRENCY, len(ids) - CONCURRENCY)
    # The calls in flight were answered and paid for, and no other call started.
    assert emulator.total_process_calls == emulator.total_paid_calls == len(completed)
    assert all(emulator.paid_calls_for(keys[i]) == 1 for i in completed)
    for task_id in paused:
        notes = [e["note"] for e in ledger.events(task_id) if e["run_id"] == result.run_id]
        assert notes[-1] == "paused in upload_and_extract by ana after 2 of 5 documents"
        # The step did not complete for it: no checkpoint of it in its history (a completed one has it).
        assert not any(n.startswith("checkpoint upload_and_extract") for n in notes)
    assert any(e["note"].startswith("checkpoint upload_and_extract") for e in ledger.events(completed[0]))
    request = pause_request(ledger, result.run_id)
    assert (request.paused_after, request.cut_short) == ("upload_and_extract", True)
    said = run_log(instance, result.run_id)
    assert any(
        m.startswith("paused in upload_and_extract at the request of ana: steps not run: store_documents, summarize")
        for m in said
    )
    (output,) = [e for e in result.all_events if e.is_successful_output and e.step_key == "upload_and_extract"]
    assert output.step_output_data.metadata["paused"].value == len(paused)

    # So it cannot be rolled back to that step (its later steps would find no answer for it).
    steps_done = [(c.run_id, c.step) for c in task_checkpoints(instance, ledger, paused[0])]
    assert steps_done == [(result.run_id, "load_documents")]
    assert (result.run_id, "upload_and_extract") in [
        (c.run_id, c.step) for c in task_checkpoints(instance, ledger, completed[0])
    ]
    with pytest.raises(Refused, match=f"step upload_and_extract has no checkpoint for task {paused[0]}"):
        rollback(ledger, instance, None, paused[0], "upload_and_extract", "ana", "redo")

    # What `orbit task pause` says, of a paused document and of one completed before the pause.
    asked = PauseAsked(result.run_id, ids)
    where = f"in upload_and_extract, at a boundary between its items (run {result.run_id})"
    assert wait_for_pause(ledger, instance, asked, paused[0], 1) == (
        f"task {paused[0]} is PAUSED {where}; `orbit task resume {paused[0]}` continues it"
    )
    assert wait_for_pause(ledger, instance, asked, completed[0], 1) == (
        f"task {completed[0]} is COMPLETED (done before the pause); its batch is PAUSED {where}: tasks "
        f"{', '.join(map(str, paused))}; `orbit task resume {completed[0]}` continues them"
    )

    # What `orbit task resume` re-executes: the step cut short, for the paused documents, and the rest.
    steps = steps_to_resume(instance, result.run_id, job_of(ledger.get(ids[0])), request)
    assert steps == ["upload_and_extract", "store_documents", "summarize"]
    for task_id in paused:
        ledger.transition(task_id, TaskStatus.QUEUED, note="resumed")
    resumed = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        reexecution_options=ReexecutionOptions(result.run_id, step_selection=steps),
    )
    assert resumed.success
    assert {t.status for t in ledger.get_many(ids)} == {TaskStatus.COMPLETED}
    assert all(emulator.paid_calls_for(keys[i]) == 1 for i in ids)
    assert emulator.total_process_calls == len(ids)


def test_a_pause_seen_with_every_document_in_flight_leaves_nothing_to_pause_and_the_batch_ends(
    instance, ledger, emulator, documents
):
    ids, keys = documents(CONCURRENCY)
    result = paused_while_in_flight(instance, ledger, emulator, ids)
    assert result.success
    assert {t.status for t in ledger.get_many(ids)} == {TaskStatus.COMPLETED}
    assert all(emulator.paid_calls_for(keys[i]) == 1 for i in ids)
    # Nothing was left to pause, so the gate let the batch's summary run.
    assert step_starts(instance, result.run_id)[-1] == "summarize"
    assert pause_request(ledger, result.run_id).paused_after is None

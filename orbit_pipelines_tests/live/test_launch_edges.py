"""Launchpad and GraphQL launches at their edges, on the live stack, as an integrator sends them: input
that is incomplete or out of range is refused naming the field, permanently (one attempt), and every
launch the runs count ends in the ledger; a batch's failed documents show on the run and are retried
with `orbit dlq retry`; a lone document's failure is its run's."""

import uuid

import pytest
from dagster import DagsterEventType, RunsFilter

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_text_receipt
from orbit_pipelines.operations import OperationError
from orbit_pipelines_tests.live.stack import RUN_ID, finished, orbit, run_finished, step_failures

pytestmark = pytest.mark.services

_DEFAULT_CONFIG = """
query($selector: PipelineSelector!) {
  runConfigSchemaOrError(selector: $selector) { ... on RunConfigSchema { rootDefaultYaml } }
}"""


def launchpad_defaults(stack, job_name: str) -> str:
    selector = {
        "repositoryLocationName": "orbit_pipelines",
        "repositoryName": "__repository__",
        "pipelineName": job_name,
    }
    return stack.api._call(_DEFAULT_CONFIG, {"selector": selector})["runConfigSchemaOrError"]["rootDefaultYaml"]


def inline_task(task: dict, priority: int = 0) -> dict:
    return {"ops": {"load_task": {"config": {"task": task, "priority": priority}}}}


def document_paths(*paths) -> dict:
    return {"ops": {"load_documents": {"config": {"paths": [str(p) for p in paths]}}}}


def fresh_receipts(folder, n: int) -> list:
    """Receipts no other test has sent (the sample set's content repeats, and content is what counts)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        write_text_receipt(
            folder / f"receipt-{i}.txt", f"Edge Cafe {uuid.uuid4().hex[:8]}", "2026-03-04", [("Tea", 1, "3.10")]
        )
        for i in range(n)
    ]


def step_attempts(stack, run_id: str) -> dict[str, int]:
    return {s.step_key: s.attempts for s in stack.instance.get_run_step_stats(run_id)}


def refused_task(stack, run_id: str):
    (task,) = [t for t in stack.ledger.tasks_for_run(run_id) if t.status == TaskStatus.FAILED]
    return task


def test_the_launchpad_starts_with_the_sample_task_and_no_endpoint(stack):
    decomposition = launchpad_defaults(stack, "task_decomposition")
    assert "title: Invoice export API" in decomposition
    for job_name in ("task_decomposition", "document_processing"):
        assert "127.0.0.1" not in launchpad_defaults(stack, job_name), "endpoints are resolved when a run starts"


def test_a_partial_inline_task_is_refused_at_launch_naming_the_missing_field(stack):
    with pytest.raises(OperationError, match='Missing required config entry "description"'):
        stack.api.launch(
            "task_decomposition", inline_task({"title": "Only title"}), {"orbit/idempotency_key": "partial"}
        )
    assert stack.ledger.find_by_key("partial") is None, "nothing was decomposed under the user's title"


def test_an_inline_task_over_its_limits_fails_once_naming_the_field_as_a_dead_letter(stack):
    run_id = stack.api.launch("task_decomposition", inline_task({"title": "t" * 201, "description": "Export invoices"}))
    assert run_finished(stack, run_id) == "FAILURE"
    assert step_attempts(stack, run_id) == {"load_task": 1}, "invalid input is never retried"
    task = refused_task(stack, run_id)
    assert (task.error_class, task.error_step) == ("InvalidPayload", "load_task")
    assert "task.title: String should have at most 200 characters" in task.error_message
    assert f"task {task.id} (decomposition) run {run_id} step load_task" in orbit(stack, "dlq", "list").stdout


def test_an_out_of_range_priority_fails_once_saying_the_range(stack):
    task = {"title": "Export invoices", "description": "Export invoices as CSV"}
    run_id = stack.api.launch("task_decomposition", inline_task(task, priority=1_000_000))
    assert run_finished(stack, run_id) == "FAILURE"
    assert step_attempts(stack, run_id) == {"load_task": 1}
    refused = refused_task(stack, run_id)
    assert refused.error_message == "priority: must be between -100 and 100, got 1000000"
    assert refused.payload == {**task, **{k: [] for k in refused.payload if k not in task}}, "what was sent is kept"


@pytest.mark.parametrize(
    "paths, reason",
    [
        (lambda tmp: [tmp / "missing.pdf"], "missing.pdf: file not found"),
        (lambda tmp: [tmp], "is a folder; name its files"),
        (lambda tmp: [], "paths: nothing to process"),
    ],
    ids=["missing-file", "folder", "no-paths"],
)
def test_a_launch_refused_on_its_paths_is_a_dead_letter_naming_why(stack, tmp_path, paths, reason):
    run_id = stack.api.launch("document_processing", document_paths(*paths(tmp_path)))
    assert run_finished(stack, run_id) == "FAILURE"
    assert step_attempts(stack, run_id) == {"load_documents": 1}
    task = refused_task(stack, run_id)
    assert reason in task.error_message
    assert f"task {task.id} (document) run {run_id} step load_documents" in orbit(stack, "dlq", "list").stdout


def test_one_bad_path_does_not_sink_the_launch_and_the_run_counts_it(stack, emulator, tmp_path):
    (good,) = fresh_receipts(tmp_path / "docs", 1)
    run_id = stack.api.launch("document_processing", document_paths(good, tmp_path / "gone.pdf"))
    assert run_finished(stack, run_id) == "SUCCESS"
    assert stack.api.run(run_id)["tags"]["orbit/failed_items"] == "1"
    statuses = {t.payload["path"]: t.status for t in stack.ledger.tasks_for_run(run_id)}
    assert statuses == {str(good.resolve()): TaskStatus.COMPLETED, str(tmp_path / "gone.pdf"): TaskStatus.FAILED}


def test_a_refused_file_put_back_and_re_executed_completes_and_leaves_the_dead_letters(stack, emulator, tmp_path):
    (made,) = fresh_receipts(tmp_path / "made", 1)
    target = tmp_path / f"late{made.suffix}"
    run_id = stack.api.launch("document_processing", document_paths(target))
    assert run_finished(stack, run_id) == "FAILURE"
    refused = refused_task(stack, run_id)

    made.rename(target)  # the integrator fixes the cause, then re-executes, then follows the new run
    new_run = orbit(stack, "rerun", run_id).stdout.split()[2]
    assert run_finished(stack, new_run) == "SUCCESS", step_failures(stack, new_run)
    (done,) = stack.ledger.tasks_for_run(new_run)
    assert done.status == TaskStatus.COMPLETED and done.payload["path"] == str(target)
    assert f"task {refused.id} " not in orbit(stack, "dlq", "list").stdout
    assert stack.ledger.get(refused.id).discard_reason == (
        f"the input was corrected: it ran as task {done.id} in run {new_run}"
    )


def _failures_table(stack, run_id: str) -> str:
    for record in stack.instance.all_logs(run_id, of_type=DagsterEventType.STEP_OUTPUT):
        event = record.dagster_event
        if event.step_key == "summarize":
            return event.step_output_data.metadata["failures"].value
    raise AssertionError(f"run {run_id} has no summary")


def test_a_batch_with_a_failed_document_says_so_and_dlq_retry_runs_that_one_again(stack, emulator, tmp_path):
    paths = fresh_receipts(tmp_path / "docs", 2)
    emulator.faults.fail_next(1, 400)  # Veryfi refuses one of the two, for good
    orbit(stack, "doc", "submit", *map(str, paths))
    tasks = [t for t in stack.ledger.list(kind="document") if t.payload.get("path") in {str(p) for p in paths}]
    ended = {t.id: finished(stack, t.id, timeout=180) for t in tasks}
    (failed,) = [t for t in ended.values() if t.status == TaskStatus.FAILED]
    batch = failed.run_id
    assert run_finished(stack, batch) == "SUCCESS", step_failures(stack, batch)
    assert stack.api.run(batch)["tags"]["orbit/failed_items"] == "1"
    assert "`orbit dlq retry TASK_ID`" in _failures_table(stack, batch)

    (new_run,) = RUN_ID.findall(orbit(stack, "dlq", "retry", str(failed.id)).stdout)
    assert run_finished(stack, new_run) == "SUCCESS"
    assert (stack.ledger.get(failed.id).status, stack.ledger.get(failed.id).run_id) == (TaskStatus.COMPLETED, new_run)
    assert stack.api.run(new_run)["tags"]["orbit/task_id"] == str(failed.id), "the retried task has a run of its own"


def test_a_lone_document_that_fails_fails_its_run_which_its_task_id_finds(stack, emulator, tmp_path):
    (path,) = fresh_receipts(tmp_path / "docs", 1)
    emulator.faults.fail_next(1, 400)
    run_id = stack.api.launch("document_processing", document_paths(path))
    assert run_finished(stack, run_id) == "FAILURE"
    (task,) = stack.ledger.tasks_for_run(run_id)
    assert (task.status, task.error_class) == (TaskStatus.FAILED, "VeryfiRejected")
    found = stack.instance.get_runs(RunsFilter(tags={"orbit/task_id": str(task.id)}))
    assert [(r.run_id, r.status.value) for r in found] == [(run_id, "FAILURE")]


def test_dlq_retry_of_an_answer_with_no_document_reads_the_stored_answer_and_calls_veryfi_no_more(
    stack, emulator, tmp_path
):
    paths = fresh_receipts(tmp_path / "docs", 2)
    emulator.fail_next(1, 201, body={"status": "processed"})  # one of the two gets a 2xx with no document
    orbit(stack, "doc", "submit", *map(str, paths))
    wanted = {str(p.resolve()) for p in paths}
    tasks = [
        finished(stack, t.id, timeout=180)
        for t in stack.ledger.list(kind="document")
        if t.payload.get("path") in wanted
    ]
    (failed,) = [t for t in tasks if t.status == TaskStatus.FAILED]
    (done,) = [t for t in tasks if t.status == TaskStatus.COMPLETED]
    assert failed.error_class == "UnusableVeryfiAnswer" and run_finished(stack, failed.run_id) == "SUCCESS"
    key = failed.payload["sha256"]
    assert emulator.calls_for(key) == 1

    # The batch succeeded: the retry is a new run, which finds the stored answer and sends nothing.
    (new_run,) = RUN_ID.findall(orbit(stack, "dlq", "retry", str(failed.id)).stdout)
    assert run_finished(stack, new_run) == "FAILURE"
    assert stack.ledger.get(failed.id).error_class == "UnusableVeryfiAnswer"
    assert emulator.calls_for(key) == 1, "the retry read the stored answer; Veryfi was not asked again"
    assert emulator.paid_calls_for(done.payload["sha256"]) == 1

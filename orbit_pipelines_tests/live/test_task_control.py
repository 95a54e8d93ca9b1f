"""Checkpoints, rollback, reset, pause and resume of one task, through `orbit task ...` on the live stack
(gRPC code server, webserver, daemon): on real decomposition runs and on a document batch, with the
Veryfi emulator counting what is paid."""

import json
import time
import uuid

import pytest
from dagster import DagsterEventType

from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.observability.webhooks.events import WebhookEvent
from orbit_pipelines_tests.live.stack import (
    RUN_ID,
    finished,
    orbit,
    released_once_a_pause_is_asked,
    released_once_the_pause_is_seen,
    run_finished,
    task_ids_of,
    wait_for,
)
from orbit_pipelines_tests.support import veryfi_overrides

pytestmark = pytest.mark.services

DECOMPOSITION_STEPS = ["load_task", "decompose_task", "enrich_subtasks", "generate_prompts", "store_results"]


def step_starts(stack, run_id) -> list[str]:
    records = stack.instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_START).records
    return [r.event_log_entry.step_key for r in records]


def refused(result) -> str:
    """The one line a refused command printed, after checking it was refused with exit status 2."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def new_run(output: str, *old: str) -> str:
    (run_id,) = [r for r in dict.fromkeys(RUN_ID.findall(output)) if r not in old]
    return run_id


def checkpoints(stack, task_id) -> list[dict]:
    return json.loads(orbit(stack, "task", "checkpoints", str(task_id), "--json").stdout)


def history_notes(stack, task_id) -> list[str]:
    return [e["note"] or "" for e in stack.ledger.events(task_id)]


def test_every_completed_step_of_a_decomposition_is_a_checkpoint_with_a_summary(stack, completed_decomposition):
    task_id, run_id = completed_decomposition
    listed = checkpoints(stack, task_id)
    assert [(c["step"], c["run_id"], c["superseded"]) for c in listed] == [
        (s, run_id, False) for s in DECOMPOSITION_STEPS
    ]
    decomposed = next(c for c in listed if c["step"] == "decompose_task")
    assert "subtasks: " in decomposed["summary"]
    # Each is a fact in the task's history too, which the event stream carries.
    recorded = [n for n in history_notes(stack, task_id) if n.startswith("checkpoint ")]
    assert [n.split(":")[0] for n in recorded] == [f"checkpoint {s}" for s in DECOMPOSITION_STEPS]
    assert recorded[1] == f"checkpoint decompose_task: {decomposed['summary']}"
    table = orbit(stack, "task", "checkpoints", str(task_id)).stdout
    assert "decompose_task" in table and "current" in table and f"orbit task rollback {task_id} --to STEP" in table


def test_rollback_to_a_middle_step_reexecutes_only_the_later_steps_and_supersedes_their_checkpoints(
    stack, completed_decomposition
):
    task_id, first = completed_decomposition
    result = orbit(
        stack, "task", "rollback", str(task_id), "--to", "decompose_task", "--reason", "stale prompts", "--by", "ana"
    )
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=120) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED

    # decompose_task's stored output is reused: no step event of it (or of load_task) in the new run.
    assert step_starts(stack, second) == ["enrich_subtasks", "generate_prompts", "store_results"]
    listed = {(c["step"], c["run_id"]): c for c in checkpoints(stack, task_id)}
    assert not listed[("decompose_task", first)]["superseded"]
    for step in ("enrich_subtasks", "generate_prompts", "store_results"):
        old, redone = listed[(step, first)], listed[(step, second)]
        assert old["superseded"] and "rolled back to decompose_task by ana: stale prompts" in old["superseded_why"]
        assert not redone["superseded"]
    (note,) = [n for n in history_notes(stack, task_id) if n.startswith("rolled back to decompose_task by ana")]
    assert note.startswith("rolled back to decompose_task by ana: stale prompts; re-executing enrich_subtasks, ")
    assert f"supersedes checkpoint store_results of run {first}" in note
    kept = json.loads(orbit(stack, "task", "superseded", str(task_id), "--json").stdout)
    assert {k["table_name"] for k in kept} == {"subtasks", "prompts"} and {k["run_id"] for k in kept} == {first}
    # The task was RUNNING while the re-execution's steps ran (the last step's checkpoint comes after it
    # completed), and its status went QUEUED -> RUNNING -> COMPLETED under the new run, once each.
    rows = [e for e in stack.ledger.events(task_id) if e["run_id"] == second]
    during = [
        e["from_status"] for e in rows if (e["note"] or "").startswith(("checkpoint enrich", "checkpoint generate"))
    ]
    assert during == ["RUNNING", "RUNNING"], rows
    changes = [(e["from_status"], e["to_status"]) for e in rows if e["from_status"] != e["to_status"]]
    assert changes == [("QUEUED", "RUNNING"), ("RUNNING", "COMPLETED")], rows


def test_reset_runs_a_completed_task_again_from_the_start_keeping_its_old_result(stack, completed_decomposition):
    task_id, first = completed_decomposition
    _, prompts_before = load_plan(stack.ledger.engine, task_id)
    result = orbit(stack, "task", "reset", str(task_id), "--reason", "new standards", "--by", "ana")
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=120) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    assert step_starts(stack, second) == DECOMPOSITION_STEPS
    assert stack.ledger.get(task_id).run_id == second

    kept = json.loads(orbit(stack, "task", "superseded", str(task_id), "--json").stdout)
    old_prompts = [k["row_data"]["text"] for k in kept if k["table_name"] == "prompts" and k["run_id"] == first]
    assert sorted(old_prompts) == sorted(p.text for p in prompts_before)
    assert all(k["reason"] == "reset by ana: new standards" and k["by_run_id"] == second for k in kept)
    assert "reset by ana: new standards" in orbit(stack, "task", "show", str(task_id)).stdout
    assert all(c["superseded"] for c in checkpoints(stack, task_id) if c["run_id"] == first)


def test_rollback_and_reset_refuse_what_cannot_be_done_naming_the_step(stack, completed_decomposition):
    task_id, _ = completed_decomposition
    line = refused(orbit(stack, "task", "rollback", str(task_id), "--to", "polish", check=False))
    assert line.startswith("Error: job task_decomposition has no step 'polish'; its steps: load_task, decompose_task")
    line = refused(orbit(stack, "task", "rollback", str(task_id), "--to", "store_results", check=False))
    assert line.startswith("Error: step store_results is the last step of task_decomposition")
    line = refused(orbit(stack, "task", "rollback", "999999", "--to", "load_task", check=False))
    assert line == "Error: task 999999 does not exist; `orbit task list` shows the tasks there are"


def test_pause_lets_the_running_step_finish_and_resume_continues_from_the_next(stack, slow_model_decomposition):
    task_id, first = slow_model_decomposition
    result = orbit(stack, "task", "pause", str(task_id), "--by", "ana")
    assert f"task {task_id} is PAUSED after decompose_task (run {first})" in result.stdout
    assert run_finished(stack, first) == "SUCCESS"
    assert stack.ledger.get(task_id).status == TaskStatus.PAUSED
    # The model's answer was awaited (the step completed); the next step never started.
    assert step_starts(stack, first) == ["load_task", "decompose_task"]
    assert "paused after decompose_task by ana" in history_notes(stack, task_id)
    assert f"{task_id} " in orbit(stack, "task", "list", "--status", "PAUSED").stdout

    def paused_events():
        events = [WebhookEvent.model_validate_json(r["raw"]) for r in stack.webhooks.received]
        return [e for e in events if e.task.id == task_id and e.type == "task.paused"]

    wait_for(paused_events, 60, "task.paused at the webhook receiver", stack.logs)
    # Not an interrupted run: `orbit recover` (and `orbit up --recover`) leave it paused.
    interrupted = json.loads(orbit(stack, "runs", "interrupted", "--json").stdout)
    assert first not in [r["run_id"] for r in interrupted]

    line = refused(orbit(stack, "task", "pause", str(task_id), check=False))
    assert line == f"Error: task {task_id} is PAUSED already; `orbit task resume {task_id}` continues it"
    line = refused(orbit(stack, "task", "rollback", str(task_id), "--to", "enrich_subtasks", check=False))
    assert line.startswith(f"Error: step enrich_subtasks has no checkpoint for task {task_id}")

    result = orbit(stack, "task", "resume", str(task_id), "--by", "ana")
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=120) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    assert step_starts(stack, second) == ["enrich_subtasks", "generate_prompts", "store_results"]
    assert any(n.startswith("resumed by ana") for n in history_notes(stack, task_id))


def test_a_running_task_cannot_be_rolled_back_and_a_finished_one_cannot_be_paused(
    stack, model, slow_model_decomposition
):
    task_id, run_id = slow_model_decomposition
    line = refused(orbit(stack, "task", "rollback", str(task_id), "--to", "load_task", check=False))
    assert line.startswith(f"Error: task {task_id} is RUNNING (run {run_id}): it cannot roll it back while a run")
    model.release()
    assert run_finished(stack, run_id, timeout=120) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    line = refused(orbit(stack, "task", "pause", str(task_id), check=False))
    assert line == (
        f"Error: task {task_id} is COMPLETED: its run {run_id} has already finished, there is nothing to pause"
    )


def test_rollback_of_a_document_batch_pays_veryfi_nothing_twice(stack, emulator, tmp_path):
    paths = write_unique_sample_set(tmp_path / "docs", 3, salt=f"rollback {time.time_ns()}")
    orbit(stack, "doc", "submit", *map(str, paths), "--wait", "180")
    ids = task_ids_of(stack, paths)
    first = stack.ledger.get(ids[0]).run_id
    assert all(stack.ledger.get(i).status == TaskStatus.COMPLETED and stack.ledger.get(i).run_id == first for i in ids)
    paid = emulator.total_process_calls

    result = orbit(stack, "task", "rollback", str(ids[0]), "--to", "load_documents", "--reason", "re-store")
    assert f"tasks {', '.join(map(str, ids))} rolled back to load_documents" in result.stdout
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=180) == "SUCCESS"
    assert all(finished(stack, i).status == TaskStatus.COMPLETED for i in ids)
    assert step_starts(stack, second) == ["upload_and_extract", "store_documents", "summarize"]
    assert emulator.total_process_calls == paid  # the stored Veryfi answers were used
    for task_id in ids:
        assert stack.ledger.get(task_id).run_id == second
        assert any("rolled back to load_documents" in n for n in history_notes(stack, task_id))


def test_pausing_one_task_of_a_batch_pauses_all_of_it_and_resume_finishes_it(stack, model, tmp_path):
    # Two tasks held back from the dispatch sensor, then launched as one batch run whose model holds its
    # answers until the pause is asked: the run is in decompose_task until then.
    orbit(stack, "pause", "--kind", "decomposition", "--reason", "a batch launched by hand")
    try:
        ids = []
        for n in range(2):
            payload = tmp_path / f"task{n}.json"
            payload.write_text(json.dumps({"title": f"Batch {n} {uuid.uuid4().hex[:8]}", "description": "Export CSV."}))
            ids.append(int(orbit(stack, "task", "submit", "--payload", str(payload), "--no-launch").stdout.split()[2]))
        model.reset()
        model.next("held", "held")
        config = {
            "ops": {"load_task": {"config": {"task_ids": ids}}, "decompose_task": {"config": {"strategy": "llm"}}},
            "resources": {"llm": {"config": {"base_url": model.base_url, "model": "emulator"}}},
        }
        first = stack.api.launch("task_decomposition", config)
        wait_for(lambda: model.requests, 90, "the model to be asked", stack.logs)
    finally:
        orbit(stack, "resume", "--kind", "decomposition")

    with released_once_a_pause_is_asked(stack, model, first):
        result = orbit(stack, "task", "pause", str(ids[0]), "--by", "ana")
    assert f"its batch: tasks {ids[0]}, {ids[1]}" in result.stdout
    assert f"task {ids[0]} is PAUSED after decompose_task" in result.stdout
    assert run_finished(stack, first) == "SUCCESS"
    assert [stack.ledger.get(i).status for i in ids] == [TaskStatus.PAUSED, TaskStatus.PAUSED]
    assert "enrich_subtasks" not in step_starts(stack, first)

    result = orbit(stack, "task", "resume", str(ids[1]))
    assert f"tasks {ids[0]}, {ids[1]} resumed" in result.stdout
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=180) == "SUCCESS"
    assert all(finished(stack, i).status == TaskStatus.COMPLETED for i in ids)
    assert step_starts(stack, second) == ["enrich_subtasks", "generate_prompts", "store_results"]


def held_document_batch(stack, emulator, tmp_path, n: int) -> tuple[str, dict[int, str]]:
    """A batch of `n` documents launched with 2 Veryfi calls at a time, the emulator holding them: the run
    id and each task's document key, once 2 calls are in flight (the others not started)."""
    paths = write_unique_sample_set(tmp_path / "docs", n, salt=f"pause {time.time_ns()}")
    emulator.faults.hold()
    config = {"ops": {"load_documents": {"config": {"paths": [str(p) for p in paths]}}}}
    run_id = stack.api.launch("document_processing", {**config, "resources": veryfi_overrides(concurrency=2)})
    wait_for(lambda: emulator.faults.held == 2, 120, "two Veryfi calls in flight", stack.logs)
    return run_id, {t: stack.ledger.get(t).payload["sha256"] for t in task_ids_of(stack, paths)}


def shown(stack, task_id) -> dict:
    return json.loads(orbit(stack, "task", "show", str(task_id), "--format", "json").stdout)


def test_a_document_batch_paused_while_extracting_stops_between_documents_and_resume_pays_nothing_twice(
    stack, emulator, tmp_path
):
    first, keys = held_document_batch(stack, emulator, tmp_path, 6)
    ids = sorted(keys)
    unstarted = next(i for i in ids if emulator.calls_for(keys[i]) == 0)
    with released_once_the_pause_is_seen(stack, emulator, first):
        result = orbit(stack, "task", "pause", str(unstarted), "--by", "ana")
    assert (
        f"task {unstarted} is PAUSED in upload_and_extract, at a boundary between its items (run {first})"
        in result.stdout
    )
    assert run_finished(stack, first) == "SUCCESS"  # as a run paused between steps: not FAILURE
    assert step_starts(stack, first) == ["load_documents", "upload_and_extract"]

    lines = orbit(stack, "task", "list", "--status", "PAUSED", "--kind", "document").stdout.splitlines()
    paused = sorted(int(line.split()[0]) for line in lines if int(line.split()[0]) in keys)
    completed = [i for i in ids if i not in paused]
    assert (len(completed), len(paused)) == (2, 4) and unstarted in paused
    assert {stack.ledger.get(i).status for i in completed} == {TaskStatus.COMPLETED}  # the 2 calls in flight
    assert emulator.total_process_calls == emulator.total_paid_calls == len(completed)  # none started after
    task = shown(stack, paused[-1])
    assert task["task"]["status"] == "PAUSED"
    assert "paused in upload_and_extract by ana after 2 of 6 documents" in [e["note"] for e in task["history"]]
    interrupted = json.loads(orbit(stack, "runs", "interrupted", "--json").stdout)
    assert first not in [r["run_id"] for r in interrupted]

    # Any task of the batch resumes it, a completed one too; the paused documents are sent, no other.
    result = orbit(stack, "task", "resume", str(completed[0]), "--by", "ana")
    assert f"tasks {', '.join(map(str, paused))} resumed" in result.stdout
    second = new_run(result.stdout, first)
    assert run_finished(stack, second, timeout=180) == "SUCCESS"
    assert all(finished(stack, i).status == TaskStatus.COMPLETED for i in ids)
    assert step_starts(stack, second) == ["upload_and_extract", "store_documents", "summarize"]
    assert {emulator.paid_calls_for(keys[i]) for i in ids} == {1}
    assert emulator.total_paid_calls == emulator.total_process_calls == len(ids)


def test_a_document_batch_with_every_document_in_flight_when_paused_has_nothing_left_to_pause(
    stack, emulator, tmp_path
):
    run_id, keys = held_document_batch(stack, emulator, tmp_path, 2)
    ids = sorted(keys)
    with released_once_the_pause_is_seen(stack, emulator, run_id):
        line = refused(orbit(stack, "task", "pause", str(ids[0]), check=False))
    assert (
        line == f"Error: run {run_id} finished (SUCCESS) with task {ids[0]} COMPLETED: nothing of it was left to pause"
    )
    assert all(stack.ledger.get(i).status == TaskStatus.COMPLETED for i in ids)
    assert {emulator.paid_calls_for(keys[i]) for i in ids} == {1}
    assert step_starts(stack, run_id)[-1] == "summarize"

"""The live event stream on the live stack: a task submitted with `orbit task submit` and run by the
stack, followed over HTTP with `requests` as any client follows it, through a reconnect. The server is
the one `orbit up` starts (observability.stream.server.serve), on the stack's database; `orbit up`'s
own door: observability/test_event_stream_up.py. Other tests share the stack: everything is filtered
to this file's tasks, and no exact list of events is asserted (platform rows such as phases are added)."""

import json
import secrets
import time
import uuid

import pytest
import requests

from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.observability.stream.server import serve
from orbit_pipelines.observability.stream.sse import parse
from orbit_pipelines_tests.live.stack import finished, orbit

pytestmark = pytest.mark.services

STATUS_EVENTS = ("task.submitted", "task.queued", "task.started", "task.completed")


@pytest.fixture(scope="module")
def stream(stack):
    token = secrets.token_urlsafe(32)
    phases = {name: dict(kind.phases) for name, kind in all_kinds().items()}  # as `orbit up` hands them in
    server = serve(stack.ledger.engine, "127.0.0.1", 0, token, phases=phases)
    assert server.listener.connected.wait(10), "the stream never listened"
    yield server, token
    server.stop()


def submitted_task(stack, tmp_path, title: str) -> int:
    payload = tmp_path / f"{uuid.uuid4()}.json"
    payload.write_text(json.dumps({"title": f"{title} {uuid.uuid4()}", "description": "Export invoices as CSV."}))
    result = orbit(stack, "task", "submit", "--payload", str(payload))
    return int(result.stdout.split()[2])  # "submitted task 12 (decomposition, PENDING)"


def read_until(response, done, timeout: float) -> list:
    """Messages from a streaming response until `done(messages)`, or fail after `timeout` seconds."""
    deadline, messages = time.monotonic() + timeout, []
    for message in parse(response.iter_lines(decode_unicode=True)):
        messages.append(message)
        if done(messages):
            return messages
        assert time.monotonic() < deadline, f"not done in {timeout}s: {[(m.event, m.id) for m in messages]}"
    pytest.fail(f"the stream ended: {[(m.event, m.id) for m in messages]}")


def of_task(messages, task_id: int) -> list:
    return [m for m in messages if json.loads(m.data)["task"]["id"] == task_id]


def test_a_submitted_task_s_events_reach_a_client_live_and_in_order(stack, stream, tmp_path):
    server, token = stream
    task_id = submitted_task(stack, tmp_path, "Streamed")
    with requests.get(
        f"{server.url}?task={task_id}", headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=(3, 60)
    ) as response:
        assert response.status_code == 200
        messages = read_until(response, lambda ms: ms[-1].event in ("task.completed", "task.failed"), 180)
    types = [m.event for m in messages]
    assert [t for t in types if t in STATUS_EVENTS] == list(STATUS_EVENTS), types
    ids = [int(m.id) for m in messages]
    assert ids == sorted(ids)
    bodies = [json.loads(m.data) for m in messages]
    assert {b["task"]["id"] for b in bodies} == {task_id}
    assert bodies[-1]["run_id"] == stack.ledger.get(task_id).run_id
    assert finished(stack, task_id).status.value == "COMPLETED"


def test_a_decomposition_s_stream_carries_its_subtasks_checkpoints_phases_and_progress(stack, stream, tmp_path):
    server, token = stream
    task_id = submitted_task(stack, tmp_path, "Followed through its phases")
    with requests.get(
        f"{server.url}?task={task_id}", headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=(3, 60)
    ) as response:
        # The task completes inside store_results; that step's checkpoint (5 of 5 done) comes after.
        messages = read_until(
            response,
            lambda ms: (
                ms[-1].event == "task.failed" or (json.loads(ms[-1].data).get("progress") or {}).get("done") == 5
            ),
            180,
        )
    bodies = [(m.event, json.loads(m.data)) for m in messages]
    subtasks, _prompts = load_plan(stack.ledger.engine, task_id)
    generated = [b["subtask"]["id"] for t, b in bodies if t == "task.subtask_generated"]
    assert generated == [s.id for s in subtasks]
    steps = ["load_task", "decompose_task", "enrich_subtasks", "generate_prompts", "store_results"]
    assert [b["step"] for t, b in bodies if t == "task.checkpoint_created"] == steps
    assert [b["phase"] for t, b in bodies if t == "task.phase_completed"] == [
        "LOADING", "DECOMPOSING", "ENRICHING", "GENERATING_PROMPTS", "STORING"
    ]  # fmt: skip
    progress = [(b["progress"]["done"], b["progress"]["total"]) for t, b in bodies if t == "task.progress"]
    assert progress == [(n, 5) for n in range(1, 6)]
    # The subtasks come out of decompose_task: after load_task's checkpoint, before its own.
    checkpoint_at = {b["step"]: i for i, (t, b) in enumerate(bodies) if t == "task.checkpoint_created"}
    first_subtask = [t for t, _ in bodies].index("task.subtask_generated")
    assert checkpoint_at["load_task"] < first_subtask < checkpoint_at["decompose_task"]


def test_a_client_that_reconnects_with_last_event_id_misses_none_of_a_task_s_events(stack, stream, tmp_path):
    server, token = stream
    auth = {"Authorization": f"Bearer {token}"}
    with requests.get(server.url, headers=auth, stream=True, timeout=(3, 60)) as response:  # every task's, from now
        task_id = submitted_task(stack, tmp_path, "Reconnected")
        before = read_until(response, lambda ms: any(m.event == "task.queued" for m in of_task(ms, task_id)), 120)
    last_id = before[-1].id  # the connection drops here; the task goes on running
    assert finished(stack, task_id).status.value == "COMPLETED"
    with requests.get(server.url, headers={**auth, "Last-Event-ID": last_id}, stream=True, timeout=(3, 60)) as again:
        after = read_until(again, lambda ms: any(m.event == "task.completed" for m in of_task(ms, task_id)), 60)
    received = [json.loads(m.data)["id"] for m in of_task(before + after, task_id)]
    assert len(received) == len(set(received)), "an event twice"
    # Everything the ledger recorded for the task up to its completion, as a fresh reader of its stream sees it.
    with requests.get(f"{server.url}?task={task_id}", headers=auth, stream=True, timeout=(3, 60)) as whole:
        history = read_until(whole, lambda ms: ms[-1].event == "task.completed", 30)
    assert received == [json.loads(m.data)["id"] for m in history]
    assert [m.event for m in of_task(after, task_id) if m.event in STATUS_EVENTS] == ["task.started", "task.completed"]


def test_the_live_stack_s_stream_refuses_a_missing_or_wrong_token(stream):
    server, _token = stream
    assert requests.get(server.url, timeout=5).status_code == 401
    assert requests.get(server.url, headers={"Authorization": "Bearer guess"}, timeout=5).status_code == 403


def test_orbit_events_prints_a_line_per_event_of_a_task_the_stack_ran(stack, stream, tmp_path):
    server, token = stream
    task_id = submitted_task(stack, tmp_path, "Followed")
    assert finished(stack, task_id).status.value == "COMPLETED"
    env = {**stack.env, "ORBIT_EVENTS_URL": server.url.removesuffix("/events"), "ORBIT_EVENTS_TOKEN": token}
    # submitted, queued, started, completed at least; phases come in between.
    lines = orbit(stack, "events", "--task", str(task_id), "--count", "4", env=env).stdout.splitlines()
    assert lines[0].split(" ", 1)[1] == f"task.submitted task {task_id} (decomposition) -> PENDING: submitted"
    assert any(f"task.queued task {task_id} (decomposition) PENDING -> QUEUED" in line for line in lines)
    as_json = orbit(stack, "events", "--task", str(task_id), "--count", "1", "--json", env=env).stdout
    assert json.loads(as_json)["type"] == "task.submitted"

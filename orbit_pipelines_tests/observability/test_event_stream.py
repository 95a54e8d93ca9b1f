"""The live event stream against the real ledger: the server in this process on the session's
Postgres (LISTEN/NOTIFY through migration 0009's trigger), read over HTTP with `requests` as any client
reads it. The stream on the live stack, through `orbit up`'s door and a real run: live/test_event_stream.py."""

import json
import queue
import socket
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import text

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.observability.stream.server import serve
from orbit_pipelines.observability.stream.sse import parse
from orbit_pipelines.runtime.intake import submit_task

TOKEN = "stream-test-token"


@pytest.fixture
def stream(ledger):
    """A server whose heartbeat (when a client also reads the ledger again) is far off: what arrives
    within a test's seconds was woken by a notification."""
    server = serve(ledger.engine, "127.0.0.1", 0, TOKEN, heartbeat_seconds=60)
    assert server.listener.connected.wait(10), "the listener never connected"
    yield server
    server.stop()


class Client:
    """A connection to the stream whose messages are read in a thread, as they arrive."""

    def __init__(self, url: str, headers: dict[str, str] | None = None):
        self.response = requests.get(
            url, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})}, stream=True, timeout=(3, 10)
        )
        assert self.response.status_code == 200, self.response.text
        self.received: queue.Queue = queue.Queue()
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        def lines():
            for line in self.response.iter_lines(decode_unicode=True):
                self.lines.append(line)
                yield line

        try:
            for message in parse(lines()):
                self.received.put(message)
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by the test

    def take(self, n: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        taken = []
        while len(taken) < n:
            try:
                taken.append(self.received.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"got {len(taken)} of {n} messages in {timeout}s: {[(m.event, m.id) for m in taken]}")
        return taken

    def nothing_more(self, seconds: float = 1.0) -> bool:
        try:
            self.received.get(timeout=seconds)
            return False
        except queue.Empty:
            return True

    def close(self) -> None:
        # Shut the socket first: closing the response waits for the reading thread's blocked read
        # (urllib3 keeps the socket under http.client's response, its file and its SocketIO).
        sock = self.response.raw._fp.fp.raw._sock
        sock.shutdown(socket.SHUT_RDWR)
        self.response.close()


def new_task(ledger, title="Stream me"):
    task, _ = submit_task(ledger, "decomposition", {"title": f"{title} {uuid.uuid4()}", "description": "CSV export."})
    return task


def run_to_completion(ledger, task_id, run_id="run-stream-1"):
    ledger.claim([task_id], dispatch_key=f"key-{task_id}")
    ledger.transition(task_id, TaskStatus.RUNNING, run_id=run_id)
    ledger.transition(task_id, TaskStatus.COMPLETED, run_id=run_id)


def test_a_task_s_stream_carries_its_changes_in_order_with_the_webhook_bodies(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    (submitted,) = client.take(1)  # a task's stream starts from its first event
    run_to_completion(ledger, task.id)
    queued, started, completed = client.take(3)
    assert [m.event for m in (submitted, queued, started, completed)] == [
        "task.submitted",
        "task.queued",
        "task.started",
        "task.completed",
    ]
    ids = [int(m.id) for m in (submitted, queued, started, completed)]
    assert ids == sorted(ids) and len(set(ids)) == 4
    body = json.loads(completed.data)
    assert body["id"] == f"task-event-{completed.id}"
    assert body["type"] == "task.completed"
    assert body["task"]["id"] == task.id and body["task"]["kind"] == "decomposition"
    assert (body["from_status"], body["to_status"], body["run_id"]) == ("RUNNING", "COMPLETED", "run-stream-1")
    client.close()


def test_the_whole_stream_starts_now_and_carries_every_task(ledger, stream):
    before = new_task(ledger, "Before")
    client = Client(stream.url)
    first, second = new_task(ledger, "First"), new_task(ledger, "Second")
    messages = client.take(2)
    assert [json.loads(m.data)["task"]["id"] for m in messages] == [first.id, second.id]
    assert before.id not in [json.loads(m.data)["task"]["id"] for m in messages]
    client.close()


def test_a_task_s_stream_leaves_other_tasks_out(ledger, stream):
    mine, other = new_task(ledger, "Mine"), new_task(ledger, "Other")
    client = Client(f"{stream.url.removesuffix('/events')}/tasks/{mine.id}/events")
    client.take(1)
    ledger.record_note(other.id, "about the other task")
    ledger.record_note(mine.id, "about mine")
    (note,) = client.take(1)
    assert note.event == "task.note"
    assert json.loads(note.data)["note"] == "about mine"
    assert client.nothing_more()
    client.close()


def test_a_failure_is_a_failed_task_and_a_dead_letter_and_the_row_id_comes_after_both(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    ledger.claim([task.id], dispatch_key=f"key-{task.id}")
    ledger.transition(task.id, TaskStatus.RUNNING, run_id="run-x")
    ledger.transition(task.id, TaskStatus.FAILED, run_id="run-x", error=("ValueError", "bad input", "decompose"))
    queued, started, failed, dead_letter = client.take(4)
    assert (failed.event, dead_letter.event) == ("task.failed", "dlq.added")
    # Cut off between the two, a client resumes before the row and is sent both again.
    assert failed.id == started.id and int(dead_letter.id) > int(started.id)
    assert json.loads(dead_letter.data)["error"]["error_class"] == "ValueError"
    client.close()


def test_a_canceled_task_is_a_canceled_event_naming_why(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    ledger.claim([task.id], dispatch_key=f"key-{task.id}")
    ledger.transition(task.id, TaskStatus.RUNNING, run_id="run-c")
    ledger.transition(task.id, TaskStatus.CANCELED, run_id="run-c", note="canceled by ana")
    _queued, _started, canceled = client.take(3)
    assert canceled.event == "task.canceled"
    body = json.loads(canceled.data)
    assert (body["task"]["status"], body["note"]) == ("CANCELED", "canceled by ana")
    client.close()


def test_rows_other_code_writes_are_streamed_under_a_name_made_from_the_row(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    ledger.claim([task.id], dispatch_key=f"key-{task.id}")
    ledger.transition(task.id, TaskStatus.RUNNING, run_id="run-w")
    ledger.transition(task.id, TaskStatus.WAITING_MANUAL, run_id="run-w", note="LaTeX does not compile")
    with ledger.engine.begin() as conn:  # a status a later version adds, written as any row is
        conn.execute(
            text("INSERT INTO orbit.task_events (task_id, from_status, to_status, note) VALUES (:id, :f, :t, :n)"),
            {"id": task.id, "f": "WAITING_MANUAL", "t": "SOMETHING_NEW", "n": "a new kind of row"},
        )
    _queued, _started, waiting, new = client.take(4)
    assert waiting.event == "task.waiting_manual"
    assert json.loads(waiting.data)["note"] == "LaTeX does not compile"
    assert new.event == "task.something_new"
    assert json.loads(new.data)["to_status"] == "SOMETHING_NEW"
    client.close()


def test_a_client_reconnecting_with_last_event_id_gets_everything_it_missed_then_live_events(ledger, stream):
    task = new_task(ledger)
    first = Client(f"{stream.url}?task={task.id}")
    (submitted,) = first.take(1)
    first.close()
    ledger.claim([task.id], dispatch_key=f"key-{task.id}")  # while no client is connected
    ledger.transition(task.id, TaskStatus.RUNNING, run_id="run-r")
    again = Client(f"{stream.url}?task={task.id}", {"Last-Event-ID": submitted.id})
    missed = again.take(2)
    assert [m.event for m in missed] == ["task.queued", "task.started"]
    ledger.transition(task.id, TaskStatus.COMPLETED, run_id="run-r")
    assert [m.event for m in again.take(1)] == ["task.completed"]
    assert again.nothing_more(0.5)
    again.close()


def test_the_whole_stream_resumes_after_an_id_given_as_after_for_clients_that_cannot_set_headers(ledger, stream):
    one, two = new_task(ledger, "One"), new_task(ledger, "Two")
    rows = ledger.events(two.id)
    assert rows  # two's submission
    with ledger.engine.connect() as conn:
        one_id = conn.execute(
            text("SELECT max(id) FROM orbit.task_events WHERE task_id = :id"), {"id": one.id}
        ).scalar()
    client = Client(f"{stream.url}?after={one_id}")
    (message,) = client.take(1)
    assert json.loads(message.data)["task"]["id"] == two.id
    client.close()


def test_a_change_committed_after_a_later_one_is_still_streamed(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    slow = ledger.engine.connect()
    slow_tx = slow.begin()
    slow.execute(
        text(
            "INSERT INTO orbit.task_events (task_id, from_status, to_status, note) "
            "VALUES (:id, 'PENDING', 'PENDING', 'slow')"
        ),
        {"id": task.id},
    )  # takes its id now, becomes visible at its commit
    ledger.record_note(task.id, "fast")
    (fast,) = client.take(1)
    slow_tx.commit()
    slow.close()
    (late,) = client.take(1)
    assert (json.loads(fast.data)["note"], json.loads(late.data)["note"]) == ("fast", "slow")
    assert int(late.id) < int(fast.id)
    client.close()


def test_an_idle_stream_gets_heartbeat_comments(ledger):
    server = serve(ledger.engine, "127.0.0.1", 0, TOKEN, heartbeat_seconds=0.3)
    try:
        task = new_task(ledger)
        client = Client(f"{server.url}?task={task.id}")
        client.take(1)
        deadline = time.monotonic() + 5
        while ": heartbeat" not in client.lines and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ": heartbeat" in client.lines
        assert client.nothing_more(0.5)  # comments are no events
        client.close()
    finally:
        server.stop()


def test_events_still_arrive_after_the_listening_connection_is_lost(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    with ledger.engine.connect() as conn:
        killed = (
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'orbit-events-listener' AND datname = current_database()"
                )
            )
            .scalars()
            .all()
        )
    assert killed == [True]
    ledger.record_note(task.id, "written while the listener reconnects")
    # Long before the next heartbeat: the listener, connected again, wakes the clients.
    (note,) = client.take(1, timeout=15)
    assert json.loads(note.data)["note"] == "written while the listener reconnects"
    client.close()


def test_without_a_token_401_with_a_wrong_one_403(ledger, stream):
    missing = requests.get(stream.url, timeout=5)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "bearer token is required" in missing.json()["error"]
    wrong = requests.get(stream.url, headers={"Authorization": "Bearer not-the-token"}, timeout=5)
    assert wrong.status_code == 403
    assert requests.get(stream.url, headers={"Authorization": f"Basic {TOKEN}"}, timeout=5).status_code == 401


def test_unknown_streams_and_tasks_are_404_and_a_malformed_task_400(ledger, stream):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = stream.url.removesuffix("/events")
    assert requests.get(f"{base}/metrics", headers=auth, timeout=5).status_code == 404
    unknown = requests.get(f"{stream.url}?task=987654321", headers=auth, timeout=5)
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "task 987654321 does not exist"
    assert requests.get(f"{stream.url}?task=abc", headers=auth, timeout=5).status_code == 400


def test_a_stream_tells_the_browser_how_long_to_wait_before_reconnecting(ledger, stream):
    task = new_task(ledger)
    client = Client(f"{stream.url}?task={task.id}")
    client.take(1)
    assert client.lines[:2] == ["retry: 2000", ""]
    client.close()


def test_clients_beyond_the_bound_are_turned_away_until_one_leaves(ledger):
    server = serve(ledger.engine, "127.0.0.1", 0, TOKEN, heartbeat_seconds=0.3, max_clients=1)
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        first = Client(server.url)
        refused = requests.get(server.url, headers=auth, timeout=5)
        assert refused.status_code == 503
        assert refused.json()["error"] == "1 clients already follow the stream"
        first.close()
        # The server notices at its next heartbeat that the client has gone.
        deadline = time.monotonic() + 5
        while (again := requests.get(server.url, headers=auth, stream=True, timeout=5)).status_code == 503:
            assert time.monotonic() < deadline, "the slot was never given back"
            time.sleep(0.2)
        assert again.status_code == 200
        again.close()
    finally:
        server.stop()


def test_without_its_listener_a_client_still_gets_the_events_at_its_next_heartbeat(ledger):
    server = serve(ledger.engine, "127.0.0.1", 0, TOKEN, heartbeat_seconds=0.5)
    try:
        task = new_task(ledger)
        client = Client(f"{server.url}?task={task.id}")
        client.take(1)
        server.listener.stop()
        ledger.record_note(task.id, "nobody listens")
        (note,) = client.take(1, timeout=5)
        assert json.loads(note.data)["note"] == "nobody listens"
        client.close()
    finally:
        server.stop()


def test_the_client_library_resumes_after_a_server_restart_without_losing_or_repeating_an_event(ledger):
    from orbit_pipelines.observability.stream.client import follow

    first = serve(ledger.engine, "127.0.0.1", 0, TOKEN)
    port = first.server_address[1]
    task = new_task(ledger)
    received: queue.Queue = queue.Queue()

    def collect():
        for message in follow(f"{first.url}?task={task.id}", TOKEN, reconnect_seconds=0.2):
            received.put(json.loads(message.data)["note"])

    threading.Thread(target=collect, daemon=True).start()
    assert received.get(timeout=10) == "submitted"
    first.stop()
    ledger.record_note(task.id, "while the server was down")
    second = serve(ledger.engine, "127.0.0.1", port, TOKEN)
    try:
        ledger.record_note(task.id, "after the restart")
        assert [received.get(timeout=10) for _ in range(2)] == ["while the server was down", "after the restart"]
        assert received.empty()
    finally:
        second.stop()

"""The event stream's pure parts: the SSE wire format, ledger rows as events, the request's target,
the bearer token's file. The server on Postgres: test_event_stream.py."""

import json
import os
import stat
from datetime import datetime, timezone

import pytest

from orbit_pipelines.observability.stream.events import frames, stream_events
from orbit_pipelines.observability.stream.server import BadRequest, parse_target
from orbit_pipelines.observability.stream.sse import Message, comment, frame, parse
from orbit_pipelines.observability.stream.token import TOKEN_FILE, TOKEN_VARIABLE, stream_token


def lines_of(data: bytes) -> list[str]:
    return data.decode("utf-8").split("\n")


def row(**changes):
    base = {
        "id": 41,
        "task_id": 7,
        "from_status": "RUNNING",
        "to_status": "COMPLETED",
        "run_id": "run-1",
        "note": None,
        "at": datetime(2026, 12, 2, 8, 0, tzinfo=timezone.utc),
        "phase": None,
        "kind": "decomposition",
        "lane": "default",
        "priority": 0,
        "idempotency_key": "key-7",
        "error_class": None,
        "error_message": None,
        "error_step": None,
    }
    return {**base, **changes}


def test_a_frame_is_read_back_as_the_event_it_was_with_its_id():
    data = frame("task.note", "first line\nsecond line", "12") + comment("heartbeat") + frame("task.queued", "{}")
    assert list(parse(lines_of(data))) == [
        Message("task.note", "first line\nsecond line", "12"),
        Message("task.queued", "{}", "12"),  # no id of its own: the last one stays in force
    ]


def test_parse_skips_comments_and_events_without_data_and_defaults_the_type():
    assert list(parse([": hi", "", "event: x", "", "data: y", "", "retry: 5", ""])) == [Message("message", "y", None)]


def test_a_status_change_is_the_webhook_event_for_it():
    (event,) = stream_events(row())
    assert (event.type, event.id, event.task.status) == ("task.completed", "task-event-41", "COMPLETED")


def test_a_failure_is_two_events_and_only_the_second_carries_the_row_id():
    failed = row(to_status="FAILED", error_class="ValueError", error_message="bad", error_step="decompose")
    messages = list(parse(lines_of(frames(failed))))
    assert [(m.event, m.id) for m in messages] == [("task.failed", None), ("dlq.added", "41")]
    assert json.loads(messages[1].data)["error"]["remediation"]


@pytest.mark.parametrize(
    "from_status, to_status, expected",
    [
        (None, "PENDING", "task.submitted"),
        ("RUNNING", "WAITING_MANUAL", "task.waiting_manual"),
        ("RUNNING", "RUNNING", "task.note"),
        ("RUNNING", "A_STATUS_OF_TOMORROW", "task.a_status_of_tomorrow"),
    ],
)
def test_rows_webhooks_do_not_send_are_named_from_the_row(from_status, to_status, expected):
    (event,) = stream_events(row(from_status=from_status, to_status=to_status, note="why"))
    assert (event.type, event.note, event.to_status) == (expected, "why", to_status)


def test_a_phase_entered_is_a_phase_started_event():
    (event,) = stream_events(row(from_status="RUNNING", to_status="RUNNING", phase="ENRICHING"))
    assert (event.type, event.phase) == ("task.phase_started", "ENRICHING")


# Documents-like phases, and one phase given to two steps.
PHASES = {"decomposition": {"load": "LOADING", "plan": "PLANNING", "check": "PLANNING", "store": "STORING"}}


def fact(event: str, step: str | None = None, detail=None):
    return row(from_status="RUNNING", to_status="RUNNING", event=event, step=step, detail=detail, note="n")


def test_a_checkpoint_of_a_phase_s_last_step_is_checkpoint_phase_completed_and_progress():
    events = stream_events(fact("checkpoint", "check"), PHASES)
    assert [(e.type, e.step, e.phase) for e in events] == [
        ("task.checkpoint_created", "check", "PLANNING"),
        ("task.phase_completed", "check", "PLANNING"),
        ("task.progress", "check", "PLANNING"),
    ]
    assert events[-1].model_dump()["progress"] == {"done": 2, "total": 3}
    # A receiver drops a body id it has seen: each of the row's events has its own.
    assert [e.id for e in events] == ["task-event-41", "phase-completed-41", "progress-41"]


def test_a_checkpoint_of_a_step_its_phase_continues_after_is_only_a_checkpoint():
    assert [e.type for e in stream_events(fact("checkpoint", "plan"), PHASES)] == ["task.checkpoint_created"]


def test_the_last_phase_s_checkpoint_says_every_phase_is_done():
    progress = stream_events(fact("checkpoint", "store"), PHASES)[-1].model_dump()["progress"]
    assert progress == {"done": 3, "total": 3}


def test_a_checkpoint_of_a_kind_without_phases_is_still_a_checkpoint():
    (event,) = stream_events(fact("checkpoint", "store"), {})
    assert (event.type, event.step, event.phase) == ("task.checkpoint_created", "store", None)


def test_a_failed_step_is_its_phase_failing():
    (event,) = stream_events(fact("step_failed", "load"), PHASES)
    assert (event.type, event.phase, event.note) == ("task.phase_failed", "LOADING", "n")


def test_a_plan_is_one_subtask_generated_event_per_subtask_and_the_row_id_is_on_the_last():
    subtasks = [{"id": f"service.s{n}", "category": "SERVICE", "title": f"Step {n}"} for n in (1, 2)]
    messages = list(parse(lines_of(frames(fact("subtasks_generated", detail={"subtasks": subtasks}), PHASES))))
    assert [(m.event, m.id) for m in messages] == [("task.subtask_generated", None), ("task.subtask_generated", "41")]
    assert [json.loads(m.data)["subtask"] for m in messages] == subtasks
    assert [json.loads(m.data)["id"] for m in messages] == ["subtask-1-41", "subtask-2-41"]


@pytest.mark.parametrize(
    "path, last_event_id, expected",
    [
        ("/events", None, (None, None)),
        ("/events?task=5", None, (5, None)),
        ("/tasks/5/events", "40", (5, 40)),
        ("/events?after=3", None, (None, 3)),
        ("/events?after=3", "9", (None, 9)),  # a reconnecting EventSource's header wins
    ],
)
def test_a_request_names_its_stream_and_where_to_resume(path, last_event_id, expected):
    assert parse_target(path, last_event_id) == expected


@pytest.mark.parametrize("path, status", [("/metrics", 404), ("/events?task=x", 400), ("/events?after=-1", 400)])
def test_a_request_for_no_stream_is_refused(path, status):
    with pytest.raises(BadRequest) as refused:
        parse_target(path, None)
    assert refused.value.status == status


def test_a_token_is_made_once_in_a_file_only_its_owner_can_read(tmp_path):
    first = stream_token(tmp_path, {})
    path = tmp_path / TOKEN_FILE
    assert first.source == str(path) and len(first.value) >= 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stream_token(tmp_path, {}) == first  # clients keep theirs across restarts


def test_a_token_file_others_can_read_is_replaced(tmp_path):
    path = tmp_path / TOKEN_FILE
    path.write_text("leaked\n")
    os.chmod(path, 0o644)
    token = stream_token(tmp_path, {})
    assert token.value != "leaked"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_configured_token_wins_and_no_file_is_written(tmp_path):
    assert stream_token(tmp_path, {TOKEN_VARIABLE: " from-the-environment "}).value == "from-the-environment"
    assert stream_token(tmp_path, {TOKEN_VARIABLE: "x"}).source == TOKEN_VARIABLE
    assert not (tmp_path / TOKEN_FILE).exists()

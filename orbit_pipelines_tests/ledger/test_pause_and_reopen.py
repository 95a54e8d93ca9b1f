"""The transitions pause, resume, rollback and reset add, on a real Postgres: each one is stored, recorded
in the history, and a run's outcome never takes them on its own."""

import pytest

from orbit_pipelines.ledger import InvalidTransition
from orbit_pipelines.ledger import TaskStatus as S


def running(ledger, run_id="run-1"):
    task, _ = ledger.submit("decomposition", {"title": "t"})
    ledger.transition(task.id, S.QUEUED)
    return ledger.transition(task.id, S.RUNNING, run_id=run_id)


def completed(ledger, run_id="run-1"):
    task = running(ledger, run_id)
    return ledger.transition(task.id, S.COMPLETED, run_id=run_id)


def test_a_running_task_can_be_paused_and_the_history_says_who(ledger):
    task = running(ledger)
    paused = ledger.transition(task.id, S.PAUSED, run_id="run-1", note="paused after decompose_task by ana")
    assert paused.status == S.PAUSED
    last = ledger.events(task.id)[-1]
    assert (last["from_status"], last["to_status"], last["note"]) == (
        "RUNNING",
        "PAUSED",
        "paused after decompose_task by ana",
    )


def test_a_paused_task_is_resumed_through_the_queue(ledger):
    task = running(ledger)
    ledger.transition(task.id, S.PAUSED)
    assert ledger.transition(task.id, S.QUEUED, note="resumed").status == S.QUEUED


def test_a_paused_task_can_be_canceled(ledger):
    task = running(ledger)
    ledger.transition(task.id, S.PAUSED)
    assert ledger.transition(task.id, S.CANCELED).status == S.CANCELED


def test_a_completed_task_is_queued_again_by_a_reset_with_its_finish_time_cleared(ledger):
    task = completed(ledger)
    assert task.finished_at is not None
    again = ledger.transition(task.id, S.QUEUED, expected=[S.COMPLETED], note="reset by ana: new rules")
    assert again.status == S.QUEUED and again.finished_at is None


def test_a_late_failure_report_never_reopens_a_completed_task(ledger):
    task = completed(ledger)
    with pytest.raises(InvalidTransition):
        ledger.move_along(task.id, S.FAILED, run_id="run-1", error=("E", "late", "store_results"))
    assert ledger.get(task.id).status == S.COMPLETED


def test_a_pending_task_cannot_be_paused(ledger):
    task, _ = ledger.submit("decomposition", {"title": "t"})
    with pytest.raises(InvalidTransition):
        ledger.transition(task.id, S.PAUSED)

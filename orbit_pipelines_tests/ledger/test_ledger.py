"""The ledger on a real Postgres: submission, idempotency, atomic transitions, dispatch claims."""

import threading

import pytest

from orbit_pipelines.ledger import IdempotencyConflict, InvalidTransition, TaskNotFound
from orbit_pipelines.ledger import TaskStatus as S


def submit(ledger, title="t", **kw):
    task, _ = ledger.submit("decomposition", {"title": title}, **kw)
    return task


def test_a_new_task_is_pending(ledger):
    assert submit(ledger).status == S.PENDING


def test_the_same_idempotency_key_returns_the_existing_task(ledger):
    first, created = ledger.submit("decomposition", {"title": "a"}, idempotency_key="k")
    again, created_again = ledger.submit("decomposition", {"title": "a"}, idempotency_key="k")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    assert ledger.counts_by_status() == {"PENDING": 1}


def test_reusing_a_key_for_different_work_is_refused(ledger):
    first, _ = ledger.submit("decomposition", {"title": "a"}, idempotency_key="k")
    with pytest.raises(IdempotencyConflict, match=f"'k' already belongs to task {first.id} "):
        ledger.submit("decomposition", {"title": "b"}, idempotency_key="k")


def test_concurrent_submissions_with_one_key_make_one_task(ledger):
    results = []

    def worker():
        results.append(ledger.submit("decomposition", {"title": "a"}, idempotency_key="race")[0].id)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(set(results)) == 1
    assert ledger.counts_by_status() == {"PENDING": 1}


def test_a_refused_transition_names_both_states_and_changes_nothing(ledger):
    task = submit(ledger)
    with pytest.raises(InvalidTransition, match=f"task {task.id} from PENDING to COMPLETED"):
        ledger.transition(task.id, S.COMPLETED)
    assert ledger.get(task.id).status == S.PENDING


def test_an_unknown_task_is_reported_by_id(ledger):
    with pytest.raises(TaskNotFound, match="task 999 does not exist"):
        ledger.transition(999, S.QUEUED)


def test_only_one_of_two_racing_workers_moves_a_task(ledger):
    task = submit(ledger)
    ledger.transition(task.id, S.QUEUED)
    outcomes = []
    barrier = threading.Barrier(2)

    def worker(run_id):
        barrier.wait()
        try:
            ledger.transition(task.id, S.RUNNING, expected=[S.QUEUED], run_id=run_id)
            outcomes.append(run_id)
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=worker, args=(f"run-{i}",)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert outcomes.count("refused") == 1
    winner = next(o for o in outcomes if o != "refused")
    assert ledger.get(task.id).run_id == winner
    assert ledger.get(task.id).attempts == 1


def test_claiming_takes_pending_tasks_by_priority_then_age(ledger):
    low, high, mid = submit(ledger, "low", priority=-5), submit(ledger, "high", priority=10), submit(ledger, "mid")
    claimed = ledger.claim_pending(limit=2)
    assert [t.id for t in claimed] == [high.id, mid.id]
    assert all(t.status == S.QUEUED for t in claimed)
    assert ledger.get(low.id).status == S.PENDING


def test_concurrent_claims_never_hand_out_a_task_twice(ledger):
    ids = [submit(ledger, f"t{i}").id for i in range(40)]
    claimed: list[int] = []
    lock = threading.Lock()

    def dispatcher():
        while batch := ledger.claim_pending(limit=3):
            with lock:
                claimed.extend(t.id for t in batch)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(claimed) == ids


def test_every_transition_is_recorded_with_its_run(ledger):
    task = submit(ledger)
    ledger.claim_pending(limit=1)
    ledger.transition(task.id, S.RUNNING, run_id="r1")
    ledger.transition(task.id, S.FAILED, run_id="r1", error=("ValueError", "boom", "decompose_task"))
    history = [(e["from_status"], e["to_status"], e["run_id"]) for e in ledger.events(task.id)]
    assert history == [
        (None, "PENDING", None),
        ("PENDING", "QUEUED", None),
        ("QUEUED", "RUNNING", "r1"),
        ("RUNNING", "FAILED", "r1"),
    ]
    failed = ledger.get(task.id)
    assert (failed.error_class, failed.error_message, failed.error_step) == ("ValueError", "boom", "decompose_task")


def test_a_successful_re_execution_walks_a_failed_task_back_to_completed(ledger):
    task = submit(ledger)
    ledger.claim_pending(limit=1)
    ledger.transition(task.id, S.RUNNING, run_id="r1")
    ledger.transition(task.id, S.FAILED, run_id="r1", error=("E", "m", "s"))
    done = ledger.move_along(task.id, S.COMPLETED, run_id="r2", only_if_current_run=False)
    assert done.status == S.COMPLETED and done.run_id == "r2" and done.error_class is None
    assert [e["to_status"] for e in ledger.events(task.id)][-3:] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert ledger.run_ids(task.id) == ["r1", "r2"]


def test_a_late_outcome_of_an_older_run_is_ignored(ledger):
    task = submit(ledger)
    ledger.claim_pending(limit=1)
    ledger.transition(task.id, S.RUNNING, run_id="new-run")
    assert ledger.move_along(task.id, S.FAILED, run_id="old-run") is None
    assert ledger.get(task.id).status == S.RUNNING


def test_priority_and_lane_are_checked(ledger):
    with pytest.raises(ValueError, match="priority: must be between -100 and 100"):
        submit(ledger, priority=500)
    with pytest.raises(ValueError, match="lane: must be one of sync, async"):
        submit(ledger, lane="fast")


def failed_task(ledger, title="t"):
    task = submit(ledger, title)
    ledger.claim_pending(limit=10)
    ledger.transition(task.id, S.RUNNING, run_id=f"run-{task.id}")
    ledger.transition(task.id, S.FAILED, run_id=f"run-{task.id}", error=("Boom", "it broke", "decompose_task"))
    return task


def test_a_failed_task_is_a_dead_letter_with_its_history(ledger):
    task = failed_task(ledger)
    (letter,) = ledger.dead_letters()
    assert (letter["id"], letter["error_class"], letter["error_step"], letter["failures"]) == (
        task.id,
        "Boom",
        "decompose_task",
        1,
    )
    assert letter["first_failure"] == letter["last_failure"]


def test_a_discard_needs_a_reason_and_is_kept_on_record(ledger):
    task = failed_task(ledger)
    with pytest.raises(ValueError, match="reason: a discard needs a reason"):
        ledger.discard(task.id, "  ")
    ledger.discard(task.id, "customer withdrew the request")
    assert ledger.dead_letters() == []
    kept = ledger.get(task.id)
    assert kept.status == S.FAILED and kept.discard_reason == "customer withdrew the request"
    assert ledger.events(task.id)[-1]["note"] == "discarded: customer withdrew the request"


def test_only_failed_tasks_can_be_discarded(ledger):
    task = submit(ledger)
    with pytest.raises(ValueError, match=f"task {task.id} is PENDING"):
        ledger.discard(task.id, "why not")


def test_a_dead_letter_leaves_the_list_when_a_retry_completes_it(ledger):
    task = failed_task(ledger)
    ledger.move_along(task.id, S.COMPLETED, run_id="retry-run", only_if_current_run=False)
    assert ledger.dead_letters() == []


def test_a_direct_claim_queues_only_tasks_still_pending(ledger):
    task = submit(ledger)
    [claimed] = ledger.claim([task.id], f"task-{task.id}")
    assert (claimed.status, claimed.dispatch_key) == (S.QUEUED, f"task-{task.id}")
    assert ledger.claim([task.id], f"task-{task.id}") == [], "a second claimer gets nothing"
    assert ledger.claim_pending(limit=10) == [], "nor does the dispatch sensor"


def test_a_released_claim_goes_back_to_the_dispatch_sensor(ledger):
    task = submit(ledger)
    ledger.claim([task.id], f"task-{task.id}")
    [released] = ledger.release([task.id], f"task-{task.id}", note="launch failed")
    assert (released.status, released.dispatch_key) == (S.PENDING, None)
    assert [t.id for t in ledger.claim_pending(limit=10)] == [task.id]
    assert [e["note"] for e in ledger.events(task.id)][-2:] == ["launch failed", f"dispatched as task-{task.id}"]


def test_a_claim_whose_run_started_is_not_released(ledger):
    task = submit(ledger)
    ledger.claim([task.id], f"task-{task.id}")
    ledger.attach_run(task.id, "run-1")
    assert ledger.release([task.id], f"task-{task.id}", note="too late") == []
    assert ledger.get(task.id).status == S.QUEUED

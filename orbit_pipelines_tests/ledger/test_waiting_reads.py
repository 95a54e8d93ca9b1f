"""`--wait` follows the ledger by reading only what changed between polls, and still misses nothing."""

import threading
import time

from orbit_pipelines.ledger import TaskStatus as S
from orbit_pipelines.waiting import CHANGED_MARGIN, FULL_POLL_SECONDS, wait_for_tasks


def _running_task(ledger):
    task, _ = ledger.submit("decomposition", {"title": "late commit"})
    for target in (S.QUEUED, S.RUNNING):
        ledger.transition(task.id, target)
    return task


def test_a_completion_committed_long_after_its_transaction_began_ends_the_wait(ledger):
    # A worker cut off from the database mid-commit: its row says `updated_at` = the start of its
    # transaction, seconds before the waiter's last poll. The waiter must not skip it.
    held_open = CHANGED_MARGIN.total_seconds() + 2
    assert held_open + 3 < FULL_POLL_SECONDS  # the periodic full read cannot be what finds it
    task = _running_task(ledger)
    ended: list = []
    with ledger.engine.connect() as worker:
        ledger._transition(worker, task.id, S.COMPLETED, None, None, None, None)
        waiter = threading.Thread(target=lambda: ended.extend(wait_for_tasks(ledger, [task.id], timeout=held_open + 3)))
        waiter.start()
        time.sleep(held_open)
        worker.commit()
    waiter.join()
    assert [t.status for t in ended] == [S.COMPLETED]


def test_a_waiter_on_many_tasks_polls_less_often_than_one_on_a_few():
    from orbit_pipelines.waiting import MAX_POLL_SECONDS, POLL_SECONDS, poll_seconds

    assert poll_seconds(1) == poll_seconds(1_000) == POLL_SECONDS
    assert poll_seconds(10_000) == 0.5
    assert poll_seconds(1_000_000) == MAX_POLL_SECONDS

import itertools

import pytest

from orbit_pipelines.ledger.states import (
    ALLOWED,
    InvalidTransition,
    check_transition,
    path_between,
)
from orbit_pipelines.ledger.states import (
    TaskStatus as S,
)

ALLOWED_PAIRS = [
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.CANCELED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.FAILED),
    (S.QUEUED, S.CANCELED),
    (S.QUEUED, S.PENDING),
    (S.RUNNING, S.COMPLETED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.CANCELED),
    (S.FAILED, S.QUEUED),
    (S.CANCELED, S.QUEUED),
    (S.RUNNING, S.WAITING_MANUAL),
    (S.WAITING_MANUAL, S.QUEUED),
    (S.WAITING_MANUAL, S.CANCELED),
    (S.RUNNING, S.PAUSED),
    (S.PAUSED, S.QUEUED),
    (S.PAUSED, S.CANCELED),
    (S.COMPLETED, S.QUEUED),
]
REFUSED_PAIRS = [p for p in itertools.product(S, S) if p not in ALLOWED_PAIRS]


def test_the_allowed_table_is_exactly_the_documented_one():
    assert {(a, b) for a, targets in ALLOWED.items() for b in targets} == set(ALLOWED_PAIRS)


@pytest.mark.parametrize("current,target", ALLOWED_PAIRS, ids=lambda s: s.value)
def test_allowed_transition_passes(current, target):
    check_transition(current, target)


@pytest.mark.parametrize("current,target", REFUSED_PAIRS, ids=lambda s: s.value)
def test_refused_transition_names_both_states(current, target):
    with pytest.raises(InvalidTransition) as err:
        check_transition(current, target, task_id=7)
    assert f"from {current.value} to {target.value}" in str(err.value)
    assert "task 7" in str(err.value)


def test_a_completed_task_may_only_be_queued_again():
    assert "it may go to: QUEUED" in str(InvalidTransition(S.COMPLETED, S.RUNNING))


def test_a_failed_task_reaches_completed_through_a_new_run():
    assert path_between(S.FAILED, S.COMPLETED) == [S.QUEUED, S.RUNNING, S.COMPLETED]


def test_a_pending_task_reaches_running_through_the_queue():
    assert path_between(S.PENDING, S.RUNNING) == [S.QUEUED, S.RUNNING]


def test_no_reconciliation_reopens_a_completed_task():
    # COMPLETED -> QUEUED is a person's reset or rollback, never a path a run's outcome takes.
    assert path_between(S.COMPLETED, S.FAILED) is None
    assert path_between(S.COMPLETED, S.RUNNING) is None


def test_a_paused_task_goes_back_to_work_through_the_queue():
    assert path_between(S.PAUSED, S.RUNNING) == [S.QUEUED, S.RUNNING]


def test_a_paused_task_is_parked_not_active_and_not_ended():
    from orbit_pipelines.ledger.states import ACTIVE, PARKED, TERMINAL

    assert S.PAUSED in PARKED and S.PAUSED not in ACTIVE and S.PAUSED not in TERMINAL


def test_path_to_the_current_state_is_empty():
    assert path_between(S.RUNNING, S.RUNNING) == []


def test_a_task_waiting_for_a_person_goes_back_to_work_through_the_queue():
    assert path_between(S.WAITING_MANUAL, S.RUNNING) == [S.QUEUED, S.RUNNING]

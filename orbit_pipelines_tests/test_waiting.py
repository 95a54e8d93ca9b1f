"""What `--wait` shows while it waits: a task's phases as a progress bar (issue 21 §1)."""

import io
from dataclasses import replace
from datetime import datetime, timezone

import click

from orbit_pipelines.ledger import Task, TaskStatus
from orbit_pipelines.waiting import PhaseProgress

PHASES = ["LOADING", "DECOMPOSING", "ENRICHING", "GENERATING_PROMPTS", "STORING"]
NOW = datetime.now(timezone.utc)
TASK = Task(
    id=7, kind="decomposition", payload={}, status=TaskStatus.QUEUED, priority=0, lane="async",
    idempotency_key="k", attempts=0, run_id="r", error_class=None, error_message=None, error_step=None,
    created_at=NOW, updated_at=NOW, queued_at=NOW, started_at=None, finished_at=None,
)  # fmt: skip


def _bar():
    # A real click progress bar, drawn to a buffer.
    return click.progressbar(length=len(PHASES), label="waiting", file=io.StringIO())


def test_the_bar_stands_at_the_phase_the_task_has_entered_and_says_which():
    with _bar() as bar:
        progress = PhaseProgress(bar, PHASES)
        progress(TASK)
        assert (bar.pos, bar.label) == (0, "task 7 QUEUED")
        progress(replace(TASK, status=TaskStatus.RUNNING, phase="ENRICHING"))
        assert (bar.pos, bar.label) == (3, "task 7 RUNNING (ENRICHING)")


def test_the_bar_never_moves_back_when_a_phase_is_read_late():
    with _bar() as bar:
        progress = PhaseProgress(bar, PHASES)
        progress(replace(TASK, status=TaskStatus.RUNNING, phase="STORING"))
        progress(replace(TASK, status=TaskStatus.RUNNING, phase="DECOMPOSING"))
        assert bar.pos == 5


def test_the_bar_is_full_once_the_task_has_ended_whatever_phases_were_seen():
    with _bar() as bar:
        progress = PhaseProgress(bar, PHASES)
        progress(replace(TASK, status=TaskStatus.FAILED, phase="DECOMPOSING"))
        assert (bar.pos, bar.label) == (5, "task 7 FAILED")


def test_a_kind_without_phases_still_gets_a_bar_that_fills_at_the_end():
    with click.progressbar(length=1, file=io.StringIO()) as bar:
        progress = PhaseProgress(bar, [])
        assert progress.length == 1
        progress(replace(TASK, status=TaskStatus.COMPLETED))
        assert bar.pos == 1

"""The ledger report's tables, read from a real ledger (embedded Postgres) holding tasks in every state:
what an operator reads on the ledger_report run page."""

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from orbit_pipelines.jobs.ledger_report.tables import age, ledger_report
from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.run_control import pause_intake
from orbit_pipelines_tests.jobs.ledger_report.support import (
    DOES_NOT_COMPILE,
    REFUSED,
    dead_letter,
    pending,
    running,
    table_rows,
    waiting,
)

KINDS = sorted(all_kinds())


def report(ledger, max_rows=20, now=None):
    return ledger_report(ledger, KINDS, max_rows, now)


def submitted_ago(ledger, task, delta: timedelta):
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE orbit.tasks SET created_at = now() - :d, updated_at = now() - :d WHERE id = :id"),
            {"d": delta, "id": task.id},
        )


def test_pending_tasks_are_listed_per_kind_and_lane_oldest_first_with_their_age(ledger):
    newer = pending(ledger, title="Newer export")
    older = pending(ledger, title="Older export")
    submitted_ago(ledger, older, timedelta(hours=2, minutes=5))
    sync = pending(ledger, lane="sync", title="Ordered export")
    message = pending(ledger, kind="message")

    rows = table_rows(report(ledger).pending)

    assert [(r["kind"], r["lane"], r["task"]) for r in rows] == [
        ("decomposition", "async", str(older.id)),
        ("decomposition", "async", str(newer.id)),
        ("decomposition", "sync", str(sync.id)),
        ("message", "async", str(message.id)),
    ]
    assert (rows[0]["title"], rows[0]["age"], rows[0]["intake"]) == ("Older export", "2 h 05 min", "dispatching")
    submitted = ledger.get(older.id).created_at.astimezone(timezone.utc)
    assert rows[0]["submitted (UTC)"] == f"{submitted:%Y-%m-%d %H:%M:%S}"
    assert re.fullmatch(r"\d+ s", rows[1]["age"])


def test_a_kind_and_lane_with_more_pending_tasks_than_the_cap_shows_its_oldest_and_counts_the_rest(ledger):
    tasks = [pending(ledger, title=f"Export {i}") for i in range(5)]
    other = pending(ledger, kind="message")

    rows = table_rows(report(ledger, max_rows=2).pending)

    assert [r["task"] for r in rows] == [str(tasks[0].id), str(tasks[1].id), "and 3 more", str(other.id)]
    assert report(ledger, max_rows=2).pending_count == 6


def test_a_pending_task_of_a_paused_kind_says_its_intake_is_paused(ledger):
    held = pending(ledger, kind="worksheet", title="fractions")
    free = pending(ledger)
    pause_intake(ledger, "worksheet", "new TeX engine")

    rows = {r["task"]: r for r in table_rows(report(ledger).pending)}

    assert {task: r["intake"] for task, r in rows.items()} == {str(held.id): "PAUSED", str(free.id): "dispatching"}
    assert rows[str(held.id)]["title"] == "fractions"  # a worksheet is called by its request


def test_a_task_waiting_for_a_person_shows_what_it_waits_for_and_the_command_that_continues_it(ledger):
    task = waiting(ledger)

    shown = report(ledger)
    (row,) = table_rows(shown.waiting)

    assert (row["task"], row["kind"], row["run"]) == (
        str(task.id),
        "worksheet",
        f"[{task.run_id[:8]}](/runs/{task.run_id})",
    )
    assert row["waits for"] == f"WAITING_MANUAL: {DOES_NOT_COMPILE[0]}: {DOES_NOT_COMPILE[1]}"
    assert f"`orbit worksheet edit {task.id} --latex sheet.tex`" in row["to continue"]
    assert f"`orbit cancel {task.id}`" in row["to continue"]
    assert shown.waiting_count == 1


def test_a_paused_task_is_listed_with_waiting_ones_and_the_command_that_resumes_it(ledger):
    task = running(ledger)
    ledger.transition(task.id, TaskStatus.PAUSED, run_id=task.run_id, note="paused after decompose_task by ana")

    (row,) = table_rows(report(ledger).waiting)

    assert (row["task"], row["waits for"]) == (str(task.id), "PAUSED")
    assert row["to continue"] == f"`orbit task resume {task.id}`, or `orbit cancel {task.id}`"


def test_more_waiting_tasks_than_the_cap_show_the_newest_and_count_the_rest(ledger):
    tasks = [waiting(ledger, f"sheet {i}") for i in range(3)]

    shown = report(ledger, max_rows=2)

    assert [r["task"] for r in table_rows(shown.waiting)] == [str(tasks[2].id), str(tasks[1].id)]
    assert (
        "and 1 more (`orbit task list --status PAUSED` / `orbit task list --status WAITING_MANUAL` lists them)"
        in shown.waiting
    )
    assert shown.waiting_count == 3


def test_a_dead_letter_shows_its_error_and_the_command_to_retry_it(ledger):
    task = dead_letter(ledger)

    shown = report(ledger)
    (row,) = table_rows(shown.dead_letters)

    assert row == {
        "task": str(task.id),
        "kind": "document",
        "run": f"[{task.run_id[:8]}](/runs/{task.run_id})",
        "step": REFUSED[2],
        "error class": REFUSED[0],
        "message": REFUSED[1],
        "failures": "1",
        "last failure": row["last failure"],
        "retry": f"`orbit dlq retry {task.id}`",
    }
    assert re.fullmatch(r"\d+ s ago", row["last failure"])
    assert shown.dead_letter_count == 1


def test_a_discarded_dead_letter_is_no_longer_shown(ledger):
    kept, discarded = dead_letter(ledger), dead_letter(ledger)
    ledger.discard(discarded.id, "a duplicate upload")

    shown = report(ledger)

    assert [r["task"] for r in table_rows(shown.dead_letters)] == [str(kept.id)]
    assert shown.dead_letter_count == 1


def test_more_dead_letters_than_the_cap_show_the_oldest_and_count_the_rest(ledger):
    letters = [dead_letter(ledger) for _ in range(4)]

    shown = report(ledger, max_rows=3)

    assert [r["task"] for r in table_rows(shown.dead_letters)] == [str(t.id) for t in letters[:3]]
    assert "and 1 more (`orbit dlq list` lists them)" in shown.dead_letters


def test_a_long_error_message_is_cut_and_a_pipe_in_it_does_not_break_the_table(ledger):
    dead_letter(ledger, error=("InvalidPayload", "title: a | b " + "x" * 400, "load_task"))

    (row,) = table_rows(report(ledger).dead_letters)

    assert row["message"].startswith("title: a | b xxx") and row["message"].endswith("…")
    assert len(row["message"]) == 300


def test_intake_lists_every_kind_dispatching_or_paused_with_why_and_since(ledger):
    pause_intake(ledger, "document", "Veryfi maintenance")

    shown = report(ledger)
    rows = {r["kind"]: r for r in table_rows(shown.intake)}

    assert list(rows) == KINDS
    assert (rows["document"]["intake"], rows["document"]["reason"]) == ("PAUSED", "Veryfi maintenance")
    assert rows["document"]["to change"] == "`orbit resume --kind document`"
    assert (
        rows["document"]["since (UTC)"] == f"{ledger.pauses()[0]['since'].astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}"
    )
    assert {rows[k]["intake"] for k in KINDS if k != "document"} == {"dispatching"}
    assert rows["message"]["to change"] == "`orbit pause --kind message --reason ...`"
    assert shown.paused_kinds == ["document"]


def test_a_pause_of_every_kind_holds_each_kind_back(ledger):
    pause_intake(ledger, reason="deploying")

    shown = report(ledger)

    assert {r["intake"] for r in table_rows(shown.intake)} == {"PAUSED (all kinds)"}
    assert {r["to change"] for r in table_rows(shown.intake)} == {"`orbit resume`"}
    assert shown.paused_kinds == KINDS


def test_tasks_queued_running_completed_or_canceled_are_in_no_table(ledger):
    queued = pending(ledger)
    ledger.claim([queued.id], f"task-{queued.id}")
    done = running(ledger)
    ledger.transition(done.id, TaskStatus.COMPLETED, run_id=done.run_id)
    running(ledger)
    ledger.transition(pending(ledger).id, TaskStatus.CANCELED)

    shown = report(ledger)

    assert (shown.pending_count, shown.waiting_count, shown.dead_letter_count) == (0, 0, 0)
    assert (shown.pending, shown.waiting, shown.dead_letters) == (
        "_no pending tasks_\n",
        "_no tasks waiting for a person_\n",
        "_no dead letters_\n",
    )


def test_the_summary_line_gives_the_counts_and_the_paused_kinds(ledger):
    pending(ledger)
    waiting(ledger)
    dead_letter(ledger)
    pause_intake(ledger, "message", "endpoint down")

    assert report(ledger).summary() == (
        "1 pending, 1 waiting for a person, 1 dead letter(s); intake paused for message"
    )


def test_a_cap_below_one_row_is_refused(ledger):
    with pytest.raises(ValueError, match="max_rows: must be at least 1, got 0"):
        report(ledger, max_rows=0)


def test_ages_are_shown_to_the_unit_that_matters():
    assert [age(s) for s in (0, 59, 60, 3599, 3600, 3 * 3600 + 5 * 60, 86_400 + 4 * 3600, -3)] == [
        "0 s",
        "59 s",
        "1 min",
        "59 min",
        "1 h 00 min",
        "3 h 05 min",
        "1 d 04 h",
        "0 s",
    ]


def test_ages_are_counted_from_the_moment_given(ledger):
    task = pending(ledger)
    later = datetime.now(timezone.utc) + timedelta(days=2, hours=1)

    (row,) = [r for r in table_rows(report(ledger, now=later).pending) if r["task"] == str(task.id)]

    assert row["age"] == "2 d 01 h"

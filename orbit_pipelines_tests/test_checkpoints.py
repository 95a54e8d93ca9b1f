"""Checkpoints as `orbit task checkpoints` lists them, and what a rollback re-executes and keeps: the pure
rules (summaries, superseding, the steps after a checkpoint) and the result history on a real Postgres."""

from datetime import datetime, timedelta, timezone

from dagster import MetadataValue

from orbit_pipelines.checkpoints import Checkpoint, checkpoint_lines, current, mark_superseded, summarize
from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.task_control import keep_results, result_tables, steps_after, superseded_results

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def checkpoint(step, run, minute):
    return Checkpoint(step, run, T0 + timedelta(minutes=minute), "")


def test_a_summary_is_the_steps_plain_figures_not_its_tables():
    summary = summarize(
        {
            "subtasks": MetadataValue.int(4),
            "plan": MetadataValue.md("| a | b |\n|---|---|"),
            "per_category": MetadataValue.json({"DATA_MODEL": 1}),
            "estimated_hours": MetadataValue.float(22.5),
            "strategy": MetadataValue.text("deterministic"),
        }
    )
    assert summary == "subtasks: 4, estimated_hours: 22.5, strategy: deterministic"


def test_a_step_without_figures_is_summarised_by_what_stored_its_output():
    assert summarize({}, 'Handled output "result" using IO manager "io_manager"').startswith("Handled output")


def test_a_long_summary_is_cut_to_one_line():
    assert len(summarize({f"figure_{i}": i for i in range(40)})) == 100


def test_a_step_completed_again_by_a_later_run_supersedes_its_older_checkpoint():
    marked = mark_superseded(
        [
            checkpoint("load_task", "run-a", 0),
            checkpoint("store_results", "run-a", 1),
            checkpoint("store_results", "run-b", 5),
        ],
        {},
    )
    assert [(c.step, c.run_id, c.superseded_why) for c in marked] == [
        ("load_task", "run-a", ""),
        ("store_results", "run-a", "redone in run run-b"),
        ("store_results", "run-b", ""),
    ]
    assert {s: c.run_id for s, c in current(marked).items()} == {"load_task": "run-a", "store_results": "run-b"}


def test_a_checkpoint_a_rollback_marked_is_superseded_even_before_the_step_is_redone():
    marked = mark_superseded([checkpoint("store_results", "run-a", 1)], {("run-a", "store_results"): "rolled back"})
    assert marked[0].superseded and marked[0].superseded_why == "rolled back"


def test_the_listing_says_which_checkpoints_still_count_and_how_to_roll_back():
    lines = checkpoint_lines(7, mark_superseded([checkpoint("a", "run-a-long-id", 0), checkpoint("a", "run-b", 1)], {}))
    assert "superseded (redone in run run-b)" in lines[1] and "current" in lines[2]
    assert lines[-1].startswith("`orbit task rollback 7 --to STEP")


def test_continuing_from_a_checkpoint_reruns_only_the_steps_after_it():
    job = get_kind("decomposition").job
    assert steps_after(job, "decompose_task") == ["enrich_subtasks", "generate_prompts", "store_results"]
    assert steps_after(job, "store_results") == []


def test_every_jobs_result_tables_are_found_and_the_ledgers_own_are_not(ledger):
    tables = result_tables(ledger)
    assert {"subtasks", "prompts", "documents", "worksheets", "voice_transcripts", "agent_results"} <= set(tables)
    assert not {"tasks", "task_events", "task_runs", "llm_usage"} & set(tables)


def test_a_tasks_results_are_kept_as_rows_with_the_run_that_wrote_them(ledger):
    from sqlalchemy import text

    task, _ = ledger.submit("decomposition", {"title": "t"})
    with ledger.engine.begin() as conn:  # a row as store_results writes it
        conn.execute(
            text(
                "INSERT INTO orbit.subtasks (task_id, subtask_id, position, category, title, data, run_id) "
                "VALUES (:id, 'dm-1', 0, 'DATA_MODEL', 'Invoice table', '{}', 'run-a')"
            ),
            {"id": task.id},
        )

    assert keep_results(ledger, [task.id], "rolled back to decompose_task by ana: wrong rules") == 1
    [kept] = superseded_results(ledger, task.id)
    assert (kept["table_name"], kept["run_id"], kept["row_data"]["title"]) == ("subtasks", "run-a", "Invoice table")
    assert kept["reason"] == "rolled back to decompose_task by ana: wrong rules"

"""The ledger_report job as the Launchpad starts it (no config) on the Postgres-backed instance: its run
carries the ledger's tables and counts as step output metadata, what the run page shows."""

from dagster import DagsterEventType, IntMetadataValue, MarkdownMetadataValue, execute_job

from orbit_pipelines.run_control import pause_intake
from orbit_pipelines_tests.jobs.ledger_report.support import dead_letter, pending, table_rows, waiting
from orbit_pipelines_tests.support import recon_job


def output_metadata(instance, run_id):
    """The metadata of report_ledger's output, read back from the run's stored events."""
    (record,) = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_OUTPUT).records
    return record.event_log_entry.dagster_event.step_output_data.metadata


def test_a_launch_with_no_config_shows_each_table_and_count_on_the_run(instance, ledger):
    held = pending(ledger, kind="worksheet", title="fractions")
    parked = waiting(ledger)
    failed = dead_letter(ledger)
    pause_intake(ledger, "worksheet", "new TeX engine")

    with execute_job(recon_job("ledger_report"), instance=instance) as result:
        assert result.success
        run_id = result.run_id
    metadata = output_metadata(instance, run_id)

    counts = {k: metadata[k] for k in ("pending", "waiting_for_a_person", "dead_letters", "intake_paused")}
    assert all(isinstance(v, IntMetadataValue) for v in counts.values())
    assert {k: v.value for k, v in counts.items()} == {
        "pending": 1,
        "waiting_for_a_person": 1,
        "dead_letters": 1,
        "intake_paused": 1,
    }
    tables = {k: metadata[k] for k in ("pending_tasks", "waiting_tasks", "dead_letter_tasks", "intake_by_kind")}
    assert all(isinstance(v, MarkdownMetadataValue) for v in tables.values())
    assert [r["task"] for r in table_rows(tables["pending_tasks"].value)] == [str(held.id)]
    assert [r["task"] for r in table_rows(tables["waiting_tasks"].value)] == [str(parked.id)]
    assert [r["task"] for r in table_rows(tables["dead_letter_tasks"].value)] == [str(failed.id)]
    intake = {r["kind"]: r["intake"] for r in table_rows(tables["intake_by_kind"].value)}
    assert intake["worksheet"] == "PAUSED" and intake["document"] == "dispatching"
    assert metadata["max_rows"].value == 20


def test_the_run_log_sums_the_ledger_up_in_one_line(instance, ledger):
    pending(ledger)

    with execute_job(recon_job("ledger_report"), instance=instance) as result:
        assert result.success
        logged = [e.user_message for e in instance.all_logs(result.run_id)]
    assert "1 pending, 0 waiting for a person, 0 dead letter(s); intake dispatching" in logged


def test_the_launchpad_cap_limits_every_table(instance, ledger):
    for _ in range(3):
        dead_letter(ledger)

    with execute_job(
        recon_job("ledger_report"),
        instance=instance,
        run_config={"ops": {"report_ledger": {"config": {"max_rows": 2}}}},
    ) as result:
        assert result.success
        run_id = result.run_id
    metadata = output_metadata(instance, run_id)

    assert len(table_rows(metadata["dead_letter_tasks"].value)) == 2
    assert "and 1 more" in metadata["dead_letter_tasks"].value
    assert metadata["dead_letters"].value == 3


def test_the_report_changes_nothing_in_the_ledger(instance, ledger):
    tasks = [pending(ledger), waiting(ledger), dead_letter(ledger)]
    pause_intake(ledger, "document", "maintenance")
    before = (ledger.get_many([t.id for t in tasks]), [ledger.events(t.id) for t in tasks], ledger.pauses())

    with execute_job(recon_job("ledger_report"), instance=instance) as result:
        assert result.success

    assert (ledger.get_many([t.id for t in tasks]), [ledger.events(t.id) for t in tasks], ledger.pauses()) == before

"""Run retention: old finished runs leave Dagster's storage; the ledger keeps the tasks and what each run did."""

from pathlib import Path

import pytest
from dagster import execute_job
from sqlalchemy import text

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.runtime.tags import task_tags
from orbit_pipelines_tests.support import create_database, drop_database, instance_for, recon_job, run_config_for


@pytest.fixture
def own_instance(pg_server, monkeypatch):
    """An instance and ledger of their own: a purge here must not reach other tests' runs."""
    url = create_database(pg_server, "retention")
    apply_migrations(get_engine(url))
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    instance = instance_for(url)
    yield instance, Ledger(get_engine(url))
    instance.dispose()
    drop_database(url)


def decomposed(instance, ledger, title):
    task, _ = ledger.submit("decomposition", {"title": title, "description": "Export invoices as CSV."})
    ledger.claim_pending(limit=1)
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        run_config=run_config_for(task.id),
        tags=task_tags(ledger.get(task.id)),
    )
    assert result.success
    return task, result.run_id


def purge(instance, older_than_days) -> int:
    """Runs purged by one run_retention run."""
    with execute_job(
        recon_job("run_retention"),
        instance=instance,
        run_config={"ops": {"purge_old_runs": {"config": {"older_than_days": older_than_days}}}},
    ) as result:
        assert result.success
        return result.output_for_node("purge_old_runs")


def summary_of(ledger, run_id):
    with ledger.engine.connect() as conn:
        return conn.execute(text("SELECT summary FROM orbit.run_summaries WHERE run_id = :r"), {"r": run_id}).scalar()


def test_an_old_finished_run_is_purged_and_the_ledger_keeps_its_task_and_summary(own_instance):
    instance, ledger = own_instance
    task, run_id = decomposed(instance, ledger, "Invoices export")
    logs = Path(instance.storage_directory()) / run_id
    assert logs.exists()
    purge(instance, older_than_days=0)
    assert instance.get_run_by_id(run_id) is None
    assert instance.all_logs(run_id) == []
    assert not logs.exists()
    kept = ledger.get(task.id)
    assert kept.status == TaskStatus.COMPLETED and run_id in ledger.run_ids(task.id)
    summary = summary_of(ledger, run_id)
    assert (summary["run"]["job"], summary["run"]["status"], summary["tasks"]) == (
        "task_decomposition",
        "SUCCESS",
        [task.id],
    )


def test_runs_younger_than_the_retention_period_stay(own_instance):
    instance, ledger = own_instance
    _, run_id = decomposed(instance, ledger, "Recent work")
    assert purge(instance, older_than_days=1) == 0
    assert instance.get_run_by_id(run_id) is not None and summary_of(ledger, run_id) is None


def test_a_run_a_task_still_waits_on_is_kept_for_the_sweep_to_settle(own_instance):
    instance, ledger = own_instance
    task, run_id = decomposed(instance, ledger, "Unsettled")
    with ledger.engine.begin() as conn:
        conn.execute(text("UPDATE orbit.tasks SET status = 'RUNNING' WHERE id = :id"), {"id": task.id})
    assert purge(instance, older_than_days=0) == 0
    assert instance.get_run_by_id(run_id) is not None


def test_purging_twice_changes_nothing_the_second_time(own_instance):
    instance, ledger = own_instance
    _, run_id = decomposed(instance, ledger, "Twice")
    assert purge(instance, older_than_days=0) == 1
    assert purge(instance, older_than_days=0) == 1  # only the first retention run, finished since
    assert summary_of(ledger, run_id)["run"]["status"] == "SUCCESS"

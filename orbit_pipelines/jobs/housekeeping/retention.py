"""Run retention: finished runs older than the retention period leave Dagster's storage (run, event log,
compute logs, local outputs); the ledger keeps what each did (tasks, their history and a run summary)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB

from orbit_pipelines.ledger import Ledger

FINISHED = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
DEFAULT_RETENTION_DAYS = 30


@dataclass
class Purge:
    purged: list[str] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)


def _in_use(ledger: Ledger, run_ids: list[str]) -> set[str]:
    """Runs a task still waits on: its current run while it is not settled (the sweep will settle it)."""
    with ledger.engine.connect() as conn:
        return set(
            conn.execute(
                text(
                    "SELECT DISTINCT run_id FROM orbit.tasks WHERE run_id = ANY(:ids) "
                    "AND status IN ('PENDING', 'QUEUED', 'RUNNING')"
                ),
                {"ids": run_ids},
            ).scalars()
        )


def _keep_summaries(ledger: Ledger, records) -> None:
    """What the ledger remembers of a purged run, merged into the summary the run wrote, if any."""
    stmt = text(
        "INSERT INTO orbit.run_summaries (run_id, kind, summary) "
        "SELECT :run_id, :kind, CAST(:summary AS jsonb) || jsonb_build_object('tasks', COALESCE("
        "  (SELECT jsonb_agg(task_id ORDER BY task_id) FROM orbit.task_runs WHERE run_id = :run_id), '[]')) "
        "ON CONFLICT (run_id) DO UPDATE SET summary = orbit.run_summaries.summary || EXCLUDED.summary"
    ).bindparams(bindparam("summary", type_=JSONB))
    rows = []
    for record in records:
        run = record.dagster_run
        rows.append(
            {
                "run_id": run.run_id,
                "kind": run.tags.get("orbit/kind", run.job_name),
                "summary": {
                    "run": {
                        "job": run.job_name,
                        "status": run.status.value,
                        "started": record.start_time,
                        "ended": record.end_time,
                        "tags": {k: v for k, v in run.tags.items() if k.startswith("orbit/")},
                        "purged_at": datetime.now(timezone.utc).isoformat(),
                    }
                },
            }
        )
    with ledger.engine.begin() as conn:
        conn.execute(stmt, rows)


def purge_old_runs(instance: DagsterInstance, ledger: Ledger, older_than_days: float, limit: int) -> Purge:
    """Purge up to `limit` finished runs last updated more than `older_than_days` ago, oldest first.
    Idempotent: a purged run is gone, so a second pass finds nothing new to do."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=older_than_days)
    records = instance.get_run_records(
        RunsFilter(statuses=FINISHED, updated_before=cutoff), limit=limit, ascending=True
    )
    result = Purge()
    if not records:
        return result
    in_use = _in_use(ledger, [r.dagster_run.run_id for r in records])
    result.kept_in_use = sorted(in_use)
    records = [r for r in records if r.dagster_run.run_id not in in_use]
    if records:
        _keep_summaries(ledger, records)
    local_outputs = Path(instance.storage_directory())
    for record in records:
        run_id = record.dagster_run.run_id
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        # The filesystem IO manager writes a run's outputs under <storage>/<run_id>; with the S3 IO
        # manager a bucket lifecycle rule does this (docs/deployment.md).
        shutil.rmtree(local_outputs / run_id, ignore_errors=True)
        instance.delete_run(run_id)
        result.purged.append(run_id)
    return result

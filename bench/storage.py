"""Storage growth: what Dagster's event log, run table, compute logs and the ledger gain per processed
document and per decomposition task, batched and one per run; what the run_retention purge takes back;
and how fast an idle daemon's sensor ticks grow the ticks table. For sizing Postgres.

    .venv/bin/python -m bench.storage --documents 200 --tasks 100 --single 20 --idle-seconds 60

Runs execute in this process on the Postgres-backed instance (the same events a run worker writes),
against the local S3 server and the Veryfi emulator.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import bench_environment, recon_job, write_results


def _dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def footprint(engine, instance, run_ids: list[str]) -> dict:
    """Rows and bytes these runs hold in Dagster's storage (row bytes as stored, before indexes)."""
    from sqlalchemy import text

    # SQL over Dagster's tables on purpose: the figure is the storage itself (pg_column_size of the rows
    # as stored), which no Dagster API reports. The event row count comes from the same statement, so
    # rows and bytes are of the same rows.
    with engine.connect() as conn:
        events, event_bytes = conn.execute(
            text("SELECT count(*), coalesce(sum(pg_column_size(e.*)), 0) FROM event_logs e WHERE run_id = ANY(:ids)"),
            {"ids": run_ids},
        ).one()
        run_bytes = conn.execute(
            text("SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM runs r WHERE run_id = ANY(:ids)"), {"ids": run_ids}
        ).scalar()
    storage = Path(instance.storage_directory())
    return {
        "event_rows": events,
        "event_bytes": int(event_bytes),
        "run_row_bytes": int(run_bytes),
        "compute_log_and_output_bytes": sum(_dir_bytes(storage / r) for r in run_ids),
    }


def ledger_bytes(engine) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'orbit' AND c.relkind = 'r'"
                )
            ).scalar()
        )


def event_log_table(engine) -> dict:
    from sqlalchemy import text

    # SQL on purpose: the table's size on disk, indexes included, is the storage itself (no Dagster API).
    with engine.connect() as conn:
        rows, total = conn.execute(
            text("SELECT (SELECT count(*) FROM event_logs), pg_total_relation_size('event_logs')")
        ).one()
    return {"rows": rows, "table_and_index_bytes": int(total)}


def per_item(figures: dict, items: int) -> dict:
    return {k: round(v / items, 1) for k, v in figures.items()}


def run_batches(instance, ledger, kind_name: str, task_ids: list[int], per_run: int) -> list[str]:
    """Claim the tasks and execute their runs, `per_run` tasks each, as dispatch would."""
    from dagster import execute_job

    from orbit_pipelines.jobs.registry import get_kind

    kind = get_kind(kind_name)
    job = recon_job(kind.job_name)
    run_ids = []
    for start in range(0, len(task_ids), per_run):
        tasks = ledger.claim(task_ids[start : start + per_run], f"bench-{kind_name}-{start}-{time.time_ns()}")
        result = execute_job(job, instance=instance, run_config=kind.run_config(tasks), tags=kind.tags_for(tasks))
        if not result.success:
            raise RuntimeError(f"{kind.job_name} run {result.run_id} failed")
        run_ids.append(result.run_id)
    return run_ids


def idle_tick_growth(env, seconds: float) -> dict:
    """The whole stack idle for `seconds`: rows and bytes the sensors' ticks add to the ticks table."""
    from sqlalchemy import text

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.local.stack import LocalStack
    from orbit_pipelines.settings import project_root

    engine = get_engine(env.pg_url)

    def ticks():
        # SQL on purpose: bytes of the tick rows as stored (pg_column_size), which no Dagster API reports;
        # get_ticks would need every sensor's origin and would count the rows only.
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM job_ticks t")).one()

    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack({**os.environ, "ORBIT_INBOX_DIR": str(Path(tmp) / "inbox")}, Path(tmp), project_root())
        try:
            stack.wait_until_ready()
            time.sleep(10)  # sensors started and ticking
            rows0, bytes0 = ticks()
            time.sleep(seconds)
            rows1, bytes1 = ticks()
        finally:
            stack.stop()
    per_day = 86400 / seconds
    return {
        "seconds": seconds,
        "tick_rows": rows1 - rows0,
        "tick_bytes": int(bytes1 - bytes0),
        "tick_rows_per_day": round((rows1 - rows0) * per_day),
        "tick_mb_per_day": round((bytes1 - bytes0) * per_day / 1e6, 1),
    }


def bench(documents: int, tasks: int, single: int, idle_seconds: float) -> dict:
    from dagster import DagsterInstance

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.jobs.housekeeping.retention import purge_old_runs
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.sample_documents import write_unique_sample_set

    figures: dict = {}
    with bench_environment() as env, tempfile.TemporaryDirectory() as tmp:
        engine = get_engine(env.pg_url)
        instance = DagsterInstance.get()
        ledger = Ledger(engine)
        scenarios = []
        salt = f"storage bench {time.time_ns()}"
        doc_paths = write_unique_sample_set(Path(tmp), documents + single, salt=salt)
        doc_ids = [submit_document(ledger, p)[0].id for p in doc_paths]
        task_ids = [
            ledger.submit(
                "decomposition", {"title": f"Storage task {i}", "description": "Export Invoices as CSV by Customer."}
            )[0].id
            for i in range(tasks + single)
        ]
        all_runs = []
        for name, kind, ids, per_run in (
            (f"documents, one run of {documents}", "document", doc_ids[:documents], documents),
            ("documents, one per run", "document", doc_ids[documents:], 1),
            ("tasks, runs of 25", "decomposition", task_ids[:tasks], 25),
            ("tasks, one per run", "decomposition", task_ids[tasks:], 1),
        ):
            before = ledger_bytes(engine)
            run_ids = run_batches(instance, ledger, kind, ids, per_run)
            all_runs += run_ids
            used = footprint(engine, instance, run_ids)
            scenarios.append(
                {
                    "scenario": name,
                    "items": len(ids),
                    "runs": len(run_ids),
                    **{f"{k}_per_item": v for k, v in per_item(used, len(ids)).items()},
                    "ledger_bytes_per_item": round((ledger_bytes(engine) - before) / len(ids)),
                }
            )
        figures["scenarios"] = scenarios

        before = {**event_log_table(engine), **footprint(engine, instance, all_runs)}
        started = time.monotonic()
        purge = purge_old_runs(instance, ledger, older_than_days=0, limit=100_000)
        purge_s = time.monotonic() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM event_logs")
        after = {**event_log_table(engine), **footprint(engine, instance, all_runs)}
        kept = Ledger(engine).counts_by_status()
        figures["retention"] = {
            "runs_purged": len(purge.purged),
            "purge_s": round(purge_s, 2),
            "event_rows_before": before["rows"],
            "event_rows_after": after["rows"],
            "event_log_table_bytes_before": before["table_and_index_bytes"],
            "event_log_table_bytes_after_vacuum": after["table_and_index_bytes"],
            "run_outputs_and_logs_bytes_before": before["compute_log_and_output_bytes"],
            "run_outputs_and_logs_bytes_after": after["compute_log_and_output_bytes"],
            "ledger_tasks_kept": kept,
        }
        instance.dispose()
        if idle_seconds:
            figures["idle_sensor_ticks"] = idle_tick_growth(env, idle_seconds)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--single", type=int, default=20, help="items run one per run, per kind")
    parser.add_argument("--idle-seconds", type=float, default=60)
    args = parser.parse_args()
    figures = bench(args.documents, args.tasks, args.single, args.idle_seconds)
    print(f"{'per item':32}{'event rows':>11}{'event KB':>10}{'run row B':>10}{'logs+outputs KB':>16}{'ledger KB':>10}")
    for s in figures["scenarios"]:
        print(
            f"{s['scenario']:32}{s['event_rows_per_item']:>11}{s['event_bytes_per_item'] / 1024:>10.1f}"
            f"{s['run_row_bytes_per_item']:>10}{s['compute_log_and_output_bytes_per_item'] / 1024:>16.1f}"
            f"{s['ledger_bytes_per_item'] / 1024:>10.1f}"
        )
    r = figures["retention"]
    print(
        f"retention purge of {r['runs_purged']} runs in {r['purge_s']} s: event rows {r['event_rows_before']} -> "
        f"{r['event_rows_after']}, run outputs and logs {r['run_outputs_and_logs_bytes_before'] // 1024} KB -> "
        f"{r['run_outputs_and_logs_bytes_after'] // 1024} KB; the ledger keeps {r['ledger_tasks_kept']}"
    )
    if "idle_sensor_ticks" in figures:
        t = figures["idle_sensor_ticks"]
        print(
            f"idle daemon: {t['tick_rows']} tick rows in {t['seconds']} s = {t['tick_rows_per_day']} rows/day, "
            f"{t['tick_mb_per_day']} MB/day (kept 1 day when skipped: dagster.yaml retention)"
        )
    print(f"written to {write_results('storage', figures)}")


if __name__ == "__main__":
    main()

"""The ledger at scale: 100,000 tasks of which 1,000 PENDING. Times one dispatch sensor tick (claiming
the backlog into runs), an idle tick and a metrics scrape, and EXPLAINs every statement the dispatch
and outcome paths send, captured from the ledger's engine while they run:

    .venv/bin/python -m bench.ledger_scale --tasks 100000 --pending 1000

- dispatch: task_dispatch_sensor ticks (claim, lost-dispatch check, pause check);
- outcome: one decomposition run executed on that ledger (its ops load, start, store and complete the
  task), the success sensor on it, and the stuck-task sweep's query.
A statement passes when no relation of more than SMALL_TABLE_ROWS rows is read by a sequential scan.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.common import bench_environment, recon_job, relative_paths, write_results

SMALL_TABLE_ROWS = 1000


def fill(engine, total: int, pending: int) -> None:
    """`total` tasks: finished ones of both main kinds with their run links and history, then the backlog."""
    from sqlalchemy import text

    done = total - pending
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO orbit.tasks (kind, payload, status, idempotency_key, run_id, dispatch_key, attempts,
                                     created_at, updated_at, queued_at, started_at, finished_at)
            SELECT CASE WHEN g % 2 = 0 THEN 'decomposition' ELSE 'document' END,
                   jsonb_build_object('title', 'Task ' || g, 'description', 'Export invoices as CSV.'),
                   CASE WHEN g % 50 = 0 THEN 'FAILED' ELSE 'COMPLETED' END,
                   'scale-' || g, 'run-' || (g / 25), 'batch-' || g, 1,
                   now() - make_interval(mins => :done - g), now() - make_interval(mins => :done - g),
                   now() - make_interval(mins => :done - g), now() - make_interval(mins => :done - g),
                   now() - make_interval(mins => :done - g)
            FROM generate_series(1, :done) g"""),
            {"done": done},
        )
        conn.execute(text("INSERT INTO orbit.task_runs (task_id, run_id) SELECT id, run_id FROM orbit.tasks"))
        conn.execute(
            text("""
            INSERT INTO orbit.task_events (task_id, from_status, to_status, run_id, note)
            SELECT id, s.f, s.t, run_id, 'bench' FROM orbit.tasks,
                   (VALUES (NULL, 'PENDING'), ('PENDING', 'QUEUED'), ('QUEUED', 'RUNNING'),
                           ('RUNNING', 'COMPLETED')) AS s(f, t)""")
        )
        # What finished decompositions leave behind: five subtasks and three prompts each.
        conn.execute(
            text("""
            INSERT INTO orbit.subtasks (task_id, subtask_id, position, category, title, data, run_id)
            SELECT id, 'st-' || n, n, 'backend', 'Subtask ' || n, '{}'::jsonb, run_id
            FROM orbit.tasks, generate_series(1, 5) n WHERE kind = 'decomposition'""")
        )
        conn.execute(
            text("""
            INSERT INTO orbit.prompts (task_id, category, subtask_ids, text, run_id)
            SELECT id, c, '[]'::jsonb, 'Implement ' || c, run_id
            FROM orbit.tasks, unnest(ARRAY['backend', 'frontend', 'testing']) c WHERE kind = 'decomposition'""")
        )
        conn.execute(
            text("""
            INSERT INTO orbit.tasks (kind, payload, idempotency_key)
            SELECT 'decomposition', jsonb_build_object('title', 'Pending ' || g, 'description', 'Export invoices.'),
                   'scale-pending-' || g FROM generate_series(1, :pending) g"""),
            {"pending": pending},
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def back_to_pending(engine) -> None:
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE orbit.tasks SET status = 'PENDING', dispatch_key = NULL, queued_at = NULL "
                "WHERE idempotency_key LIKE 'scale-pending-%'"
            )
        )


class Captured:
    """Statements an engine sends, with their parameters, while `capture` is on."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.on, self.statements = False, {}
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        if (
            self.on
            and not executemany
            and statement.lstrip().split()[0].upper() in ("SELECT", "WITH", "UPDATE", "INSERT", "DELETE")
        ):
            self.statements.setdefault(" ".join(statement.split()), (statement, parameters))


def explain(engine, statement: str, parameters) -> dict:
    """The plan of one statement as it ran (EXPLAIN ANALYZE in a transaction that is rolled back)."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            [[plan]] = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).all()
        finally:
            trans.rollback()
        sizes = dict(
            conn.exec_driver_sql(
                "SELECT c.relname, c.reltuples::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'orbit'"
            ).all()
        )
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    scans = []

    def walk(node):
        if "Relation Name" in node:
            scans.append((node["Node Type"], node["Relation Name"], node.get("Index Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    big_seq = [rel for kind, rel, _ in scans if kind == "Seq Scan" and sizes.get(rel, 0) > SMALL_TABLE_ROWS]
    return {
        "ms": round(plan["Execution Time"], 2),
        "scans": sorted({f"{kind} {rel}" + (f" using {index}" if index else "") for kind, rel, index in scans}),
        "ok": not big_seq,
    }


def bench(total: int, pending: int, repeat: int) -> dict:
    from dagster import (
        DagsterEventType,
        DagsterInstance,
        build_run_status_sensor_context,
        build_sensor_context,
        execute_job,
    )

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.observability.metrics import build_registry
    from orbit_pipelines.resources import LedgerResource
    from orbit_pipelines.runtime.tags import task_tags
    from orbit_pipelines.sensors.dispatch import task_dispatch_sensor
    from orbit_pipelines.sensors.outcome import task_success_sensor

    with bench_environment(local_services=False) as env:
        engine = get_engine(env.pg_url)
        started = time.monotonic()
        fill(engine, total, pending)
        fill_s = time.monotonic() - started
        instance = DagsterInstance.get()
        resource = LedgerResource(database_url=env.pg_url)
        captured = Captured(engine)

        def tick():
            started = time.perf_counter()
            result = task_dispatch_sensor(build_sensor_context(instance=instance, resources={"ledger": resource}))
            return time.perf_counter() - started, result

        tick()  # warm: connections, imports
        back_to_pending(engine)
        busy, runs_requested = [], 0
        for i in range(repeat):
            captured.on = i == 0
            seconds, result = tick()
            captured.on = False
            busy.append(seconds)
            runs_requested = len(result.run_requests)
            back_to_pending(engine)
        # Planned with the backlog in place, as the tick saw it.
        dispatch = [{"statement": flat[:160], **explain(engine, *sent)} for flat, sent in captured.statements.items()]
        captured.statements.clear()
        profile = _profile(tick)
        back_to_pending(engine)
        with engine.begin() as conn:  # nothing pending: the tick every second of an idle day
            conn.exec_driver_sql("UPDATE orbit.tasks SET status = 'CANCELED' WHERE status = 'PENDING'")
        idle = [tick()[0] for _ in range(repeat)]

        # The outcome path on the same ledger: a task's run, its ops' writes, the sensor that settles it.
        ledger = Ledger(engine)
        task, _ = ledger.submit("decomposition", {"title": "At scale", "description": "Export invoices as CSV."})
        [claimed] = ledger.claim_pending(limit=1, kinds=["decomposition"])
        captured.on = True
        result = execute_job(
            recon_job("task_decomposition"),
            instance=instance,
            run_config={"ops": {"load_task": {"config": {"task_id": task.id}}}},
            tags=task_tags(claimed),
        )
        event = instance.get_records_for_run(result.run_id, of_type=DagsterEventType.RUN_SUCCESS).records[-1]
        task_success_sensor(
            build_run_status_sensor_context(
                sensor_name="bench",
                dagster_event=event.event_log_entry.dagster_event,
                dagster_instance=instance,
                dagster_run=instance.get_run_by_id(result.run_id),
                resources={"ledger": resource},
            )
        )
        ledger.active(600, 500)
        ledger.queued_without_run(60, 500)
        captured.on = False
        outcome = [{"statement": flat[:160], **explain(engine, *sent)} for flat, sent in captured.statements.items()]

        registry = build_registry(engine)
        scrapes = []
        for _ in range(repeat):
            started = time.perf_counter()
            list(registry.collect())
            scrapes.append(time.perf_counter() - started)

        plans = {"dispatch": dispatch, "outcome": outcome}
        instance.dispose()

    return {
        "tasks": total,
        "pending": pending,
        "fill_s": round(fill_s, 1),
        "repeat": repeat,
        "dispatch_tick_ms_median": round(statistics.median(busy) * 1000, 1),
        "dispatch_tick_ms_max": round(max(busy) * 1000, 1),
        "runs_requested_per_tick": runs_requested,
        "idle_tick_ms_median": round(statistics.median(idle) * 1000, 1),
        "metrics_scrape_ms_median": round(statistics.median(scrapes) * 1000, 1),
        "statements_explained": sum(len(v) for v in plans.values()),
        "statements_with_big_seq_scan": [p["statement"] for v in plans.values() for p in v if not p["ok"]],
        "plans": plans,
        "busy_tick_profile_top_cumulative": profile,
    }


def _profile(tick) -> list[str]:
    """Where one busy tick's time goes (cumulative, the top functions)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(tick)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return [relative_paths(line) for line in out.getvalue().splitlines() if "(" in line and "/" in line]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--pending", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    figures = bench(args.tasks, args.pending, args.repeat)
    for path in ("dispatch", "outcome"):
        print(f"-- {path} statements ({len(figures['plans'][path])})")
        for p in figures["plans"][path]:
            print(
                f"  {'ok ' if p['ok'] else 'SEQ'} {p['ms']:>7} ms  {', '.join(p['scans']) or 'no table read'}\n"
                f"      {p['statement'][:110]}"
            )
    print("-- one busy tick, profiled (cumulative)")
    for line in figures["busy_tick_profile_top_cumulative"]:
        print("  " + line[:150])
    print(
        f"tasks {figures['tasks']}, pending {figures['pending']}: dispatch tick median "
        f"{figures['dispatch_tick_ms_median']} ms (max {figures['dispatch_tick_ms_max']}, "
        f"{figures['runs_requested_per_tick']} runs requested), idle tick {figures['idle_tick_ms_median']} ms, "
        f"metrics scrape {figures['metrics_scrape_ms_median']} ms; statements with a sequential scan of a "
        f"large table: {len(figures['statements_with_big_seq_scan'])}"
    )
    print(f"written to {write_results('ledger_scale', figures)}")


if __name__ == "__main__":
    main()

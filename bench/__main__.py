"""Every benchmark, one after another, then the table of targets against what was measured.

    .venv/bin/python -m bench                 # run them all (about 40 minutes here), then the table
    .venv/bin/python -m bench --only latency  # one of them (repeatable), then the table
    .venv/bin/python -m bench --table         # the table from bench/results/*.json as they are
    .venv/bin/python -m bench --table --markdown  # the same as markdown (the README's table)

Each benchmark runs in a process of its own and writes bench/results/<name>.json with the machine and
versions; the table is written to bench/results/summary.json. The fault suite has its own table:
`python -m bench.reliability` (make reliability).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Callable

from bench.common import RESULTS, write_results

# name -> the command's arguments (python -m bench.<name> ...)
BENCHMARKS: dict[str, list[str]] = {
    "documents": ["--n", "200", "--n", "1000", "--latency", "0.25", "--concurrency", "16", "--repeat", "3"],
    "inbox": ["--n", "1000", "--latency", "0.25", "--concurrency", "16", "--repeat", "3"],
    "latency": ["--n", "30"],
    "burst": ["--n", "500"],
    "overhead": ["--repeat", "15", "--profile"],
    "ledger_scale": ["--tasks", "100000", "--pending", "1000"],
    "storage": ["--documents", "200", "--tasks", "100", "--single", "20", "--idle-seconds", "60"],
    "rate_limit": [
        *("--n", "600", "--limit", "20", "--latency", "0.25", "--concurrency", "16"),
        *("--per-minute", "500", "--per-second", "10", "--sustained-latency", "3", "--sustained-concurrency", "40"),
        *("--minutes", "3"),
    ],
    "decomposition": ["--repeat", "5"],
    "worksheets": ["--n", "50"],
    "doc_submit": ["--n", "1000", "--n", "10000", "--latency", "0.25", "--concurrency", "16", "--label", "make-bench"],
    "voice": ["--offline", "4", "--seconds", "12", "--api", "200", "--latency", "0.25", "--concurrency", "8"],
    "event_stream": [
        *("--n", "500", "--clients", "1", "--clients", "10", "--burst", "500"),
        *("--docs", "200", "--decompositions", "5", "--latency", "0.25"),
    ],
}


def _documents(r: dict, n: int) -> dict:
    return next(row for row in r["runs"] if row["n"] == n)


def _submitted(r: dict, n: int) -> dict:
    """doc_submit's latest measurement of `n` documents, whatever its label (rows before 2026-12-03 carry no
    time and are left out)."""
    rows = [row for label, rows in r.items() if label != "machine" for row in rows if row["n"] == n and "when" in row]
    return max(rows, key=lambda row: row["when"])


def _submitted_measured(row: dict) -> str:
    floor = (
        f"a bare client loop on the same emulator {row['client_floor_s']} s = {row['client_floor_x_ideal']} x"
        if "client_floor_s" in row
        else "no bare-client floor measured"
    )
    return (
        f"{row['submit_to_exit_s']} s = {row['x_ideal']} x; first request {row['first_veryfi_request_s']} s; "
        f"extraction span {row['extraction_s']} s, {floor}; peak RSS {row['run_worker_peak_rss_mb']} MB"
    )


# (benchmark, target, measured from its results, met?)
Row = tuple[str, str, Callable[[dict], str], Callable[[dict], bool]]
TARGETS: list[Row] = [
    (
        "documents",
        "N=1000, L=0.25 s, C=16: run wall <= 1.25 x ideal (15.6 s)",
        lambda r: f"{_documents(r, 1000)['run_wall_s']} s = {_documents(r, 1000)['ratio_to_ideal']} x",
        lambda r: _documents(r, 1000)["ratio_to_ideal"] <= 1.25,
    ),
    (
        "documents",
        "N=200: run wall <= 1.5 x ideal (3.1 s)",
        lambda r: f"{_documents(r, 200)['run_wall_s']} s = {_documents(r, 200)['ratio_to_ideal']} x",
        lambda r: _documents(r, 200)["ratio_to_ideal"] <= 1.5,
    ),
    (
        "documents",
        "N=1000: run worker peak RSS <= 300 MB",
        lambda r: f"{_documents(r, 1000)['worker_peak_rss_mb']} MB",
        lambda r: _documents(r, 1000)["worker_peak_rss_mb"] <= 300,
    ),
    (
        "doc_submit",
        "1,000 documents, L=0.25 s, C=16: `orbit doc submit DIR --wait` start to exit <= 1.20 x ideal (18.75 s), "
        "first Veryfi request <= 3.0 s",
        lambda r: _submitted_measured(_submitted(r, 1000)),
        lambda r: _submitted(r, 1000)["x_ideal"] <= 1.20 and _submitted(r, 1000)["first_veryfi_request_s"] <= 3.0,
    ),
    (
        "doc_submit",
        "10,000 documents: start to exit <= 1.05 x ideal (164 s), run worker peak RSS <= 300 MB",
        lambda r: _submitted_measured(_submitted(r, 10000)),
        lambda r: _submitted(r, 10000)["x_ideal"] <= 1.05 and _submitted(r, 10000)["run_worker_peak_rss_mb"] <= 300,
    ),
    (
        "inbox",
        "N=1000 dropped in the inbox to all stored <= ideal + 5 s (20.6 s)",
        lambda r: (
            f"{r['dropped_to_stored_s']} s = ideal + {r['over_ideal_s']} s (median of {r.get('repeats', 1)}; "
            f"the inbox sensor's tick that took the files ended {r['inbox_tick_started_ended_s'][1]} s after the drop)"
        ),
        lambda r: r["over_ideal_s"] <= 5,
    ),
    (
        "latency",
        "one task via orbit task submit: p50 <= 4 s, p95 <= 6 s",
        lambda r: f"p50 {r['cli']['p50_s']} s, p95 {r['cli']['p95_s']} s (n={r['cli']['n']})",
        lambda r: r["cli"]["p50_s"] <= 4 and r["cli"]["p95_s"] <= 6,
    ),
    (
        "latency",
        "one task via GraphQL: p50 <= 4 s, p95 <= 6 s",
        lambda r: f"p50 {r['graphql']['p50_s']} s, p95 {r['graphql']['p95_s']} s (n={r['graphql']['n']})",
        lambda r: r["graphql"]["p50_s"] <= 4 and r["graphql"]["p95_s"] <= 6,
    ),
    (
        "latency",
        "one task by the sensor path: p50 <= 7 s",
        lambda r: f"p50 {r['sensor']['p50_s']} s, p95 {r['sensor']['p95_s']} s (n={r['sensor']['n']})",
        lambda r: r["sensor"]["p50_s"] <= 7,
    ),
    (
        "burst",
        "500 tasks at once: >= 300 tasks/min",
        lambda r: f"{r['tasks_per_minute']} tasks/min ({r['elapsed_s']} s, {r['runs']} runs)",
        lambda r: r["tasks_per_minute"] >= 300 and r["statuses"] == {"COMPLETED": r["n"]},
    ),
    (
        "overhead",
        "one-task decomposition run <= 1.3 x a bare 5-no-op-step job",
        lambda r: f"{r['ratio_run']} x ({r['decomposition_run_s']} s vs {r['bare_run_s']} s)",
        lambda r: r["ratio_run"] <= 1.3,
    ),
    (
        "ledger_scale",
        "100k tasks, 1k pending: one dispatch tick <= 100 ms",
        lambda r: f"{r['dispatch_tick_ms_median']} ms median (max {r['dispatch_tick_ms_max']})",
        lambda r: r["dispatch_tick_ms_median"] <= 100,
    ),
    (
        "ledger_scale",
        "every dispatch and outcome query uses an index",
        lambda r: (
            f"{r['statements_explained']} statements, {len(r['statements_with_big_seq_scan'])} seq scans "
            f"of a large table"
        ),
        lambda r: not r["statements_with_big_seq_scan"],
    ),
    (
        "rate_limit",
        "600 documents under a 20 POST/s account limit: all completed, paid once, no lookup, <= 1.25 x N / limit",
        lambda r: "; ".join(
            f"limit {'configured' if x['limit_configured'] else 'not configured'}: {x['run_wall_s']} s = "
            f"{x['ratio_to_ideal']} x, {x['answered_429']} 429s, {x['lookups']} lookups"
            for x in r["runs"]
        ),
        lambda r: all(
            x["completed"] == x["n"] == x["paid_calls"] and x["lookups"] == 0 and x["ratio_to_ideal"] <= 1.25
            for x in r["runs"]
        ),
    ),
    (
        "rate_limit",
        "3 minutes of load at L = 3 s under R POSTs/min and a requests/s limit, both configured: sustained >= 95% "
        "of R, no failed document, each paid once, 429s <= 1% of requests",
        lambda r: "; ".join(
            f"limit {'configured' if x['limit_configured'] else 'not configured'}: "
            f"{x['steady_share_of_limit']:.1%} of R={r['sustained']['posts_per_minute_limit']} (lowest whole minute), "
            f"{x['failed']} failed, {x['answered_429']} 429s = {x['share_of_requests_answered_429']:.2%} of "
            f"{x['requests']} requests, {x['lookups']} lookups"
            for x in r["sustained"]["runs"]
        ),
        lambda r: any(
            x["limit_configured"]
            and x["steady_share_of_limit"] >= 0.95
            and x["failed"] == 0
            and x["paid_calls"] == x["n"]
            and x["paid_more_than_once"] == 0
            and x["share_of_requests_answered_429"] <= 0.01
            for x in r["sustained"]["runs"]
        ),
    ),
    (
        "decomposition",
        "deterministic plans: coverage >= 0.85 and nonsense <= 0.05 on the reference and our own tasks, < 1 s a plan",
        lambda r: "; ".join(
            f"{name}: coverage {r[name]['coverage']}, nonsense {r[name]['nonsense']}, max {r[name]['max_plan_ms']} ms"
            for name in ("reference", "own")
        ),
        lambda r: all(
            r[n]["coverage"] >= 0.85 and r[n]["nonsense"] <= 0.05 and r[n]["max_plan_ms"] < 1000
            for n in ("reference", "own")
        ),
    ),
    (
        "worksheets",
        "50 deterministic worksheets, one run each: worksheets per minute and the compile step's share, printed",
        lambda r: (
            f"{r['worksheets_per_minute']} a minute ({r['elapsed_s']} s for {r['n']}); compiling "
            f"{r['compile_share']:.0%} of the time, median {r['compile_median_s']} s"
        ),
        lambda r: r["statuses"] == {"COMPLETED": r["n"]},
    ),
    (
        "storage",
        "event-log rows and bytes per document / per task, printed",
        lambda r: "; ".join(
            f"{s['scenario']}: {s['event_rows_per_item']} rows, {s['event_bytes_per_item'] / 1024:.1f} KB"
            for s in r["scenarios"]
        ),
        lambda r: bool(r["scenarios"]),
    ),
    (
        "storage",
        "the retention purge removes old runs, the ledger keeps its tasks",
        lambda r: (
            f"{r['retention']['runs_purged']} runs: event rows {r['retention']['event_rows_before']} -> "
            f"{r['retention']['event_rows_after']}; tasks kept {r['retention']['ledger_tasks_kept']}"
        ),
        lambda r: (
            r["retention"]["runs_purged"] > 0
            and r["retention"]["event_rows_after"] < r["retention"]["event_rows_before"]
        ),
    ),
    (
        "event_stream",
        "ledger change (commit) to stream client: p95 < 500 ms",
        lambda r: "; ".join(
            f"{x['clients']} client(s){' burst' if not x['interval_s'] else ''}: p50 {x['from_commit']['p50_ms']} ms, "
            f"p95 {x['from_commit']['p95_ms']} ms"
            for x in r["runs"]
        ),
        lambda r: all(x["from_commit"]["p95_ms"] < r["target_p95_ms"] for x in r["runs"]),
    ),
    (
        "event_stream",
        "on the stack, 200 documents + 5 decompositions running, each client a process of its own: ledger change "
        "(commit) to stream client: p95 < 500 ms, every event to every client once",
        lambda r: "; ".join(
            f"{x['clients']} client(s): p50 {x['from_commit']['p50_ms']} ms, p95 {x['from_commit']['p95_ms']} ms, "
            f"max {x['from_commit']['max_ms']} ms, {x['events']} events, {x['missed']} missed, {x['doubled']} doubled "
            f"(from task_events.at: p95 {x['from_occurred_at']['p95_ms']} ms)"
            for x in r["stack"]["runs"]
        ),
        lambda r: all(
            x["from_commit"]["p95_ms"] < r["stack"]["target_p95_ms"] and not (x["missed"] or x["doubled"])
            for x in r["stack"]["runs"]
        ),
    ),
]


def table() -> list[dict]:
    rows = []
    for name, target, measured, met in TARGETS:
        path = RESULTS / f"{name}.json"
        if not path.exists():
            rows.append({"benchmark": name, "target": target, "measured": "not run", "met": None, "when": None})
            continue
        results = json.loads(path.read_text())
        try:
            rows.append(
                {
                    "benchmark": name,
                    "target": target,
                    "measured": measured(results),
                    "met": met(results),
                    "when": results["machine"]["when"],
                }
            )
        except (KeyError, StopIteration, TypeError) as exc:
            rows.append(
                {
                    "benchmark": name,
                    "target": target,
                    "measured": f"not in its results ({exc!r})",
                    "met": None,
                    "when": results["machine"]["when"],
                }
            )
    return rows


def print_table(rows: list[dict]) -> None:
    width = max(len(r["target"]) for r in rows)
    print(f"\n{'benchmark':13} {'target':{width}}  {'met':4} measured")
    for r in rows:
        verdict = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['benchmark']:13} {r['target']:{width}}  {verdict:4} {r['measured']}")


def markdown_table(rows: list[dict]) -> str:
    """The same table for the README and closing notes."""
    lines = ["| benchmark | target | met | measured |", "|---|---|---|---|"]
    for r in rows:
        verdict = {True: "yes", False: "**no**", None: "-"}[r["met"]]
        lines.append(f"| {r['benchmark']} | {r['target']} | {verdict} | {r['measured']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS))
    parser.add_argument("--table", action="store_true", help="only print the table from the existing results")
    parser.add_argument("--markdown", action="store_true", help="with --table: as a markdown table")
    args = parser.parse_args()
    if args.table and args.markdown:
        print(markdown_table(table()))
        return
    failed = []
    if not args.table:
        for name in args.only or BENCHMARKS:
            print(f"== bench.{name} {' '.join(BENCHMARKS[name])}", flush=True)
            if subprocess.run([sys.executable, "-m", f"bench.{name}", *BENCHMARKS[name]], check=False).returncode:
                failed.append(name)
    rows = table()
    print_table(rows)
    print(f"written to {write_results('summary', {'targets': rows, 'failed_to_run': failed})}")
    if failed:
        sys.exit(f"benchmarks that did not finish: {', '.join(failed)}")


if __name__ == "__main__":
    main()

"""Worksheets per minute: N deterministic requests, one worksheet_generation run each, executed one after
another in this process on the Postgres-backed instance with the local S3 server and Debian's pdflatex,
from the first submission to the last stored PDF; and the share of that time spent compiling.

    .venv/bin/python -m bench.worksheets --n 50
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import bench_environment, recon_job, write_results

SUBJECTS = [
    "{n} addition sums up to {top}",
    "the {k} times table, {n} questions",
    "{n} fraction exercises for year {y}, with an answer key",
    "Solve for x: {n} equations",
    "{n} unit conversion exercises for year {y}",
    "vocabulary words: river, mountain, valley, forest, desert, ocean, island, glacier",
]


def requests(n: int) -> list[dict]:
    made = []
    for i in range(n):
        template = SUBJECTS[i % len(SUBJECTS)]
        made.append({"prompt": template.format(n=8 + i % 13, top=20 + 10 * i, k=2 + i % 11, y=3 + i % 5)})
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50)
    args = parser.parse_args()
    from dagster import DagsterInstance, execute_job

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.registry import get_kind
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.runtime.intake import submit_task

    with bench_environment() as env:
        instance = DagsterInstance.get()
        ledger = Ledger(get_engine(env.pg_url))
        kind, job = get_kind("worksheet"), recon_job("worksheet_generation")
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        runs, statuses = [], []
        started = time.perf_counter()
        for payload in requests(args.n):
            task, _ = submit_task(ledger, "worksheet", payload)
            ledger.claim_pending(limit=1, kinds=["worksheet"])
            tasks = [ledger.get(task.id)]
            result = execute_job(
                job, instance=instance, run_config={**kind.run_config(tasks), **quiet}, tags=kind.tags_for(tasks)
            )
            runs.append(result.run_id)
            statuses.append(ledger.get(task.id).status.value)
        elapsed = time.perf_counter() - started
        steps: dict[str, list[float]] = {}
        for run_id in runs:
            for s in instance.get_run_step_stats(run_id):
                steps.setdefault(s.step_key, []).append(s.end_time - s.start_time)
    compile_total = sum(steps.get("compile_pdf", []))
    figures = {
        "n": args.n,
        "elapsed_s": round(elapsed, 2),
        "worksheets_per_minute": round(args.n / elapsed * 60, 1),
        "compile_share": round(compile_total / elapsed, 3),
        "compile_median_s": round(statistics.median(steps["compile_pdf"]), 3),
        "step_median_s": {k: round(statistics.median(v), 3) for k, v in sorted(steps.items())},
        "statuses": {s: statuses.count(s) for s in set(statuses)},
    }
    print(
        f"{args.n} worksheets in {figures['elapsed_s']} s: {figures['worksheets_per_minute']} a minute; "
        f"compiling {figures['compile_share']:.0%} of the time (median {figures['compile_median_s']} s); "
        f"steps (median s): {figures['step_median_s']}; {figures['statuses']}"
    )
    print(f"written to {write_results('worksheets', figures)}")


if __name__ == "__main__":
    main()

"""Documents throughput: N documents in one document_processing run against the Veryfi emulator
with latency L and concurrency C, compared with the ideal N*L/C; peak RSS of the run worker.

    .venv/bin/python -m bench.documents --n 200 --n 1000 --latency 0.25 --concurrency 16

The run executes in a child process (like a run worker launched by the daemon) on the
Postgres-backed instance, with the local S3 server and the emulator in this process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import bench_environment, recon_job, s3_server_process, write_results

# What tells a run the account's limits (the old name of the per-second one too).
RATE_VARIABLES = ("ORBIT_VERYFI_RATE_PER_SECOND", "ORBIT_VERYFI_RATE_LIMIT", "ORBIT_VERYFI_RATE_PER_MINUTE")


def run_in_child(task_ids: list[int]) -> dict:
    """Executed in the child: one run over the tasks; prints its figures as JSON."""
    from dagster import DagsterInstance, execute_job

    instance = DagsterInstance.get()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        run_config={"ops": {"load_documents": {"config": {"task_ids": task_ids}}}},
        raise_on_error=False,
    )
    wall = time.perf_counter() - started
    stats = instance.get_run_stats(result.run_id)
    steps = {s.step_key: round(s.end_time - s.start_time, 2) for s in instance.get_run_step_stats(result.run_id)}
    return {
        "success": result.success,
        "run_id": result.run_id,
        "execute_wall_s": round(wall, 2),
        "run_wall_s": round(stats.end_time - stats.start_time, 2),
        "step_s": steps,
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        # CPU seconds of the run worker during the run: next to the wall time, whether it waited or worked.
        "worker_cpu_s": round(_cpu_seconds() - cpu_before, 2),
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench(
    n: int,
    latency: float,
    concurrency: int,
    env,
    services,
    limits: dict[str, int] | None = None,
    client_limits: dict[str, float] | None = None,
) -> dict:
    """One run; with `limits` (posts_per_second, posts_per_minute, requests_per_second) the emulator
    enforces those account limits, and with `client_limits` (variable -> value, of RATE_VARIABLES)
    the run is told them; without, it is told none."""
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.jobs.document_processing.intake import submit_document
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.sample_documents import write_unique_sample_set

    ledger = Ledger(get_engine(env.pg_url))
    with tempfile.TemporaryDirectory() as tmp:
        # Unique content per run of the bench, so nothing is reused from an earlier run.
        paths = write_unique_sample_set(Path(tmp), n, salt=f"bench {time.time_ns()}")
        ids = [submit_document(ledger, p)[0].id for p in paths]
        ledger.claim_pending(limit=n, kinds=["document"], batch_size=n)
        services.veryfi.reset()
        services.veryfi.faults.latency = latency
        services.veryfi.set_rate_limit(**(limits or {}))
        child_env = {**os.environ, "ORBIT_VERYFI_CONCURRENCY": str(concurrency)}
        for name in RATE_VARIABLES:  # none from the shell the bench was started in
            child_env.pop(name, None)
        child_env.update({name: str(value) for name, value in (client_limits or {}).items()})
        out = subprocess.run(
            [sys.executable, "-m", "bench.documents", "--child", json.dumps(ids)],
            env=child_env,
            capture_output=True,
            text=True,
            check=True,
        )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    tasks = ledger.get_many(ids)
    done = sum(1 for t in tasks if t.status.value == "COMPLETED")
    ideal = n * latency / concurrency
    return {
        "n": n,
        "latency_s": latency,
        "concurrency": concurrency,
        "ideal_s": round(ideal, 2),
        **figures,
        "ratio_to_ideal": round(figures["run_wall_s"] / ideal, 2),
        "completed": done,
        "paid_calls": services.veryfi.total_paid_calls,
        "paid_more_than_once": sum(1 for t in tasks if services.veryfi.paid_calls_for(t.payload["sha256"]) > 1),
        "answered_429": services.veryfi.rate_limited_answers,
        "lookups": services.veryfi.lookups,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, action="append")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="runs per N; the median is reported")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_in_child(json.loads(args.child))))
        return
    rows = []
    with s3_server_process(), bench_environment() as env:
        for n in args.n or [200, 1000]:
            # This machine is shared and noisy: the median of several runs, with their spread.
            tries = sorted(
                (bench(n, args.latency, args.concurrency, env, env.services) for _ in range(args.repeat)),
                key=lambda r: r["run_wall_s"],
            )
            median = tries[len(tries) // 2]
            rows.append({**median, "repeats": args.repeat, "run_wall_all_s": [t["run_wall_s"] for t in tries]})
    print(f"{'N':>6} {'ideal s':>8} {'run s':>7} {'x ideal':>8} {'done':>6} {'paid':>6} {'RSS MB':>7}")
    for r in rows:
        print(
            f"{r['n']:>6} {r['ideal_s']:>8} {r['run_wall_s']:>7} {r['ratio_to_ideal']:>8} {r['completed']:>6} "
            f"{r['paid_calls']:>6} {r['worker_peak_rss_mb']:>7}   all runs: {r['run_wall_all_s']}  steps: {r['step_s']}"
        )
    print(f"written to {write_results('documents', {'runs': rows})}")


if __name__ == "__main__":
    main()

"""One decomposition task at a time, with the whole stack running (gRPC code server, webserver,
daemon): how long from submission to COMPLETED.

    .venv/bin/python -m bench.latency --n 30

- cli: `orbit task submit --sample --wait` as a user types it, timed around the whole command;
- graphql: a GraphQL launchRun of task_decomposition with an inline task, polled to SUCCESS;
- sensor: a row put in the ledger by other means (no launch), picked up by the dispatch sensor.
Tasks are submitted one at a time, each after the previous one finished.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import bench_environment, percentile, write_results


def wait_completed(ledger, task_id: int, timeout: float = 120):
    from orbit_pipelines.ledger.states import TERMINAL

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = ledger.get(task_id)
        if task.status in TERMINAL:
            return task
        time.sleep(0.05)
    raise TimeoutError(f"task {task_id} not finished after {timeout}s")


def via_cli(env: dict, root: Path, i: int) -> float:
    import json

    payload = json.dumps(
        {
            "title": f"Latency task {i}",
            "description": "Export Invoices as CSV by Customer.",
            "tech_stack": ["python", "postgresql"],
        }
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "task", "submit", "--payload", "-", "--wait", "120"],
        input=payload,
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0 or "is COMPLETED" not in result.stdout:
        raise RuntimeError(f"orbit task submit failed: {result.stdout}{result.stderr}")
    return elapsed


def via_graphql(api, i: int) -> float:
    run_config = {
        "ops": {
            "load_task": {"config": {"task": {"title": f"GraphQL task {i}", "description": "Export Invoices as CSV."}}}
        }
    }
    started = time.monotonic()
    run_id = api.launch("task_decomposition", run_config, {})
    while api.run(run_id)["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if api.run(run_id)["status"] != "SUCCESS":
        raise RuntimeError(f"run {run_id} did not succeed")
    return elapsed


def via_sensor(ledger, i: int) -> float:
    from orbit_pipelines.runtime.intake import submit_task

    started = time.monotonic()
    task, _ = submit_task(
        ledger, "decomposition", {"title": f"Sensor task {i}", "description": "Export Invoices as CSV."}
    )
    done = wait_completed(ledger, task.id)
    if done.status.value != "COMPLETED":
        raise RuntimeError(f"task {task.id} ended {done.status.value}")
    return time.monotonic() - started


def summary(samples: list[float]) -> dict:
    return {
        "n": len(samples),
        "p50_s": round(percentile(samples, 50), 2),
        "p95_s": round(percentile(samples, 95), 2),
        "min_s": round(min(samples), 2),
        "max_s": round(max(samples), 2),
    }


def bench(n: int, paths: list[str]) -> dict:
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.stack import LocalStack
    from orbit_pipelines.operations import DagsterApi
    from orbit_pipelines.settings import project_root

    root = project_root()
    with bench_environment(), tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(dict(os.environ), Path(tmp), root)
        try:
            ready = stack.wait_until_ready()
            ledger, api = Ledger(get_engine(os.environ["DAGSTER_PG_URL"])), DagsterApi(stack.url)
            via_sensor(ledger, -1)  # warm up: the first run also starts what later runs reuse
            figures: dict = {"stack_ready_s": round(ready, 1)}
            for path in paths:
                samples = []
                for i in range(n):
                    if path == "cli":
                        samples.append(via_cli(stack.env, root, i))
                    elif path == "graphql":
                        samples.append(via_graphql(api, i))
                    else:
                        samples.append(via_sensor(ledger, i))
                figures[path] = summary(samples)
                print(f"{path:8} {figures[path]}", flush=True)
        finally:
            stack.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--path", action="append", choices=["cli", "graphql", "sensor"])
    args = parser.parse_args()
    figures = bench(args.n, args.path or ["cli", "graphql", "sensor"])
    print(f"written to {write_results('latency', figures)}")


if __name__ == "__main__":
    main()

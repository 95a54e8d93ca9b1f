"""A burst of decomposition tasks arriving at once, with the whole stack running: time from the
commit that makes them visible until every one is COMPLETED, as tasks per minute.

    .venv/bin/python -m bench.burst --n 500
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import bench_environment, run_timeline, write_results


def bench(n: int) -> dict:
    from sqlalchemy import text

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.stack import LocalStack
    from orbit_pipelines.runtime.intake import validate_payload
    from orbit_pipelines.settings import project_root

    with bench_environment(), tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(dict(os.environ), Path(tmp), project_root())
        try:
            stack.wait_until_ready()
            ledger = Ledger(get_engine(os.environ["DAGSTER_PG_URL"]))
            items = [
                (
                    validate_payload(
                        "decomposition",
                        {
                            "title": f"Burst task {i}",
                            "description": f"Export Invoices of Customer {i} as CSV.",
                            "tech_stack": ["python", "postgresql"],
                        },
                    ).model_dump(mode="json"),
                    f"burst-{i}",
                )
                for i in range(n)
            ]
            started, wall_start = time.monotonic(), time.time()
            ids = list(ledger.submit_many("decomposition", items).values())  # one commit: they arrive together
            while True:
                counts = ledger.counts_by_status()
                if counts.get("COMPLETED", 0) + counts.get("FAILED", 0) >= n:
                    break
                if time.monotonic() - started > 1800:
                    raise TimeoutError(f"burst not done after 30 minutes: {counts}")
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            with ledger.engine.connect() as conn:
                runs = conn.execute(
                    text("SELECT count(DISTINCT run_id) FROM orbit.task_runs WHERE task_id = ANY(:i)"), {"i": ids}
                ).scalar()
                run_ids = list(
                    conn.execute(
                        text("SELECT DISTINCT run_id FROM orbit.task_runs WHERE task_id = ANY(:i)"), {"i": ids}
                    ).scalars()
                )
            timeline = run_timeline(ledger.engine, run_ids, wall_start)
            statuses = Counter(t.status.value for t in ledger.get_many(ids))
        finally:
            stack.stop()
    figures = {
        "n": n,
        "elapsed_s": round(elapsed, 1),
        "tasks_per_minute": round(n / elapsed * 60),
        "runs": runs,
        "statuses": dict(statuses),
        "run_timeline_created_started_ended_s": timeline,
        "batch_size": int(os.environ.get("ORBIT_DECOMPOSITION_BATCH_SIZE", 25)),
    }
    print(figures, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    print(f"written to {write_results('burst', bench(args.n))}")


if __name__ == "__main__":
    main()

"""From files dropped in the inbox to all of them stored, with the whole stack running (code server,
webserver, daemon), the Veryfi emulator at latency L and the S3 server in a process of its own.

    .venv/bin/python -m bench.inbox --n 1000 --latency 0.25 --concurrency 16

Files are written elsewhere first and moved in (as a user drops finished files), then the clock runs
until every document is COMPLETED; the ideal is N*L/C, the time Veryfi alone needs.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench.common import bench_environment, run_timeline, s3_server_process, write_results


def bench(n: int, latency: float, concurrency: int) -> dict:
    from sqlalchemy import text

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.environment import project_root
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.sample_documents import write_unique_sample_set
    from orbit_pipelines.local.stack import LocalStack

    with s3_server_process(), bench_environment() as env, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inbox, staging = folder / "inbox", folder / "staging"
        inbox.mkdir()
        stack_env = {**os.environ, "ORBIT_INBOX_DIR": str(inbox), "ORBIT_VERYFI_CONCURRENCY": str(concurrency)}
        stack = LocalStack(stack_env, folder, project_root())
        try:
            stack.wait_until_ready()
            env.services.veryfi.reset()
            env.services.veryfi.faults.latency = latency
            paths = write_unique_sample_set(staging, n, salt=f"inbox bench {time.time_ns()}")
            old = time.time() - 60  # finished files, not ones still being written
            for path in paths:
                os.utime(path, (old, old))
            for path in paths:
                path.rename(inbox / path.name)
            dropped, dropped_epoch = time.monotonic(), time.time()
            ledger = Ledger(get_engine(env.pg_url))
            while True:
                counts = ledger.counts_by_status()
                if counts.get("COMPLETED", 0) + counts.get("FAILED", 0) >= n:
                    break
                if time.monotonic() - dropped > 600:
                    raise TimeoutError(f"not stored after 10 minutes: {counts}\n{stack.tail_logs()}")
                time.sleep(0.2)
            elapsed = time.monotonic() - dropped
            with ledger.engine.connect() as conn:
                run_ids = list(conn.execute(text("SELECT DISTINCT run_id FROM orbit.task_runs")).scalars())
            timeline = run_timeline(ledger.engine, run_ids, dropped_epoch, step="upload_and_extract")
            completed = ledger.counts_by_status().get("COMPLETED", 0)
            paid = env.services.veryfi.total_paid_calls
        finally:
            stack.stop()
    ideal = n * latency / concurrency
    figures = {"n": n, "latency_s": latency, "concurrency": concurrency, "ideal_s": round(ideal, 2),
               "dropped_to_stored_s": round(elapsed, 1), "over_ideal_s": round(elapsed - ideal, 1),
               "completed": completed, "paid_calls": paid, "runs": len(run_ids),
               "run_timeline_created_started_ended_step_started_step_ended_s": timeline,
               "batch_size": int(os.environ.get("ORBIT_DOCUMENT_BATCH_SIZE", 0)) or "default"}
    print(figures, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    print(f"written to {write_results('inbox', bench(args.n, args.latency, args.concurrency))}")


if __name__ == "__main__":
    main()

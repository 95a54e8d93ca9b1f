"""Documents from where the user waits (issue 22): `orbit doc submit DIR --wait` from its start to its
exit, everything stored, with the stack already running as `orbit up` runs it (code server, webserver,
daemon), the Veryfi emulator at latency L and concurrency C, the S3 server in a process of its own.

    .venv/bin/python -m bench.doc_submit --n 1000 --latency 0.25 --concurrency 16

The ideal is N*L/C, the time Veryfi alone needs. Where the time goes, in seconds after the command
started: the submission (the command's own "submitted" line), each run's creation, start and end,
its extraction step's start and end, the first and last Veryfi request. The run worker's peak RSS is
read from its process while the run goes on.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.common import bench_environment, run_timeline, s3_server_process, write_results

# Which part of the stack a process is, by its command line; the first match wins.
_ROLES = (
    ("run worker", ("execute_run", "spawn_main")),
    ("zygote", ("run_worker_zygote",)),
    ("orbit doc submit", ("orbit_pipelines.cli doc submit",)),
    ("code server", ("code-server", "api grpc")),
    ("daemon", ("dagster-daemon",)),
    ("webserver", ("dagster-webserver",)),
    ("s3 server", ("moto", "s3_server")),
    ("postgres", ("postgres",)),
)


def _role(cmd: str) -> str | None:
    return next((role for role, marks in _ROLES if any(m in cmd for m in marks)), None)


def _sample_processes(stop: threading.Event, peak: list[float], cpu: dict[int, tuple[str, float]]) -> None:
    """Every 0.5 s (a sample costs ~4 ms of CPU in this process, which also serves the emulator): the run
    worker's resident memory (its peak) and each stack process's CPU seconds so far (the last sample of a
    process that exits stands for its total)."""
    import psutil

    me = os.getpid()
    while not stop.is_set():
        for proc in psutil.process_iter(["pid", "cmdline", "memory_info", "cpu_times"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            role = "bench (emulator)" if proc.info["pid"] == me else _role(cmd)
            if role is None or proc.info["cpu_times"] is None:
                continue
            times = proc.info["cpu_times"]
            if role == "zygote" and _role(" ".join(_parent_cmdline(proc))) == "zygote":
                role = "run worker"  # forked by the zygote (PreforkedRunLauncher), with its command line
            cpu[proc.info["pid"]] = (role, times.user + times.system)
            # The code server starts each run worker as a multiprocessing child (spawn_main).
            if role == "run worker" and proc.info["memory_info"] is not None:
                peak[0] = max(peak[0], proc.info["memory_info"].rss / 2**20)
        stop.wait(0.5)


def _parent_cmdline(proc) -> list[str]:
    import psutil

    try:
        parent = proc.parent()
        return parent.cmdline() if parent else []
    except psutil.Error:
        return []


def _launch_events(run_ids: list[str], t0: float) -> dict[str, dict[str, float]]:
    """Per run, seconds after `t0` of its launch's events: enqueued, dequeued, starting (the code server
    starts its worker), started (the worker runs it)."""
    from dagster import DagsterEventType, DagsterInstance

    kinds = {
        DagsterEventType.RUN_ENQUEUED: "enqueued",
        DagsterEventType.RUN_DEQUEUED: "dequeued",
        DagsterEventType.RUN_STARTING: "starting",
        DagsterEventType.RUN_START: "started",
    }
    found: dict[str, dict[str, float]] = {}
    with DagsterInstance.get() as instance:
        for run_id in run_ids:
            events = instance.all_logs(run_id, of_type=set(kinds))
            found[run_id[:8]] = {kinds[e.dagster_event_type]: round(e.timestamp - t0, 2) for e in events}
    return found


def _cpu_by_role(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    spent: dict[str, float] = {}
    for pid, (role, seconds) in after.items():
        spent[role] = spent.get(role, 0.0) + seconds - before.get(pid, (role, 0.0))[1]
    return {role: round(s, 2) for role, s in sorted(spent.items(), key=lambda kv: -kv[1])}


def client_floor(files: list[Path], latency: float, concurrency: int, env: dict[str, str]) -> None:
    """`files` sent to the same emulator by `concurrency` threads that do nothing else, each one after
    another with the project's Veryfi client: no S3, no ledger, no Dagster. The span of these requests is
    what this machine and this emulator allow a hand-written queue worker; the command's extraction (the
    span of its requests) is compared with it, as the ideal N*L/C leaves out each request's own time."""
    import queue

    from orbit_pipelines.veryfi import VeryfiClient

    todo: queue.Queue[Path] = queue.Queue()
    for f in files:
        todo.put(f)

    def work() -> None:
        client = VeryfiClient(
            env["VERYFI_BASE_URL"], env["VERYFI_CLIENT_ID"], env["VERYFI_USERNAME"], env["VERYFI_API_KEY"]
        )
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                break
            client.process_file(path, path.name, external_id=f"floor-{path.name}")

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def bench(n: int, latency: float, concurrency: int, extra_env: dict[str, str]) -> dict:
    from sqlalchemy import text

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.local.sample_documents import write_unique_sample_set
    from orbit_pipelines.local.stack import LocalStack
    from orbit_pipelines.settings import project_root

    with s3_server_process(), bench_environment() as env, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        stack_env = {**os.environ, "ORBIT_VERYFI_CONCURRENCY": str(concurrency), **extra_env}
        stack = LocalStack(stack_env, folder, project_root())
        stop, peak = threading.Event(), [0.0]
        cpu_before: dict[int, tuple[str, float]] = {}
        cpu_after: dict[int, tuple[str, float]] = {}
        try:
            stack.wait_until_ready()
            veryfi = env.services.veryfi
            # A ledger with a run the webserver knows, as any ledger after its first run: the command then
            # launches at once (launch.serves_this_instance); a brand-new ledger waits for the sensor's tick.
            write_unique_sample_set(folder / "first", 1, salt=f"doc submit bench first {time.time_ns()}")
            subprocess.run(
                [sys.executable, "-m", "orbit_pipelines.cli", "doc", "submit", str(folder / "first"), "--wait", "120"],
                env=stack.env,
                check=True,
                capture_output=True,
            )
            veryfi.reset()
            veryfi.faults.latency = latency
            write_unique_sample_set(folder / "docs", n, salt=f"doc submit bench {time.time_ns()}")
            once = threading.Event()
            once.set()
            _sample_processes(once, [0.0], cpu_before)  # one sample: the CPU spent before the command
            sampler = threading.Thread(target=_sample_processes, args=(stop, peak, cpu_after), daemon=True)
            sampler.start()
            t0, t0_monotonic = time.time(), time.monotonic()
            proc = subprocess.Popen(
                [sys.executable, "-m", "orbit_pipelines.cli", "doc", "submit", str(folder / "docs"), "--wait", "900"],
                env=stack.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            submitted_at = None
            out: list[str] = []
            assert proc.stdout is not None
            for line in proc.stdout:
                out.append(line)
                if submitted_at is None and re.match(r"\d+ submitted", line):
                    submitted_at = time.time() - t0
            code = proc.wait()
            elapsed = time.time() - t0
            stop.set()
            sampler.join()
            if code != 0:
                raise RuntimeError(f"orbit doc submit exited {code}:\n{''.join(out)[-3000:]}\n{stack.tail_logs()}")
            ledger = Ledger(get_engine(env.pg_url))
            with ledger.engine.connect() as conn:
                run_ids = list(
                    conn.execute(
                        text("SELECT DISTINCT run_id FROM orbit.task_runs WHERE attached_at >= to_timestamp(:t0)"),
                        {"t0": t0},
                    ).scalars()
                )
            timeline = run_timeline(ledger.engine, run_ids, t0, step="upload_and_extract")
            launch_events = _launch_events(run_ids, t0)
            with ledger.engine.connect() as conn:
                last_completed = conn.execute(
                    text(
                        "SELECT extract(epoch FROM max(finished_at)) FROM orbit.tasks t JOIN orbit.task_runs r "
                        "ON r.task_id = t.id WHERE r.run_id = ANY(:runs)"
                    ),
                    {"runs": run_ids},
                ).scalar()
            posts = sorted(r.received_at for r in veryfi.requests if r.method == "POST")
            first_post = veryfi.first_post_at
            completed = ledger.counts_by_status().get("COMPLETED", 0) - 1  # the first document's
            figures_of_run = {
                "completed": completed,
                "paid_calls": veryfi.total_paid_calls,
                "lookups": veryfi.lookups,
                "rate_limited_answers": veryfi.rate_limited_answers,
            }
            # The same files again, by a bare client loop, with the stack still up (idle) as it was.
            veryfi.reset()
            veryfi.faults.latency = latency
            client_floor(sorted((folder / "docs").iterdir()), latency, concurrency, stack.env)
            # The emulator keeps its last 2,000 requests, and the time of the first POST since a reset.
            floor = max(r.received_at for r in veryfi.requests if r.method == "POST") - veryfi.first_post_at
        finally:
            stop.set()
            stack.stop()
    ideal = n * latency / concurrency
    figures = {
        "command": f"orbit doc submit DIR --wait 900 ({n} documents)",
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "n": n,
        "latency_s": latency,
        "concurrency": concurrency,
        "settings": extra_env,
        "ideal_s": round(ideal, 2),
        "submit_to_exit_s": round(elapsed, 2),
        "x_ideal": round(elapsed / ideal, 3),
        "submitted_line_s": None if submitted_at is None else round(submitted_at, 2),
        "first_veryfi_request_s": round(first_post - t0_monotonic, 2) if first_post else None,
        "last_veryfi_request_s": round(posts[-1] - t0_monotonic, 2) if posts else None,
        "runs": len(run_ids),
        "run_timeline_created_started_ended_step_started_step_ended_s": timeline,
        "launch_events_s": launch_events,
        "last_task_completed_s": round(float(last_completed) - t0, 2) if last_completed else None,
        "extraction_s": round(posts[-1] - first_post, 2) if posts and first_post else None,
        "client_floor_s": round(floor, 2),
        "client_floor_x_ideal": round(floor / ideal, 3),
        "run_worker_peak_rss_mb": round(peak[0], 1),
        "cpu_s_by_process_during_command": _cpu_by_role(cpu_before, cpu_after),
        **figures_of_run,
    }
    print(figures, flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, action="append", help="documents (repeatable); default 1000")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--label", default="current", help="the name of this configuration in the results file")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the stack (repeatable)")
    args = parser.parse_args()
    extra = dict(e.split("=", 1) for e in args.env)
    rows = [bench(n, args.latency, args.concurrency, extra) for n in (args.n or [1000])]
    import json

    from bench.common import RESULTS

    path = RESULTS / "doc_submit.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    labels = {k: v for k, v in previous.items() if k != "machine"}
    labels[args.label] = rows
    print(f"written to {write_results('doc_submit', labels)}")


if __name__ == "__main__":
    main()

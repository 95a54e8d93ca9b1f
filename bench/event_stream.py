"""The live event stream: from a ledger change to a client holding the event, over the stack's Postgres.

    .venv/bin/python -m bench.event_stream --n 500 --clients 1 --clients 10

The stream server runs in a process of its own (as in `orbit up`); this process writes ledger changes
(Ledger.record_note: one task_events row per change, committed) one at a time, `--interval` seconds
apart, while `--clients` clients follow `GET /events` over HTTP. Each client notes when each event's
last byte arrived; the figure is that minus the moment the change's commit returned (what a client
could see at the earliest) and minus its insert (`task_events.at`, the transaction's start). A burst
(`--burst` changes in one go, no pause) shows how a backlog drains.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import threading
import time

from bench.common import bench_environment, percentile, write_results

TARGET_P95_S = 0.5


def _serve(url: str, token: str, ready) -> None:
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.observability.stream.server import serve

    server = serve(get_engine(url), "127.0.0.1", 0, token)
    server.listener.connected.wait(30)
    ready.send(server.url)
    threading.Event().wait()  # until terminated


class Client(threading.Thread):
    def __init__(self, url: str, token: str, expected: int):
        super().__init__(daemon=True)
        from orbit_pipelines.observability.stream.client import open_stream

        self.response = open_stream(url, token)
        self.expected, self.received = expected, {}  # note -> (receipt time, insert time)

    def run(self) -> None:
        from orbit_pipelines.observability.stream.client import messages

        for message in messages(self.response):
            body = json.loads(message.data)
            self.received[body["note"]] = (time.time(), body["occurred_at"])
            if len(self.received) >= self.expected:
                break
        self.response.close()


def _figures(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


def measure(ledger, url: str, token: str, n: int, clients: int, interval: float, label: str) -> dict:
    from datetime import datetime

    task_id = ledger.list(limit=1)[0].id
    followers = [Client(url, token, n) for _ in range(clients)]
    for follower in followers:
        follower.start()
    committed: dict[str, float] = {}
    for i in range(n):
        note = f"{label} {i}"
        ledger.record_note(task_id, note)
        committed[note] = time.time()
        if interval:
            time.sleep(interval)
    for follower in followers:
        follower.join(timeout=60)
    from_commit, from_insert = [], []
    for follower in followers:
        missing = set(committed) - set(follower.received)
        if missing:
            raise RuntimeError(f"{label}: a client missed {len(missing)} event(s), e.g. {sorted(missing)[:3]}")
        for note, (received, occurred_at) in follower.received.items():
            from_commit.append(received - committed[note])
            from_insert.append(received - datetime.fromisoformat(occurred_at).timestamp())
    return {
        "events": n,
        "clients": clients,
        "interval_s": interval,
        "from_commit": _figures(from_commit),
        "from_insert": _figures(from_insert),
    }


def bench(n: int, clients: list[int], interval: float, burst: int) -> dict:
    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.runtime.intake import submit_task

    token = secrets.token_urlsafe(32)
    with bench_environment(local_services=False) as env:
        ledger = Ledger(get_engine(env.pg_url))
        submit_task(ledger, "decomposition", {"title": "Event stream bench", "description": "CSV export."})
        spawn = multiprocessing.get_context("spawn")
        ours, theirs = spawn.Pipe()
        server = spawn.Process(target=_serve, args=(env.pg_url, token, theirs), daemon=True)
        server.start()
        try:
            url = ours.recv()
            measure(ledger, url, token, 20, 1, interval, "warm-up")
            runs = [measure(ledger, url, token, n, c, interval, f"steady {c}") for c in clients]
            if burst:
                runs.append(measure(ledger, url, token, burst, max(clients), 0.0, "burst"))
        finally:
            server.terminate()
            server.join(10)
    for run in runs:
        fc, fi = run["from_commit"], run["from_insert"]
        print(
            f"{run['events']} events, {run['clients']} client(s), {run['interval_s']} s apart: commit -> client "
            f"p50 {fc['p50_ms']} ms, p95 {fc['p95_ms']} ms (max {fc['max_ms']}); insert -> client "
            f"p50 {fi['p50_ms']} ms, p95 {fi['p95_ms']} ms"
        )
    worst = max(run["from_commit"]["p95_ms"] for run in runs if run["interval_s"])
    print(f"target: p95 under {TARGET_P95_S * 1000:.0f} ms: {'met' if worst < TARGET_P95_S * 1000 else 'NOT met'}")
    return {"runs": runs, "target_p95_ms": TARGET_P95_S * 1000, "worst_steady_p95_ms": worst}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500, help="changes per steady run")
    parser.add_argument("--clients", type=int, action="append", help="clients following the stream (repeatable)")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between changes")
    parser.add_argument("--burst", type=int, default=500, help="changes written with no pause, then drained (0: none)")
    args = parser.parse_args()
    clients = args.clients or [1, 10]
    figures = bench(args.n, clients, args.interval, args.burst)
    command = f"python -m bench.event_stream --n {args.n} " + " ".join(f"--clients {c}" for c in clients)
    figures["command"] = f"{command} --interval {args.interval} --burst {args.burst}"
    print(f"written to {write_results('event_stream', figures)}")


if __name__ == "__main__":
    main()

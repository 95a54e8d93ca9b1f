"""Documents under an account rate limit, against the Veryfi emulator enforcing it as Veryfi does (429
with Retry-After beyond it), each run once with the limit configured in the client and once without.

Per second: N documents at R POSTs a second (ORBIT_VERYFI_RATE_PER_SECOND=R), compared with the ideal
N / R, run start to end.

Sustained (issue 22's target): 3 minutes of load at L = 3 s under R POSTs a minute plus a limit of
requests of any kind a second (ORBIT_VERYFI_RATE_PER_MINUTE=R, ORBIT_VERYFI_RATE_PER_SECOND=S):
- R = 500, Veryfi's own default per account. S = 10, not Veryfi's 60: tight enough to matter (the run
  offers C / L = 13.3 requests a second, and a lookup's GET counts too) yet above R / 60 = 8.3, so the
  per-minute limit is the tighter one, the one a big backlog meets.
- C = 40 documents in flight: reaching R takes R / 60 x L = 25, so with 40 the limit binds, not the
  concurrency (at 25 or fewer a run would be slower than R whether paced or not).
- N = 1.02 x R x minutes: a little more than 3 minutes of POSTs at 97% of R (the pacer's aim), so three
  whole minutes are under load.
Throughput is measured where the load is steady: the accepted POSTs (as the emulator admitted them) in
each whole minute from the first one, the last partial minute (the backlog running out) left out; the
lowest of those minutes as a share of R is the figure against the target (>= 95%). First POST to last
is reported too. 429s are a share of all requests the emulator saw (POSTs and GETs).

    .venv/bin/python -m bench.rate_limit                           # both sections
    .venv/bin/python -m bench.rate_limit --only sustained          # one; the other's figures are kept
    .venv/bin/python -m bench.rate_limit --n 600 --limit 20 --latency 0.25 --concurrency 16 \\
        --per-minute 500 --per-second 10 --sustained-latency 3 --sustained-concurrency 40 --minutes 3

Not part of `make test` (it takes about ten minutes): `make bench` runs it with the others.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from bench.common import RESULTS, bench_environment, machine, s3_server_process, write_results
from bench.documents import bench
from orbit_pipelines.local.veryfi_emulator.ratelimit import AccountLimits, RateLimiter

SECTIONS = ("per-second", "sustained")


class RecordingLimiter(RateLimiter):
    """The emulator's limiter, noting when each request reached it and whether it was let in: the
    emulator's own request list is bounded, and a sustained run makes more requests than it keeps."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[float, str, bool]] = []

    def set(self, limits: AccountLimits) -> None:
        super().set(limits)
        self.seen = []  # the emulator's reset and each new limit start a run's record

    def admit(self, method: str):
        wait = super().admit(method)
        self.seen.append((time.monotonic(), method, wait is None))
        return wait


def per_second_section(args, env) -> list[dict]:
    rows = []
    for configured in (True, False):
        r = bench(
            args.n,
            args.latency,
            args.concurrency,
            env,
            env.services,
            limits={"posts_per_second": args.limit},
            client_limits={"ORBIT_VERYFI_RATE_PER_SECOND": args.limit} if configured else None,
        )
        ideal = args.n / args.limit
        posts = r["paid_calls"] + r["answered_429"]
        rows.append(
            {
                **r,
                "limit_configured": configured,
                "posts_per_second_limit": args.limit,
                "ideal_s": round(ideal, 2),
                "ratio_to_ideal": round(r["run_wall_s"] / ideal, 2),
                "throughput_share_of_limit": round(args.n / r["run_wall_s"] / args.limit, 3),
                "share_of_posts_answered_429": round(r["answered_429"] / posts, 4) if posts else 0.0,
            }
        )
    return rows


def steady_throughput(seen: list[tuple[float, str, bool]], per_minute: int) -> dict:
    """Accepted POSTs in each whole minute from the first one, and first to last, against the limit."""
    posts = sorted(t for t, method, admitted in seen if admitted and method == "POST")
    if len(posts) < 2:
        return {"posts_per_minute_window": [], "steady_share_of_limit": 0.0, "first_to_last_share_of_limit": 0.0}
    first, span = posts[0], posts[-1] - posts[0]
    windows = [
        sum(1 for t in posts if first + 60 * i <= t < first + 60 * (i + 1)) for i in range(math.floor(span / 60))
    ]
    return {
        "first_to_last_post_s": round(span, 1),
        "posts_per_minute_window": windows,
        "steady_share_of_limit": round(min(windows) / per_minute, 3) if windows else None,
        "first_to_last_share_of_limit": round((len(posts) - 1) / span * 60 / per_minute, 3),
    }


def sustained_section(args, env) -> dict:
    n = math.ceil(1.02 * args.per_minute * args.minutes)
    limits = {"posts_per_minute": args.per_minute, "requests_per_second": args.per_second}
    recorder = RecordingLimiter()
    env.services.veryfi.limiter = recorder
    rows = []
    for configured in (True, False):
        told = {"ORBIT_VERYFI_RATE_PER_MINUTE": args.per_minute, "ORBIT_VERYFI_RATE_PER_SECOND": args.per_second}
        r = bench(
            n,
            args.sustained_latency,
            args.sustained_concurrency,
            env,
            env.services,
            limits=limits,
            client_limits=told if configured else None,
        )
        seen = recorder.seen
        refused = sum(1 for _t, _method, admitted in seen if not admitted)
        rows.append(
            {
                **r,
                "limit_configured": configured,
                "failed": n - r["completed"],
                "requests": len(seen),
                "gets": sum(1 for _t, method, _admitted in seen if method == "GET"),
                "share_of_requests_answered_429": round(refused / len(seen), 4) if seen else 0.0,
                **steady_throughput(seen, args.per_minute),
            }
        )
    return {
        "posts_per_minute_limit": args.per_minute,
        "requests_per_second_limit": args.per_second,
        "latency_s": args.sustained_latency,
        "concurrency": args.sustained_concurrency,
        "concurrency_to_reach_limit": round(args.per_minute / 60 * args.sustained_latency, 1),
        "minutes": args.minutes,
        "n": n,
        "measured": "accepted POSTs in each whole minute from the first one (the last partial minute left out); "
        "steady_share_of_limit is the lowest of them / R",
        "when": machine()["when"],
        "runs": rows,
    }


def print_per_second(rows: list[dict]) -> None:
    columns = ("limit known", "N", "ideal s", "run s", "x ideal", "done", "paid", "429s", "lookups")
    print(" ".join(f"{c:>11}" for c in columns))
    for r in rows:
        values = ("limit_configured", "n", "ideal_s", "run_wall_s", "ratio_to_ideal")
        values += ("completed", "paid_calls", "answered_429", "lookups")
        print(" ".join(f"{str(r[v]):>11}" for v in values))


def print_sustained(s: dict) -> None:
    print(
        f"sustained: N={s['n']}, R={s['posts_per_minute_limit']} POST/min + {s['requests_per_second_limit']} "
        f"requests/s, L={s['latency_s']} s, C={s['concurrency']} (R/60 x L = {s['concurrency_to_reach_limit']})"
    )
    columns = ("limit known", "steady/R", "1st-last/R", "per minute", "failed", "paid", "paid 2x", "429s")
    columns += ("429 share", "requests", "lookups", "run s")
    print(" ".join(f"{c:>11}" for c in columns))
    for r in s["runs"]:
        values = (r["limit_configured"], r["steady_share_of_limit"], r["first_to_last_share_of_limit"])
        values += ("/".join(map(str, r["posts_per_minute_window"])), r["failed"], r["paid_calls"])
        values += (r["paid_more_than_once"], r["answered_429"], r["share_of_requests_answered_429"])
        values += (r["requests"], r["lookups"], r["run_wall_s"])
        print(" ".join(f"{str(v):>11}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", action="append", choices=SECTIONS, help="one section; the other's are kept")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--limit", type=int, default=20, help="POSTs a second the emulator allows")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-minute", type=int, default=500, help="sustained: POSTs a minute the emulator allows")
    parser.add_argument("--per-second", type=int, default=10, help="sustained: requests a second it allows")
    parser.add_argument("--sustained-latency", type=float, default=3.0)
    parser.add_argument("--sustained-concurrency", type=int, default=40)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    sections = args.only or list(SECTIONS)
    previous_path = RESULTS / "rate_limit.json"
    previous = json.loads(previous_path.read_text()) if previous_path.exists() else {}
    results = {key: previous[key] for key in ("runs", "runs_when", "sustained") if key in previous}
    if "runs" in results and "runs_when" not in results:  # written before the file had sections
        results["runs_when"] = previous["machine"]["when"]
    with s3_server_process(), bench_environment() as env:
        if "per-second" in sections:
            results["runs"] = per_second_section(args, env)
            results["runs_when"] = machine()["when"]
        if "sustained" in sections:
            results["sustained"] = sustained_section(args, env)
    if "runs" in results:
        print_per_second(results["runs"])
    if "sustained" in results:
        print_sustained(results["sustained"])
    print(f"written to {write_results('rate_limit', results)}")


if __name__ == "__main__":
    main()

"""Documents under an account rate limit: N documents in one run against the Veryfi emulator
enforcing R POSTs a second (429 with Retry-After beyond it), with the limit configured
(ORBIT_VERYFI_RATE_LIMIT=R) and without; compared with the ideal N / R.

    .venv/bin/python -m bench.rate_limit --n 600 --limit 20 --latency 0.25 --concurrency 16
"""

from __future__ import annotations

import argparse

from bench.common import bench_environment, s3_server_process, write_results
from bench.documents import bench


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--limit", type=int, default=20, help="POSTs a second the emulator allows")
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    rows = []
    with s3_server_process(), bench_environment() as env:
        for configured in (True, False):
            r = bench(
                args.n,
                args.latency,
                args.concurrency,
                env,
                env.services,
                posts_per_second=args.limit,
                client_limit=args.limit if configured else None,
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
    columns = ("limit known", "N", "ideal s", "run s", "x ideal", "done", "paid", "429s", "lookups")
    print(" ".join(f"{c:>11}" for c in columns))
    for r in rows:
        values = ("limit_configured", "n", "ideal_s", "run_wall_s", "ratio_to_ideal")
        values += ("completed", "paid_calls", "answered_429", "lookups")
        print(" ".join(f"{str(r[v]):>11}" for v in values))
    print(f"written to {write_results('rate_limit', {'runs': rows})}")


if __name__ == "__main__":
    main()

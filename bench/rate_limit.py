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
    print(
        f"{'limit known':>11} {'N':>5} {'ideal s':>8} {'run s':>7} {'x ideal':>8} {'done':>5} {'paid':>5} {'429s':>5} {'lookups':>7}"
    )
    for r in rows:
        print(
            f"{str(r['limit_configured']):>11} {r['n']:>5} {r['ideal_s']:>8} {r['run_wall_s']:>7} "
            f"{r['ratio_to_ideal']:>8} {r['completed']:>5} {r['paid_calls']:>5} {r['answered_429']:>5} {r['lookups']:>7}"
        )
    print(f"written to {write_results('rate_limit', {'runs': rows})}")


if __name__ == "__main__":
    main()

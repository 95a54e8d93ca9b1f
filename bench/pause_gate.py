"""What the pause gate costs every run: the check it makes at each step boundary (runtime/pause_gate.py,
one primary-key read of orbit.pause_requests), without and with a pause request on record.

    .venv/bin/python -m bench.pause_gate --n 500

A five-step decomposition run makes four such checks (none after its last step).
"""

from __future__ import annotations

import argparse
import statistics
import time

from bench.common import bench_environment, percentile, write_results


def timed_checks(run_id: str, n: int) -> list[float]:
    from orbit_pipelines.runtime.pause_gate import _pause_request

    _pause_request(run_id)  # the engine's first connection is not the gate's cost
    times = []
    for _ in range(n):
        started = time.perf_counter()
        _pause_request(run_id)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=500, help="checks per case")
    args = parser.parse_args()
    with bench_environment(local_services=False):
        from orbit_pipelines.ledger.pauses import request_pause
        from orbit_pipelines.runtime.pause_gate import _ledger

        request_pause(_ledger(), "asked-run", "bench")
        figures = {}
        for case, run_id in (("no_request", "other-run"), ("request_on_record", "asked-run")):
            times = timed_checks(run_id, args.n)
            figures[case] = {
                "checks": args.n,
                "median_ms": round(statistics.median(times), 3),
                "p95_ms": round(percentile(times, 95), 3),
            }
            print(f"{case}: median {figures[case]['median_ms']} ms, p95 {figures[case]['p95_ms']} ms ({args.n} checks)")
    print(write_results("pause_gate", figures))


if __name__ == "__main__":
    main()

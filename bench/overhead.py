"""Our own cost: one single-task decomposition run against a bare Dagster job with the same number of
no-op steps (five), both executed in this process on the same Postgres-backed instance, alternately.

    .venv/bin/python -m bench.overhead --repeat 15 [--profile]

What separates the two is what the project adds per run: loading the task from the ledger, the
ledger transitions, subtask and prompt storage, metadata tables and the failure hook.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import time

from dagster import in_process_executor, job, op, reconstructable

from bench.common import bench_environment, recon_job, relative_paths, write_results


@op
def first() -> int:
    return 1


@op
def step(value: int) -> int:
    return value


@job(executor_def=in_process_executor)
def bare_five_steps():
    step.alias("fifth")(step.alias("fourth")(step.alias("third")(step.alias("second")(first()))))


def bench(repeat: int, profile: bool) -> dict:
    from dagster import DagsterInstance, execute_job

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.runtime.tags import task_tags

    with bench_environment(local_services=False) as env:
        instance = DagsterInstance.get()
        ledger = Ledger(get_engine(env.pg_url))
        decomposition = recon_job("task_decomposition")
        bare = reconstructable(bare_five_steps)

        # Both jobs log to the console at WARNING: the same cost for each, and a readable bench output.
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

        def bare_run():
            return execute_job(bare, instance=instance, run_config=quiet)

        def one_task(i: int):
            task, _ = ledger.submit(
                "decomposition", {"title": f"Overhead task {i}", "description": "Export Invoices as CSV by Customer."}
            )
            [claimed] = ledger.claim_pending(limit=1)
            return lambda: execute_job(
                decomposition,
                instance=instance,
                tags=task_tags(claimed),
                run_config={**quiet, "ops": {"load_task": {"config": {"task_id": task.id}}}},
            )

        def measure(run) -> tuple[float, float]:
            started = time.perf_counter()
            result = run()
            wall = time.perf_counter() - started
            assert result.success, result.run_id
            stats = instance.get_run_stats(result.run_id)
            return wall, stats.end_time - stats.start_time

        measure(one_task(-1)), measure(bare_run)  # warm imports and caches
        ours, theirs = [], []
        for i in range(repeat):
            ours.append(measure(one_task(i)))
            theirs.append(measure(bare_run))
        profile_top = _profile(one_task(repeat)) if profile else None
        instance.dispose()

    def median(rows, k):
        return round(statistics.median(r[k] for r in rows), 3)

    figures = {
        "repeat": repeat,
        "decomposition_execute_s": median(ours, 0),
        "bare_execute_s": median(theirs, 0),
        "decomposition_run_s": median(ours, 1),
        "bare_run_s": median(theirs, 1),
    }
    figures["ratio_execute"] = round(figures["decomposition_execute_s"] / figures["bare_execute_s"], 2)
    figures["ratio_run"] = round(figures["decomposition_run_s"] / figures["bare_run_s"], 2)
    if profile_top:
        figures["profile_top_cumulative"] = profile_top
    return figures


def _profile(run) -> list[str]:
    """The project's functions that took the most time in one decomposition run (cumulative)."""
    profiler = cProfile.Profile()
    profiler.enable()
    run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats("orbit_pipelines", 15)
    return [relative_paths(line) for line in out.getvalue().splitlines() if "orbit_pipelines" in line]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    figures = bench(args.repeat, args.profile)
    print(f"{'':24}{'execute_job s':>14}{'RUN_START..END s':>18}")
    print(f"{'decomposition (1 task)':24}{figures['decomposition_execute_s']:>14}{figures['decomposition_run_s']:>18}")
    print(f"{'bare job, 5 no-op steps':24}{figures['bare_execute_s']:>14}{figures['bare_run_s']:>18}")
    print(f"{'ratio':24}{figures['ratio_execute']:>14}{figures['ratio_run']:>18}")
    for line in figures.get("profile_top_cumulative", []):
        print(line)
    print(f"written to {write_results('overhead', figures)}")


if __name__ == "__main__":
    main()

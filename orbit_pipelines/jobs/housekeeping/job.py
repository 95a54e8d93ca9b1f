from dagster import in_process_executor, job

from orbit_pipelines.jobs.housekeeping.ops import purge_old_runs, sweep_stuck_tasks


@job(executor_def=in_process_executor, description="Reconcile ledger tasks stuck in QUEUED/RUNNING with their runs.")
def housekeeping():
    sweep_stuck_tasks()


@job(
    executor_def=in_process_executor,
    description="Purge finished runs older than the retention period from "
    "Dagster's storage; the ledger keeps the tasks and a summary of each run.",
)
def run_retention():
    purge_old_runs()

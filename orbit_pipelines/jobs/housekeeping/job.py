from dagster import in_process_executor, job

from orbit_pipelines.jobs.housekeeping.ops import sweep_stuck_tasks


@job(executor_def=in_process_executor, description="Reconcile ledger tasks stuck in QUEUED/RUNNING with their runs.")
def housekeeping():
    sweep_stuck_tasks()

"""Housekeeping on a clock: Dagster's run history stays bounded. (The stuck-task sweep is started by
a sensor, `jobs/housekeeping/sensor.py`, only when a task is stale.)"""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from orbit_pipelines.jobs.housekeeping.job import run_retention

run_retention_schedule = ScheduleDefinition(
    name="run_retention_schedule",
    job=run_retention,
    cron_schedule="17 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: purge finished runs older than ORBIT_RUN_RETENTION_DAYS (30) from Dagster's storage; "
    "the ledger keeps the tasks and a summary of each run.",
)

"""Housekeeping on a clock: nothing may stay QUEUED or RUNNING forever."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from orbit_pipelines.jobs.housekeeping.job import housekeeping, run_retention

stuck_task_sweep = ScheduleDefinition(
    name="stuck_task_sweep",
    job=housekeeping,
    cron_schedule="*/10 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 10 minutes: settle tasks whose run finished or vanished unseen.",
)

run_retention_schedule = ScheduleDefinition(
    name="run_retention_schedule",
    job=run_retention,
    cron_schedule="17 3 * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Daily: purge finished runs older than ORBIT_RUN_RETENTION_DAYS (30) from Dagster's storage; "
    "the ledger keeps the tasks and a summary of each run.",
)

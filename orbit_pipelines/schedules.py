"""Housekeeping on a clock: nothing may stay QUEUED or RUNNING forever."""

from dagster import DefaultScheduleStatus, ScheduleDefinition

from orbit_pipelines.jobs.housekeeping.job import housekeeping

stuck_task_sweep = ScheduleDefinition(
    name="stuck_task_sweep",
    job=housekeeping,
    cron_schedule="*/10 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every 10 minutes: settle tasks whose run finished or vanished unseen.",
)

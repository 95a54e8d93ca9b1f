"""The one Definitions object of orbit_pipelines."""

from dagster import Definitions, EnvVar

from orbit_pipelines.jobs.housekeeping.job import housekeeping
from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.schedules import stuck_task_sweep
from orbit_pipelines.sensors.dispatch import task_dispatch_sensor
from orbit_pipelines.sensors.outcome import task_canceled_sensor, task_failure_sensor, task_success_sensor

defs = Definitions(
    jobs=[*(k.job for k in all_kinds().values()), housekeeping],
    sensors=[task_dispatch_sensor, task_success_sensor, task_failure_sensor, task_canceled_sensor],
    schedules=[stuck_task_sweep],
    resources={"ledger": LedgerResource(database_url=EnvVar("DAGSTER_PG_URL"))},
)

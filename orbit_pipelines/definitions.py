"""The one Definitions object of orbit_pipelines."""

import os

from dagster import Definitions, EnvVar

from orbit_pipelines.jobs.housekeeping.job import housekeeping, run_retention
from orbit_pipelines.jobs.housekeeping.sensor import stuck_task_sweep_sensor
from orbit_pipelines.jobs.ledger_report.job import ledger_report
from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.jobs.task_control.job import task_control
from orbit_pipelines.resources import LedgerResource, env_choice, optional_env_var
from orbit_pipelines.resources.documents import DocumentStorage, VeryfiResource, rate_limits_from_env
from orbit_pipelines.resources.io import io_manager_resources
from orbit_pipelines.resources.webhooks import WebhookResource
from orbit_pipelines.resources.webserver import DagsterWebserverResource
from orbit_pipelines.schedules import run_retention_schedule
from orbit_pipelines.sensors.dispatch import task_dispatch_sensor
from orbit_pipelines.sensors.inbox import document_inbox_sensor
from orbit_pipelines.sensors.outcome import (
    task_canceled_sensor,
    task_failure_sensor,
    task_started_sensor,
    task_success_sensor,
)
from orbit_pipelines.sensors.phases import task_phase_sensor
from orbit_pipelines.sensors.webhooks import webhook_delivery_sensor

# The Veryfi account's limits (ORBIT_VERYFI_RATE_PER_SECOND, its old name ORBIT_VERYFI_RATE_LIMIT, and
# ORBIT_VERYFI_RATE_PER_MINUTE): a run paces its requests just under them.
RATE_PER_SECOND, RATE_PER_MINUTE = rate_limits_from_env()

defs = Definitions(
    jobs=[*(k.job for k in all_kinds().values()), housekeeping, run_retention, ledger_report, task_control],
    sensors=[
        task_dispatch_sensor,
        task_started_sensor,
        task_success_sensor,
        task_failure_sensor,
        task_canceled_sensor,
        document_inbox_sensor,
        webhook_delivery_sensor,
        task_phase_sensor,
        stuck_task_sweep_sensor,
    ],
    schedules=[run_retention_schedule],
    resources={
        **{key: resource for k in all_kinds().values() for key, resource in k.resources().items()},
        # Op outputs in S3 when ORBIT_IO_MANAGER_BUCKET is set (deploy/), else under $DAGSTER_HOME/storage.
        **io_manager_resources(),
        "ledger": LedgerResource(database_url=EnvVar("DAGSTER_PG_URL")),
        # task_control's launches (a rollback, a resume, a reset), as `orbit task ...` makes them.
        "webserver": DagsterWebserverResource(url=os.environ.get("ORBIT_DAGSTER_URL", "")),
        "webhooks": WebhookResource(
            urls=optional_env_var("ORBIT_WEBHOOK_URL"), secret=optional_env_var("ORBIT_WEBHOOK_SECRET")
        ),
        # Not secrets: read when the code location loads, but the endpoints (S3's and Veryfi's) when a run
        # uses them (see DocumentStorage.endpoint). AWS credentials stay with boto3's own chain.
        "storage": DocumentStorage(
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
            bucket=os.environ.get("ORBIT_S3_BUCKET", "orbit-documents"),
            prefix=os.environ.get("ORBIT_S3_PREFIX", "documents"),
        ),
        "veryfi": VeryfiResource(
            client_id=EnvVar("VERYFI_CLIENT_ID"),
            username=EnvVar("VERYFI_USERNAME"),
            api_key=EnvVar("VERYFI_API_KEY"),
            client_secret=optional_env_var("VERYFI_CLIENT_SECRET"),
            concurrency=int(os.environ.get("ORBIT_VERYFI_CONCURRENCY", "16")),
            upload_mode=env_choice("ORBIT_VERYFI_UPLOAD_MODE", "multipart", ("multipart", "file_url")),
            rate_limit_per_second=RATE_PER_SECOND,
            rate_limit_per_minute=RATE_PER_MINUTE,
        ),
    },
)

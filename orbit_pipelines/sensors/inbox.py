"""The document inbox: files dropped in a folder become document tasks (the dispatch sensor runs them)."""

import os
from pathlib import Path

from dagster import DefaultSensorStatus, SensorEvaluationContext, SkipReason, sensor

from orbit_pipelines.jobs.document_processing.intake import scan_inbox
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP


def inbox_dir() -> Path:
    configured = os.environ.get("ORBIT_INBOX_DIR")
    if configured:
        return Path(configured)
    from orbit_pipelines.environment import orbit_home

    return orbit_home() / "inbox"


@sensor(
    name="document_inbox_sensor",
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Submits new files in ORBIT_INBOX_DIR as document tasks; a file is submitted once.",
)
def document_inbox_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    inbox = inbox_dir()
    if not inbox.is_dir():
        return SkipReason(f"inbox folder {inbox} does not exist")
    scan = scan_inbox(ledger.get(), inbox)
    for reason in scan.refused:
        context.log.warning(f"inbox file refused: {reason}")
    if scan.submitted:
        context.log.info(f"submitted {len(scan.submitted)} document(s) from {inbox}")
    return SkipReason(
        f"{len(scan.submitted)} submitted, {len(scan.refused)} refused, {scan.waiting} still being written, "
        f"{scan.already_known} already known in {inbox}"
    )

"""The document inbox: files dropped in a folder become document tasks, and their runs start in the
same tick (the dispatch sensor would start them a daemon loop later; it stays the catch-all). A
refused file is warned about once and counted in every tick's skip reason until it is replaced or
removed."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from orbit_pipelines.jobs.document_processing.intake import inbox_dir, scan_inbox
from orbit_pipelines.jobs.document_processing.job import document_processing
from orbit_pipelines.jobs.document_processing.models import KIND
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP
from orbit_pipelines.sensors.dispatch import MAX_RUNS_PER_TICK, claim_runs, run_request_for


@sensor(
    name="document_inbox_sensor",
    jobs=[document_processing],
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Submits new files in ORBIT_INBOX_DIR as document tasks (a file once) and starts their runs.",
)
def document_inbox_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    inbox = inbox_dir()
    if not inbox.is_dir():
        return SkipReason(f"inbox folder {inbox} does not exist")
    led = ledger.get()
    scan = scan_inbox(led, inbox)
    for reason in scan.refused:
        context.log.warning(f"inbox file refused: {reason}")
    summary = (
        f"{len(scan.submitted)} submitted, {len(scan.refused)} refused, {scan.waiting} still being written, "
        f"{scan.already_known} already known in {inbox}"
    )
    if scan.still_refused:
        # Warned about once, when refused; every tick says they are still there, until replaced or removed.
        summary += (
            f"; {scan.still_refused} refused file(s) wait to be replaced or removed (`orbit doc refused` says why)"
        )
    paused = led.paused_kinds()
    if not scan.submitted or "*" in paused or KIND in paused:
        return SkipReason(summary + ("; intake paused" if scan.submitted else ""))
    groups = claim_runs(led, [KIND], MAX_RUNS_PER_TICK)
    context.log.info(f"{summary}; starting {len(groups)} run(s)")
    return SensorResult(run_requests=[run_request_for(g) for g in groups])

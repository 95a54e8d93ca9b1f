"""The inboxes: files dropped in a folder become tasks of the folder's kind, and their runs start in the
same tick (the dispatch sensor would start them a daemon loop later; it stays the catch-all). Documents
go in ORBIT_INBOX_DIR, recordings in ORBIT_VOICE_INBOX_DIR. A refused file is warned about once and counted
in every tick's skip reason until it is replaced or removed."""

from pathlib import Path
from typing import Any, Callable

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from orbit_pipelines.jobs.document_processing.intake import inbox_dir, scan_inbox
from orbit_pipelines.jobs.document_processing.job import document_processing
from orbit_pipelines.jobs.document_processing.models import KIND
from orbit_pipelines.jobs.voice_transcription import intake as voice_intake
from orbit_pipelines.jobs.voice_transcription.job import voice_transcription
from orbit_pipelines.jobs.voice_transcription.models import KIND as VOICE_KIND
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP
from orbit_pipelines.sensors.dispatch import MAX_RUNS_PER_TICK, claim_runs, run_request_for

# (kind, its folder, its scan, what says why a file was refused): one entry per inbox.
INBOXES: list[tuple[str, Callable[[], Path], Callable[[Ledger, Path], Any], str]] = [
    (KIND, inbox_dir, scan_inbox, "`orbit doc refused` says why"),
    (VOICE_KIND, voice_intake.voice_inbox_dir, voice_intake.scan_inbox, "the sensor's log said why"),
]


@sensor(
    name="document_inbox_sensor",
    jobs=[document_processing, voice_transcription],
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Submits new files in ORBIT_INBOX_DIR as document tasks and in ORBIT_VOICE_INBOX_DIR as voice "
    "tasks (a file once) and starts their runs.",
)
def document_inbox_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    led = ledger.get()
    paused = led.paused_kinds()
    summaries, kinds, missing = [], [], []
    for kind, folder_of, scan_folder, why in INBOXES:
        inbox = folder_of()
        if not inbox.is_dir():
            missing.append(f"inbox folder {inbox} does not exist")
            continue
        scan = scan_folder(led, inbox)
        for reason in scan.refused:
            context.log.warning(f"inbox file refused: {reason}")
        summary = (
            f"{len(scan.submitted)} submitted, {len(scan.refused)} refused, {scan.waiting} still being written, "
            f"{scan.already_known} already known in {inbox}"
        )
        if scan.still_refused:
            # Warned about once, when refused; every tick says they are still there, until replaced or removed.
            summary += f"; {scan.still_refused} refused file(s) wait to be replaced or removed ({why})"
        if scan.submitted and ("*" in paused or kind in paused):
            summary += "; intake paused"
        elif scan.submitted:
            kinds.append(kind)
        summaries.append(summary)
    # A kind's inbox nobody made is not news on every tick of the others' inboxes; it is said when no inbox exists.
    summaries = summaries or missing
    if not kinds:
        return SkipReason("; ".join(summaries))
    groups = claim_runs(led, kinds, MAX_RUNS_PER_TICK)
    context.log.info(f"{'; '.join(summaries)}; starting {len(groups)} run(s)")
    return SensorResult(run_requests=[run_request_for(g) for g in groups])

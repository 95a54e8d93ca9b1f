"""The inboxes: files dropped in a folder become tasks of the folder's kind, and their runs start in the
same tick (the dispatch sensor would start them a daemon loop later; it stays the catch-all). Documents
go in ORBIT_INBOX_DIR, recordings in ORBIT_VOICE_INBOX_DIR. A refused file is warned about once and counted
in every tick's skip reason until it is replaced or removed."""

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from orbit_pipelines.jobs.registry import get_kind, inboxes
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.inbox import InboxKind, scan
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP
from orbit_pipelines.sensors.dispatch import MAX_RUNS_PER_TICK, claim_runs, run_request_for

# Each job with an inbox says what it is made of (its KIND's `inbox`); runtime/inbox.py scans them all alike.
INBOXES: list[InboxKind] = inboxes()


# Named for its first inbox: a sensor's name is its history in the UI, kept when the voice inbox joined.
@sensor(
    name="document_inbox_sensor",
    jobs=[get_kind(each.kind).job for each in INBOXES],
    minimum_interval_seconds=EVERY_DAEMON_LOOP,
    default_status=DefaultSensorStatus.RUNNING,
    description="Submits new files in ORBIT_INBOX_DIR as document tasks and in ORBIT_VOICE_INBOX_DIR as voice "
    "tasks (a file once) and starts their runs.",
)
def document_inbox_sensor(context: SensorEvaluationContext, ledger: LedgerResource):
    led = ledger.get()
    paused = led.paused_kinds()
    summaries, kinds, missing = [], [], []
    for each in INBOXES:
        inbox = each.folder()
        if not inbox.is_dir():
            missing.append(f"inbox folder {inbox} does not exist")
            continue
        found = scan(led, each, inbox)
        for reason in found.refused:
            context.log.warning(f"inbox file refused: {reason}")
        summary = (
            f"{len(found.submitted)} submitted, {len(found.refused)} refused, {found.waiting} still being written, "
            f"{found.already_known} already known in {inbox}"
        )
        if found.still_refused:
            # Warned about once, when refused; every tick says they are still there, until replaced or removed.
            summary += (
                f"; {found.still_refused} refused file(s) wait to be replaced or removed "
                f"({each.refused_command} says why)"
            )
        if found.submitted and ("*" in paused or each.kind in paused):
            summary += "; intake paused"
        elif found.submitted:
            kinds.append(each.kind)
        summaries.append(summary)
    # A kind's inbox nobody made is not news on every tick of the others' inboxes; it is said when no inbox exists.
    summaries = summaries or missing
    if not kinds:
        return SkipReason("; ".join(summaries))
    groups = claim_runs(led, kinds, MAX_RUNS_PER_TICK)
    context.log.info(f"{'; '.join(summaries)}; starting {len(groups)} run(s)")
    return SensorResult(run_requests=[run_request_for(g) for g in groups])

"""The inboxes: files dropped in a folder become tasks of the folder's kind, and their runs start in the
same tick (the dispatch sensor would start them a daemon loop later; it stays the catch-all). Documents
go in ORBIT_INBOX_DIR, recordings in ORBIT_VOICE_INBOX_DIR. A refused file is warned about once and counted
in every tick's skip reason until it is replaced or removed."""

import os
import time
from collections.abc import Container

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from orbit_pipelines.jobs.registry import get_kind, inboxes
from orbit_pipelines.resources import LedgerResource, env_number
from orbit_pipelines.runtime.inbox import InboxKind, scan
from orbit_pipelines.sensors import EVERY_DAEMON_LOOP
from orbit_pipelines.sensors.dispatch import MAX_RUNS_PER_TICK, claim_runs, run_request_for

# Each job with an inbox says what it is made of (its KIND's `inbox`); runtime/inbox.py scans them all alike.
INBOXES: list[InboxKind] = inboxes()
DEFAULT_WATCH_SECONDS = 4.0
WATCH_INTERVAL_SECONDS = 0.1
WAITING_RESCAN_SECONDS = 1.0


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
    # The daemon starts a sensor's evaluation at most every 5 s (MIN_INTERVAL_LOOP_TIME in
    # dagster/_daemon/sensor.py, not a setting), so files dropped just after a tick would wait up to 5 s:
    # an evaluation that finds nothing keeps looking for ORBIT_INBOX_WATCH_SECONDS, and returns the moment
    # it has submitted something, so its runs start at once.
    deadline = time.monotonic() + watch_seconds()
    seen, rescan_at = None, 0.0
    while True:
        listing = _listing()
        if listing != seen or time.monotonic() >= rescan_at:
            summaries, kinds, waiting = _scan_all(context, led, paused)
            # A file still being written (or waiting for a tool) is looked at again within a second, changed
            # or not; a folder that did not change is not scanned again.
            seen, rescan_at = listing, time.monotonic() + WAITING_RESCAN_SECONDS if waiting else float("inf")
        if kinds or time.monotonic() + WATCH_INTERVAL_SECONDS > deadline:
            break
        time.sleep(WATCH_INTERVAL_SECONDS)
    if not kinds:
        return SkipReason("; ".join(summaries))
    groups = claim_runs(led, kinds, MAX_RUNS_PER_TICK)
    context.log.info(f"{'; '.join(summaries)}; starting {len(groups)} run(s)")
    return SensorResult(run_requests=[run_request_for(g) for g in groups])


def watch_seconds() -> float:
    """How long an evaluation that finds nothing new keeps watching (ORBIT_INBOX_WATCH_SECONDS, default 4:
    under the daemon's 5-s loop, so evaluations never queue up behind each other; 0 scans once)."""
    return max(0.0, min(env_number("ORBIT_INBOX_WATCH_SECONDS", DEFAULT_WATCH_SECONDS), 4.5))


def _listing() -> list[tuple[str, int]]:
    """What a file moved or written into an inbox changes: the mtime of the folder it lands in (every
    folder under the inboxes, not every file: cheap whatever the inbox holds). A file rewritten in place
    under the same name changes no folder; the next evaluation's first pass, a full scan, sees it."""
    found = []
    for each in INBOXES:
        stack = [str(each.folder())]
        while stack:
            folder = stack.pop()
            try:
                found.append((folder, os.stat(folder).st_mtime_ns))
                stack.extend(e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False))
            except OSError:
                found.append((folder, -1))
    return sorted(found)


def _scan_all(context: SensorEvaluationContext, led, paused: Container[str]) -> tuple[list[str], list[str], int]:
    """One pass over every inbox: (each inbox's summary, the kinds that got new tasks, files still being
    written)."""
    summaries, kinds, missing, waiting = [], [], [], 0
    for each in INBOXES:
        inbox = each.folder()
        if not inbox.is_dir():
            missing.append(f"inbox folder {inbox} does not exist")
            continue
        found = scan(led, each, inbox)
        waiting += found.waiting
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
    return summaries or missing, kinds, waiting

"""`orbit status`: what an operator on call asks first. Is intake paused (why, since when), how much work
waits in each lane, which runs are running, how many dead letters and refused inbox files there are,
and whether the webserver and the daemon are up.

The ledger answers the first part; the Dagster instance (its storage, through the instance API) answers
which runs are running, so that part works with the webserver down too; the webserver is asked for its
version and the daemon's health (GraphQL `instance.daemonHealth`, what its Deployment page shows). When
it does not answer, the daemon's health is read from the instance instead (the same heartbeats)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.store import LANES

_WHEN = "%Y-%m-%d %H:%M:%S"
# Running runs listed one per line; more are counted.
MAX_RUNS_LISTED = 20


@dataclass(frozen=True)
class InboxStatus:
    kind: str
    folder: str
    refused_files: int | None  # None: no inbox folder here
    refused_command: str


@dataclass
class Status:
    pauses: list[dict[str, Any]]
    by_lane: list[dict[str, Any]]  # Ledger.unfinished_by_lane
    dead_letters: int
    inboxes: list[InboxStatus]
    running: list[dict[str, Any]] = field(default_factory=list)  # run_id, job_name, status, start_time, tasks
    running_count: int = 0
    queued_runs: int = 0
    runs_error: str | None = None
    webserver_version: str | None = None
    webserver_error: str | None = None
    daemons: list[dict[str, Any]] = field(default_factory=list)  # daemon_type, required, healthy, heartbeat
    daemons_error: str | None = None


def gather(ledger: Ledger, api) -> Status:
    """Everything `orbit status` prints; `api` is an operations.DagsterApi."""
    status = Status(
        pauses=ledger.pauses(),
        by_lane=ledger.unfinished_by_lane(),
        dead_letters=ledger.dead_letter_count(),
        inboxes=_inboxes(ledger),
    )
    _from_webserver(status, api)
    _from_instance(status, ledger, daemons=status.webserver_version is None)
    return status


def _inboxes(ledger: Ledger) -> list[InboxStatus]:
    from orbit_pipelines.jobs.registry import inboxes
    from orbit_pipelines.runtime.inbox import refused

    found = []
    for each in inboxes():
        folder = each.folder()
        count = len(refused(ledger, each, folder)) if folder.is_dir() else None
        found.append(InboxStatus(each.kind, str(folder), count, each.refused_command))
    return found


def _from_webserver(status: Status, api) -> None:
    from orbit_pipelines.operations import OperationError

    try:
        health = api.health()
    except OperationError as exc:
        status.webserver_error = str(exc)
        return
    status.webserver_version = health["version"]
    status.daemons = [
        {
            "daemon_type": d["daemonType"],
            "required": d["required"],
            "healthy": d["healthy"],
            "heartbeat": d["lastHeartbeatTime"],
        }
        for d in health["daemons"]
    ]


def _from_instance(status: Status, ledger: Ledger, daemons: bool) -> None:
    """Running and queued runs from the instance; with `daemons`, the daemon's health as well."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    try:
        instance = DagsterInstance.get()
    except Exception as exc:  # noqa: BLE001 - any reason the instance cannot be opened is reported, not raised
        status.runs_error = f"cannot open the Dagster instance ({' '.join(str(exc).split())[:200]}); check DAGSTER_HOME"
        status.daemons_error = status.runs_error if daemons else None
        return
    try:
        active = RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING])
        status.running_count = instance.get_runs_count(active)
        status.queued_runs = instance.get_runs_count(RunsFilter(statuses=[DagsterRunStatus.QUEUED]))
        for record in instance.get_run_records(active, limit=MAX_RUNS_LISTED):
            run = record.dagster_run
            status.running.append(
                {
                    "run_id": run.run_id,
                    "job_name": run.job_name,
                    "status": run.status.value,
                    "start_time": record.start_time,
                    "tasks": [t.id for t in ledger.tasks_for_run(run.run_id)],
                }
            )
        if daemons:
            status.daemons = _daemons_of(instance)
    finally:
        instance.dispose()


def _daemons_of(instance) -> list[dict[str, Any]]:
    return [
        {
            "daemon_type": d.daemon_type,
            "required": d.required,
            "healthy": d.healthy,
            "heartbeat": d.last_heartbeat.timestamp if d.last_heartbeat else None,
        }
        for d in instance.get_daemon_statuses().values()
    ]


# Dagster calls a daemon healthy until its heartbeat is 30 min old (DEFAULT_DAEMON_HEARTBEAT_TOLERANCE_SECONDS),
# long after `orbit up` or `make demo` has stopped it; a running daemon beats every 30 s, so a newest heartbeat
# older than four beats means none is running now.
RUNNING_HEARTBEAT_SECONDS = 120.0


def daemon_not_running(api) -> str | None:
    """Why nothing will start a PENDING task here, when that is so: no daemon (its sensors start them) has
    sent a heartbeat to this instance in RUNNING_HEARTBEAT_SECONDS. Asked of the webserver when one answers,
    else of the instance (as `orbit status` does); None when one has, or the heartbeats cannot be read."""
    status = Status(pauses=[], by_lane=[], dead_letters=0, inboxes=[])
    _from_webserver(status, api)
    if status.webserver_version is None:
        from dagster import DagsterInstance

        try:
            with DagsterInstance.get() as instance:
                status.daemons = _daemons_of(instance)
        except Exception:  # noqa: BLE001 - an instance that cannot be read says nothing either way
            return None
    beats = [d["heartbeat"] for d in status.daemons if d["required"] and d["heartbeat"] is not None]
    newest = max(beats) if beats else None
    if newest is not None and time.time() - newest < RUNNING_HEARTBEAT_SECONDS:
        return None
    return f"no Dagster daemon is running for this instance ({_ago(newest)})"


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "no heartbeat ever"
    return f"last heartbeat {max(0, time.time() - timestamp):.0f}s ago"


def _lane_lines(by_lane: list[dict[str, Any]]) -> list[str]:
    counts = {(r["lane"], r["status"]): r["n"] for r in by_lane}
    lines = []
    for lane in LANES:
        parts = [f"{counts.get((lane, s), 0)} {s.lower()}" for s in ("PENDING", "QUEUED", "RUNNING")]
        lines.append(f"  lane {lane}: {', '.join(parts)}")
    waiting = [r for r in by_lane if r["status"] in ("PENDING", "QUEUED")]
    if waiting:
        oldest: datetime = min(r["oldest"] for r in waiting)
        n = sum(r["n"] for r in waiting)
        lines.append(f"waiting to start: {n} task(s), the oldest submitted {oldest:{_WHEN}}")
    else:
        lines.append("waiting to start: no tasks")
    return lines


def _daemon_line(status: Status) -> str:
    source = "" if status.webserver_version else " (read from the instance: the webserver does not answer)"
    if status.daemons_error:
        return f"daemon: unknown{source}: {status.daemons_error}"
    required = [d for d in status.daemons if d["required"]]
    unhealthy = [d for d in required if not d["healthy"]]
    if not required:
        return f"daemon: no daemon is required by this instance{source}"
    if unhealthy:
        which = ", ".join(f"{d['daemon_type']} ({_ago(d['heartbeat'])})" for d in unhealthy)
        return (
            f"daemon: NOT healthy{source}: {which}; start it (`orbit up`, or `dagster-daemon run` in production) "
            "or read its log"
        )
    return f"daemon: healthy{source}, {len(required)} daemons with fresh heartbeats"


def status_lines(status: Status, url: str) -> list[str]:
    """`orbit status`, one fact per line."""
    from orbit_pipelines.run_control import describe_pause

    lines = [f"{describe_pause(p).replace('intake is paused', 'intake: PAUSED', 1)}" for p in status.pauses]
    if not status.pauses:
        lines.append("intake: dispatching (not paused)")
    else:
        lines.append("  `orbit resume` (or `orbit resume --kind K`) continues")
    lines.append("tasks not finished:")
    lines += _lane_lines(status.by_lane)
    lines.append(f"dead letters: {status.dead_letters}" + (" (`orbit dlq list`)" if status.dead_letters else ""))
    for inbox in status.inboxes:
        if inbox.refused_files is None:
            lines.append(f"refused {inbox.kind} inbox files: unknown (no inbox folder {inbox.folder} here)")
        else:
            lines.append(
                f"refused {inbox.kind} inbox files: {inbox.refused_files}"
                + (f" ({inbox.refused_command})" if inbox.refused_files else "")
            )
    if status.runs_error:
        lines.append(f"runs: unknown: {status.runs_error}")
    else:
        lines.append(f"runs: {status.running_count} running, {status.queued_runs} in Dagster's run queue")
        for run in status.running:
            since = f" since {datetime.fromtimestamp(run['start_time']):{_WHEN}}" if run["start_time"] else ""
            tasks = f", tasks {', '.join(map(str, run['tasks']))}" if run["tasks"] else ""
            lines.append(f"  {run['run_id']} {run['job_name']} {run['status']}{since}{tasks}")
        if status.running_count > len(status.running):
            lines.append(f"  ... and {status.running_count - len(status.running)} more (the Runs page lists them)")
    if status.webserver_version:
        lines.append(f"webserver: up at {url} (Dagster {status.webserver_version})")
    else:
        lines.append(f"webserver: unreachable: {status.webserver_error}")
    lines.append(_daemon_line(status))
    return lines

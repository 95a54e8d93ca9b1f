"""What `orbit up` shows on its console of the Dagster processes it starts.

Everything they write (webserver, daemon, code server, run workers) goes to a log file; the console
gets what an operator needs: warnings and errors, each run starting and ending, and where the UI
is. Dagster's own levers cannot split it that way: `--log-level warning` would keep the sensor
chatter ("Checking for new runs for sensor", hundreds of lines a minute) out of both, but also the
run lines (DEBUG, from the run workers) and the detail the log file is for. So the processes log at
INFO to the file, and this module follows the file and picks lines for the console.

Dagster's BetaWarning, PreviewWarning and SupersessionWarning (about Dagster's own API, printed by
every process at start and by every run worker) are left in the file only. They cannot be silenced
in the children with PYTHONWARNINGS: its categories must be built-in classes, and these are not.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Dagster's log line: "2026-01-31 12:00:00 +0000 - dagster.daemon.SensorDaemon - INFO - message".
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} - \S+ - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - ")
# What `warnings.showwarning` prints: "path/to/file.py:123: SomeWarning: message".
PYTHON_WARNING = re.compile(r"^\S[^:]*:\d+: \w*Warning: ")
TRACEBACK = "Traceback (most recent call last):"
NOISE = re.compile(r"\b(SupersessionWarning|BetaWarning|PreviewWarning)\b")
# A run worker's run events (DEBUG): "... - job - run id - pid - RUN_START - Started execution of run ...".
RUN_EVENT = re.compile(r" - (RUN_START|RUN_SUCCESS|RUN_FAILURE|RUN_CANCELED) - ")
UI_LINE = "Serving dagster-webserver on"
LOUD = {"WARNING", "ERROR", "CRITICAL"}
# On Ctrl-C the daemon closes its workspace while sensor ticks are still running in its thread pool
# (dagster.yaml `sensors: use_threads`), and each of them logs this error: harmless then, and left in
# the file. While the stack runs, a missing code location is a real problem and is shown.
SHUTDOWN_NOISE = "DagsterCodeLocationNotFoundError: Location orbit_pipelines does not exist in workspace"


def starts_entry(line: str, entry: list[str]) -> bool:
    """Whether `line` begins a new entry after the lines of `entry`; other lines continue it (a
    traceback, a warning's source line). A traceback right after a log line is that line's (Dagster
    logs "Sensor tick caught an error" and then its traceback); anywhere else it is a crash of its own."""
    if line.startswith(TRACEBACK):
        return not (len(entry) == 1 and LOG_LINE.match(entry[0]))
    return bool(LOG_LINE.match(line) or PYTHON_WARNING.match(line))


def for_console(head: str) -> bool:
    """Whether the entry that starts with `head` (ANSI colours removed) belongs on the console."""
    if NOISE.search(head):
        return False
    if head.startswith(TRACEBACK) or PYTHON_WARNING.match(head):
        return True
    match = LOG_LINE.match(head)
    if not match:
        return False
    return match.group(1) in LOUD or bool(RUN_EVENT.search(head)) or UI_LINE in head


def console_lines(entry: list[str], log_file: Path, stopping: bool = False) -> list[str]:
    """One entry as the console shows it: its first line, and of a longer one (a traceback) its last
    line, which says what went wrong, and where the rest is. `stopping`: the stack is shutting down."""
    if not for_console(entry[0]) or (stopping and any(SHUTDOWN_NOISE in line for line in entry)):
        return []
    rest = [line for line in entry[1:] if line.strip()]
    if not rest:
        return [entry[0]]
    if len(rest) == 1:
        return [entry[0], rest[0]]
    return [entry[0], f"  ... {len(rest) - 1} more lines in {log_file} ...", rest[-1]]


class LogFollower:
    """Follows `log_file` from its current end in a thread, passing the console's lines to `echo`.

    An entry is shown once the next one starts, or after `idle` seconds without a new line, so a
    traceback is shown whole rather than line by line."""

    def __init__(self, log_file: Path, echo: Callable[[str], None], idle: float = 0.5):
        self.log_file, self.echo, self.idle = log_file, echo, idle
        self.offset = log_file.stat().st_size if log_file.exists() else 0
        self.stopping = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="orbit-up-console", daemon=True)

    def start(self) -> LogFollower:
        self._thread.start()
        return self

    def shutting_down(self) -> None:
        """The processes are about to be stopped: what they log as they go is judged as such."""
        self.stopping = True

    def stop(self) -> None:
        """Show what the processes wrote until now, then stop following."""
        self._stop.set()
        self._thread.join(10)

    def _follow(self) -> None:
        entry: list[str] = []
        pending = ""
        quiet = 0.0
        with open(self.log_file, "a+b") as handle:
            handle.seek(self.offset)
            while True:
                chunk = handle.read(65536)
                if chunk:
                    quiet = 0.0
                    pending += chunk.decode("utf-8", errors="replace")
                    *complete, pending = pending.split("\n")
                    for raw in complete:
                        line = ANSI.sub("", raw.rstrip("\r"))
                        if entry and starts_entry(line, entry):
                            self._show(entry)
                            entry = []
                        entry.append(line)
                    continue
                if self._stop.is_set():
                    break
                self._stop.wait(0.1)
                quiet += 0.1
                if entry and quiet >= self.idle:
                    self._show(entry)
                    entry = []
        if pending:
            entry.append(ANSI.sub("", pending))
        if entry:
            self._show(entry)

    def _show(self, entry: list[str]) -> None:
        for line in console_lines(entry, self.log_file, self.stopping):
            self.echo(line)

"""Processes that orbit (or the suite) starts can be stopped, even when orbit itself was started in
the background by a shell, which hands it an ignored SIGINT."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# The parent starts as a backgrounded shell command would (SIGINT ignored), optionally calls
# stop_ignoring_interrupts, starts a child that sets up Dagster's interrupt handlers as every Dagster
# CLI does, sends it SIGTERM, and prints whether it stopped.
PARENT = textwrap.dedent("""
    import signal, subprocess, sys
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.argv[1] == "fixed":
        from orbit_pipelines.local.processes import stop_ignoring_interrupts
        stop_ignoring_interrupts()
    child = subprocess.Popen([sys.executable, "-c",
        "from dagster._utils.interrupts import setup_interrupt_handlers; setup_interrupt_handlers(); "
        "print('ready', flush=True); import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    child.stdout.readline()
    child.terminate()
    try:
        child.wait(10 if sys.argv[1] == "fixed" else 3)
        print("stopped")
    except subprocess.TimeoutExpired:
        print("still running")
        child.kill()
""")


def run_parent(mode: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", PARENT, mode], capture_output=True, text=True, timeout=60, check=True
    ).stdout.strip()


def test_a_dagster_process_started_from_a_backgrounded_orbit_stops_on_sigterm():
    assert run_parent("fixed") == "stopped"


def test_without_it_the_ignored_sigint_makes_dagster_ignore_sigterm_too():
    # Why stop_ignoring_interrupts exists: Dagster maps SIGTERM to the inherited ignore.
    assert run_parent("as inherited") == "still running"

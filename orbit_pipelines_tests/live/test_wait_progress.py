"""`orbit task submit --wait` in a terminal draws a progress bar through the task's phases and ends it
full, with where the task ended, on the live stack (issue 21 §1)."""

import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services


def _in_a_terminal(stack, *args, timeout=120) -> tuple[int, str]:
    """The `orbit` command with a pseudo-terminal as stdout and stderr, as a user at a shell runs it."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orbit_pipelines.cli", *args],
        env={**stack.env, "COLUMNS": "200"},
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the command exited and closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=30), out.decode(errors="replace")


def test_task_submit_wait_draws_the_phases_as_a_bar_that_ends_full(stack):
    code, out = _in_a_terminal(stack, "task", "submit", "--sample", "--wait", "90")
    assert code == 0, out
    task_id = re.search(r"submitted task (\d+)", out).group(1)
    # The bar's last frame: full (5 phases of 5) and naming the outcome.
    frames = out.split("\r")
    assert any(f"task {task_id} COMPLETED" in f and "5/5" in f for f in frames), out
    assert f"task {task_id} is COMPLETED" in out

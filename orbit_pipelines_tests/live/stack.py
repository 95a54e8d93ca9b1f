"""Helpers for tests against the live stack (see conftest.py): waiting, the `orbit` CLI, free ports."""

import subprocess
import sys
import time

import pytest

from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines_tests.support import ROOT

# The live stack signs its task events with this (conftest.py sets ORBIT_WEBHOOK_SECRET).
WEBHOOK_SECRET = "live-stack-webhook-secret"


def wait_for(predicate, timeout, what, log_files=()):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    logs = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in log_files if p.exists())
    pytest.fail(f"timed out waiting for {what}\n{logs}")


def orbit(stack, *args, check=True):
    result = subprocess.run([sys.executable, "-m", "orbit_pipelines.cli", *args], env=stack.env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def finished(stack, task_id, timeout=120):
    wait_for(lambda: stack.ledger.get(task_id).status in TERMINAL, timeout, f"task {task_id} to finish", stack.logs)
    return stack.ledger.get(task_id)


def run_finished(stack, run_id, timeout=120):
    wait_for(lambda: stack.api.run(run_id)["status"] in ("SUCCESS", "FAILURE", "CANCELED"), timeout,
             f"run {run_id} to finish", stack.logs)
    return stack.api.run(run_id)["status"]

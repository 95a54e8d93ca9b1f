"""`orbit demo` (what `make demo` runs) on a fresh ORBIT_HOME and a fresh database, as on a fresh clone:
it starts its own daemon, S3 server and Veryfi emulator, and what it leaves on the Runs page is green."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from orbit_pipelines_tests.support import ROOT, create_database, drop_database, fresh_clone_env, instance_for

pytestmark = pytest.mark.services


def demo_env(pg_server, home) -> tuple[dict[str, str], str]:
    url = create_database(pg_server, "orbit_demo")
    env = fresh_clone_env(url, home)
    return env, url


def orbit_demo(env, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "demo", "--timeout", "240"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_demo_leaves_only_successful_runs(pg_server, tmp_path):
    env, url = demo_env(pg_server, tmp_path / "orbit_home")
    instance = instance_for(url)
    try:
        result = orbit_demo(env, timeout=600)
        daemon_log = tmp_path / "orbit_home" / "logs" / "demo-daemon.log"
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:] + daemon_log.read_text()[-3000:]
        runs = {run.job_name: run.status.value for run in instance.get_runs()}
        assert runs == {"task_decomposition": "SUCCESS", "document_processing": "SUCCESS"}
    finally:
        instance.dispose()
        drop_database(url)


def test_the_demo_says_at_once_why_its_code_location_does_not_load(pg_server, tmp_path):
    env, url = demo_env(pg_server, tmp_path / "orbit_home")
    env["ORBIT_VERYFI_UPLOAD_MODE"] = "bogus"
    try:
        started = time.monotonic()
        result = orbit_demo(env, timeout=120)
        took = time.monotonic() - started
    finally:
        drop_database(url)
    assert result.returncode == 1
    assert "the code location does not load" in result.stderr
    assert "ORBIT_VERYFI_UPLOAD_MODE must be one of multipart, file_url, got 'bogus'" in result.stderr
    assert took < 60, f"it waited {took:.0f}s, as if for a run that could never start"

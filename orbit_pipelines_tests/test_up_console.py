"""`orbit up` (what `make up` runs) as an operator starts it: for a minute, with one task run through
it. Its console keeps to warnings, runs starting and ending and where the UI and the log are; the
log file it names holds the detail (every sensor tick, every step)."""

from __future__ import annotations

import socket
import sys
import time
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.ledger.states import TERMINAL
from orbit_pipelines.local.processes import ManagedProcess
from orbit_pipelines.local.stack import free_port
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines_tests.support import ROOT, create_database, drop_database, fresh_clone_env, instance_for

pytestmark = pytest.mark.services

RUNNING_FOR = 60  # seconds after the UI answers: a dozen daemon loops, every sensor ticking
CONSOLE_BOUND = 20  # measured: 11 lines in 2 minutes (6 of them orbit's own, at start)


def wait_for(condition, timeout: float, what: str, context=lambda: ""):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {timeout:.0f}s\n{context()}")
        time.sleep(0.5)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def session(pg_server, tmp_path_factory):
    import json

    folder = tmp_path_factory.mktemp("orbit_up")
    url = create_database(pg_server, "orbit_up")
    apply_migrations(get_engine(url))
    home, console, port = folder / "orbit_home", folder / "console.txt", free_port()
    env = fresh_clone_env(url, home)
    up = ManagedProcess(
        [sys.executable, "-m", "orbit_pipelines.cli", "up", "--port", str(port), "--metrics-port", "0"]
        + ["--events-port", "0"],
        cwd=ROOT,
        log_file=console,
        env=env,
    )
    ledger, instance = Ledger(get_engine(url)), instance_for(url)
    log = home / "logs" / "up.log"
    tail = lambda: console.read_text()[-3000:] + (log.read_text()[-3000:] if log.exists() else "")  # noqa: E731
    try:
        wait_for(lambda: listening(port) or not up.alive(), 180, "the UI answering", tail)
        assert up.alive(), tail()
        serving = time.monotonic()
        sample = json.loads((ROOT / "orbit_pipelines" / "samples" / "decomposition_task.json").read_text())
        task, _ = submit_task(ledger, "decomposition", sample)
        wait_for(lambda: ledger.get(task.id).status in TERMINAL, 120, "the task finishing", tail)
        run_id = ledger.get(task.id).run_id
        wait_for(lambda: instance.get_run_by_id(run_id).is_finished, 60, "its run ending", tail)
        time.sleep(max(0.0, RUNNING_FOR - (time.monotonic() - serving)))
    finally:
        up.stop()
        instance.dispose()
        drop_database(url)
    yield SimpleNamespace(console=console.read_text().splitlines(), log=log, run_id=run_id, port=port, home=home)


def test_the_console_has_a_few_lines_for_a_minute_of_sensor_ticks_and_a_run(session):
    assert len(session.console) <= CONSOLE_BOUND, "\n".join(session.console)


def test_the_console_names_the_log_file_and_the_ui(session):
    assert any(line.startswith(f"log: {session.log} ") for line in session.console), session.console
    assert any(f"UI: http://127.0.0.1:{session.port}" in line for line in session.console)


def test_the_console_names_every_inbox_folder_and_up_made_them(session):
    inboxes = {"document": session.home / "inbox", "voice": session.home / "voice-inbox"}
    for kind, folder in inboxes.items():
        assert f"{kind} inbox: {folder}" in session.console
        assert folder.is_dir()


def test_the_console_shows_the_run_starting_and_ending(session):
    run_lines = [line for line in session.console if session.run_id in line]
    assert [line.split(" - ")[-2] for line in run_lines] == ["RUN_START", "RUN_SUCCESS"], session.console


def test_sensor_ticks_and_dagsters_api_warnings_stay_off_the_console(session):
    text = "\n".join(session.console)
    for noise in ("Checking for new runs for sensor", "BetaWarning", "SupersessionWarning", "STEP_SUCCESS"):
        assert noise not in text


def test_the_log_file_holds_the_detail(session):
    log = session.log.read_text()
    assert log.count("Checking for new runs for sensor") >= 20
    assert f"{session.run_id} - " in log and "STEP_SUCCESS" in log
    assert "SupersessionWarning" in log

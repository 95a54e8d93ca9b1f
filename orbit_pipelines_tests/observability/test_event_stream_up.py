"""`orbit up` serves the live event stream, and `orbit events` follows it: both as an operator runs
them, on a database of their own. The stream's behaviour itself: test_event_stream.py."""

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import uuid

import pytest
import requests

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.processes import ManagedProcess
from orbit_pipelines.local.stack import free_port
from orbit_pipelines.observability.stream.token import TOKEN_FILE
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines_tests.support import ROOT, create_database, drop_database, fresh_clone_env

pytestmark = pytest.mark.services


def up_environment(url: str, folder) -> dict[str, str]:
    home = folder / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    env = fresh_clone_env(url, folder / "orbit_home", dagster_home=home)
    env.pop("ORBIT_EVENTS_TOKEN", None)
    env["PYTHONUNBUFFERED"] = "1"  # the console is read while `orbit up` runs
    return env


@pytest.fixture(scope="module")
def up(pg_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("orbit_up_events")
    url = create_database(pg_server, "orbit_up_events")
    apply_migrations(get_engine(url))
    env, console, port = up_environment(url, folder), folder / "console.txt", free_port()
    argv = ["up", "--port", str(free_port()), "--metrics-port", "0", "--events-port", str(port)]
    process = ManagedProcess([sys.executable, "-m", "orbit_pipelines.cli", *argv], cwd=ROOT, log_file=console, env=env)
    line = f"events: http://127.0.0.1:{port}/events"
    deadline = time.monotonic() + 120
    while not any(x.startswith(line) for x in console.read_text().splitlines()):
        if not process.alive() or time.monotonic() > deadline:
            process.stop()
            pytest.fail(f"no stream line in orbit up's console\n{console.read_text()[-3000:]}")
        time.sleep(0.3)
    try:
        yield type(
            "Up",
            (),
            {"url": f"http://127.0.0.1:{port}", "env": env, "console": console, "ledger": Ledger(get_engine(url))},
        )
    finally:
        process.stop()
        drop_database(url)


def test_orbit_up_names_where_the_token_is_and_never_prints_it(up):
    token_file = os.path.join(up.env["DAGSTER_HOME"], TOKEN_FILE)
    assert f"events: {up.url}/events (bearer token: {token_file})" in up.console.read_text().splitlines()
    token = open(token_file).read().strip()
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert token not in up.console.read_text()


def test_a_client_of_orbit_up_s_stream_gets_a_task_s_events_and_none_without_the_token(up):
    token = open(os.path.join(up.env["DAGSTER_HOME"], TOKEN_FILE)).read().strip()
    task, _ = submit_task(up.ledger, "decomposition", {"title": f"Up {uuid.uuid4()}", "description": "CSV."})
    assert requests.get(f"{up.url}/events", timeout=5).status_code == 401
    with requests.get(
        f"{up.url}/tasks/{task.id}/events", headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=(3, 30)
    ) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        lines = response.iter_lines(decode_unicode=True)
        assert next(line for line in lines if line.startswith("event:")) == "event: task.submitted"


def test_orbit_events_follows_a_task_and_prints_a_line_per_event(up):
    task, _ = submit_task(up.ledger, "decomposition", {"title": f"Follow {uuid.uuid4()}", "description": "CSV."})
    up.ledger.record_note(task.id, "looked at by a person")
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "events", "--task", str(task.id), "--count", "2"],
        env={**up.env, "ORBIT_EVENTS_URL": up.url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    submitted, note = result.stdout.splitlines()
    first_id, rest = submitted.split(" ", 1)
    assert rest == f"task.submitted task {task.id} (decomposition) -> PENDING: submitted"
    note_id, rest = note.split(" ", 1)
    assert rest == f"task.note task {task.id} (decomposition): looked at by a person"
    assert int(note_id) > int(first_id)


def test_orbit_events_says_so_when_the_token_is_wrong(up):
    result = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "events", "--count", "1"],
        env={**up.env, "ORBIT_EVENTS_URL": up.url, "ORBIT_EVENTS_TOKEN": "not-it"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: HTTP 403: wrong token"


def test_orbit_up_says_so_when_the_stream_s_port_is_taken(pg_url, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "orbit_pipelines.cli",
                "up",
                "--port",
                str(free_port()),
                "--metrics-port",
                "0",
                "--events-port",
                str(port),
            ],
            env=up_environment(pg_url, tmp_path),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"events: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--events-port" in result.stderr

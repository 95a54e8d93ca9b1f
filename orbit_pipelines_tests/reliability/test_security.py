"""Secrets stay secret, the UI stays on loopback, and the code keeps its own safety rules."""

from __future__ import annotations

import ast
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from sqlalchemy import make_url, text

from orbit_pipelines.db import get_engine
from orbit_pipelines.local.llm_emulator import LLMEmulator
from orbit_pipelines.local.processes import ManagedProcess
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines.local.stack import free_port
from orbit_pipelines.local.veryfi_emulator import VeryfiEmulator
from orbit_pipelines_tests.support import ROOT

pytestmark = pytest.mark.services

SOURCES = [ROOT / "orbit_pipelines", ROOT / "bench", ROOT / "examples"]


def marker(name: str) -> str:
    return f"SECRET{name.upper()}{secrets.token_hex(6)}"


def dagster_records_holding(instance, needle: str) -> list[str]:
    """What of Dagster's storage holds `needle`, read through the instance: "runs" (a run as stored: its
    config and tags) and "event_log" (any event of any run: messages, errors, metadata)."""
    from dagster import serialize_value

    found = []
    runs = instance.get_runs()
    if any(needle in serialize_value(run) for run in runs):
        found.append("runs")
    if any(needle in serialize_value(entry) for run in runs for entry in instance.all_logs(run.run_id)):
        found.append("event_log")
    return found


def tables_holding(engine, needle: str) -> list[str]:
    """Every table with a row whose text contains `needle`, whoever owns it.

    SQL on purpose, and the one place it reads Dagster's tables: this looks at the bytes at rest in every
    table of the database (the ledger's, and Dagster's snapshots, key-value store, ticks... that no public
    API lists), which is the question for a secret. Which tables exist comes from the catalog, not from
    Dagster's schema; dagster_records_holding reads runs and events through the instance."""
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables "
                "WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
        ).scalars()
        return [
            t
            for t in tables
            if conn.execute(text(f"SELECT count(*) FROM {t} r WHERE strpos(r::text, :n) > 0"), {"n": needle}).scalar()
        ]


def compute_logs_holding(run_ids: list[str], needle: str) -> list[Path]:
    files = [f for run_id in run_ids for f in (ROOT / "storage" / run_id).rglob("*") if f.is_file()]
    assert files, "the runs wrote compute logs"
    return [f for f in files if needle.encode() in f.read_bytes()]


def test_secrets_never_reach_run_config_event_logs_compute_logs_the_ledger_or_error_messages(
    pg_url, instance, tmp_path
):
    secret = {
        k: marker(k) for k in ("veryfi_key", "client_secret", "aws_id", "aws_key", "db_password", "webhook", "llm_key")
    }
    canary = marker("canary")  # not a secret: shows the scan looks where the secrets would be
    emulator = VeryfiEmulator(
        api_key=secret["veryfi_key"], client_secret=secret["client_secret"], strict_signatures=True
    ).start()
    emulator.fail_next(1, 401)  # one document refused: its error message is scanned too
    model = LLMEmulator(api_key=secret["llm_key"]).start()
    model.next("server_error")  # one failed model call, retried
    docs = tmp_path / "docs"
    write_unique_sample_set(docs, 3, salt=canary)
    (docs / f"receipt-{canary}.txt").write_bytes((docs / sorted(os.listdir(docs))[0]).read_bytes() + b"\n2\n")
    db_url = make_url(pg_url).set(password=secret["db_password"]).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DAGSTER_PG_URL": db_url,
        "DAGSTER_HOME": str(ROOT),
        "VERYFI_BASE_URL": emulator.base_url,
        "VERYFI_CLIENT_ID": emulator.client_id,
        "VERYFI_USERNAME": emulator.username,
        "VERYFI_API_KEY": secret["veryfi_key"],
        "VERYFI_CLIENT_SECRET": secret["client_secret"],
        "AWS_ACCESS_KEY_ID": secret["aws_id"],
        "AWS_SECRET_ACCESS_KEY": secret["aws_key"],
        "ORBIT_MESSAGE_ENDPOINTS": json.dumps({"hook": f"http://127.0.0.1:9/services/{secret['webhook']}"}),
        "ORBIT_LLM_BASE_URL": model.base_url,
        "ORBIT_LLM_MODEL": "emulator",
        "ORBIT_LLM_API_KEY": secret["llm_key"],
    }
    try:
        child = subprocess.run(
            [sys.executable, "-m", "orbit_pipelines_tests.reliability.secret_scenario", canary, str(docs)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        emulator.stop()
        model.stop()
    assert child.returncode == 0, child.stderr[-4000:]
    run_ids = json.loads(child.stdout.strip().splitlines()[-1])
    output = child.stdout + child.stderr
    assert emulator.total_paid_calls == 3 and "401" in output, "the scenario really used the secrets"
    assert len(model.requests) == 2 and "500" in output

    engine = get_engine(pg_url)
    assert dagster_records_holding(instance, canary) == ["runs", "event_log"], "the scan reads runs and events"
    found_canary = tables_holding(engine, canary)
    assert "orbit.tasks" in found_canary and [t for t in found_canary if not t.startswith("orbit.")], (
        f"the scan at rest reads the ledger's tables and Dagster's: {found_canary}"
    )
    assert compute_logs_holding(run_ids, canary), "the canary's document name is in the compute logs"
    for name, value in secret.items():
        assert dagster_records_holding(instance, value) == [], f"{name} found in Dagster's runs or events"
        assert tables_holding(engine, value) == [], f"{name} found in the database"
        assert compute_logs_holding(run_ids, value) == [], f"{name} found in compute logs"
        assert value not in output, f"{name} printed by the run"


def listening_addresses(root: psutil.Process) -> set[str]:
    pids = {root.pid} | {p.pid for p in root.children(recursive=True)}
    return {c.laddr.ip for c in psutil.net_connections("inet") if c.status == psutil.CONN_LISTEN and c.pid in pids}


def test_orbit_up_serves_the_ui_on_loopback_only(pg_url, tmp_path):
    port = free_port()
    env = {**os.environ, "DAGSTER_PG_URL": pg_url, "DAGSTER_HOME": str(ROOT), "ORBIT_HOME": str(tmp_path)}
    for local in ("ORBIT_S3_ENDPOINT_URL", "VERYFI_CLIENT_ID", "AWS_ACCESS_KEY_ID"):
        env.pop(local, None)  # `orbit up` starts its own local S3 server and Veryfi emulator
    up = ManagedProcess(
        [sys.executable, "-m", "orbit_pipelines.cli", "up", "--port", str(port)],
        cwd=ROOT,
        log_file=tmp_path / "up.log",
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert up.alive(), (tmp_path / "up.log").read_text()[-3000:]
            time.sleep(0.5)
        else:
            pytest.fail("the webserver never listened\n" + (tmp_path / "up.log").read_text()[-3000:])
        addresses = listening_addresses(psutil.Process(up.proc.pid))
        assert addresses and addresses <= {"127.0.0.1", "::1"}, f"listening beyond loopback: {addresses}"
    finally:
        up.stop()


# -- rules the code keeps ------------------------------------------------------------------------------


def python_files() -> list[Path]:
    return [f for folder in SOURCES for f in folder.rglob("*.py")]


def calls(tree: ast.AST):
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_no_shell_is_ever_started():
    offenders = []
    for path in python_files():
        for call in calls(ast.parse(path.read_text(), str(path))):
            name = ast.unparse(call.func)
            shell = any(
                k.arg == "shell" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in call.keywords
            )
            if shell or name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
                offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)[:80]}")
    assert offenders == []


HTTP_VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "request"}


def test_every_http_call_has_a_timeout():
    """requests and urllib calls name a timeout; without one a silent server hangs a run forever."""
    checked, offenders = 0, []
    for path in python_files():
        for call in calls(ast.parse(path.read_text(), str(path))):
            func = call.func
            is_http = (
                isinstance(func, ast.Attribute)
                and func.attr in HTTP_VERBS
                and ("requests" in ast.unparse(func.value) or "session" in ast.unparse(func.value).lower())
            ) or ast.unparse(func).endswith("urlopen")
            if is_http:
                checked += 1
                if not any(k.arg == "timeout" for k in call.keywords):
                    offenders.append(f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(call)[:80]}")
    assert checked >= 4, "the scan finds the project's HTTP calls"
    assert offenders == []

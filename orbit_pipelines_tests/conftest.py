"""Real local services for the suite: an embedded Postgres (or ORBIT_TEST_PG_SERVER), one fresh
database per session, and the project's own dagster.yaml as the instance config.

Servers start only for the tests that need them. A test that uses Postgres (any fixture on
`pg_server`: the instance, the ledger) also gets the local S3 server, the Veryfi emulator and the
message receiver: `pg_server` depends on them, so they are up before anything on the instance runs
and whatever it starts sees their addresses. A test that uses no server fixture and carries no
`services`/`reliability`/`external_pg` marker is marked `unit`: `pytest -m unit` runs those alone."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine, normalize_pg_url
from orbit_pipelines_tests.support import ROOT, create_database, drop_database


def _is_xdist_controller(config) -> bool:
    """The pytest process that hands files to `-n N` workers (it runs no test itself)."""
    return bool(getattr(config.option, "numprocesses", None)) and not hasattr(config, "workerinput")


_SHARED_PG = pytest.StashKey[object]()


def pytest_configure(config):
    # `make test` run in the background would otherwise hand every process the tests start an
    # ignored SIGINT and, through Dagster, an ignored SIGTERM (see stop_ignoring_interrupts).
    from orbit_pipelines.local.processes import stop_ignoring_interrupts

    stop_ignoring_interrupts()
    if not hasattr(config, "workerinput"):
        from orbit_pipelines_tests.reliability import accounting

        accounting.clear_parts()
    if _is_xdist_controller(config) and not os.environ.get("ORBIT_TEST_PG_SERVER"):
        # One embedded server for every worker, started and stopped here: a worker that started it
        # would stop it under the others when its own files are done. The workers inherit the URL.
        from orbit_pipelines.local.postgres import start_embedded_postgres

        server = start_embedded_postgres(ROOT / ".orbit" / "pgdata")
        config.stash[_SHARED_PG] = server
        os.environ["ORBIT_TEST_PG_SERVER"] = normalize_pg_url(server.url)


def pytest_unconfigure(config):
    server = config.stash.get(_SHARED_PG, None)
    if server is not None:
        os.environ.pop("ORBIT_TEST_PG_SERVER", None)
        server.stop()


def pytest_terminal_summary(terminalreporter, config):
    """The reliability table, from what every process that ran fault scenarios recorded."""
    if hasattr(config, "workerinput"):
        return
    from orbit_pipelines_tests.reliability import accounting

    outcomes = accounting.merge_parts()
    if outcomes:
        terminalreporter.write_sep("=", "reliability: every submitted item accounted for")
        terminalreporter.write_line(accounting.markdown_table(outcomes))
        terminalreporter.write_line(f"(written to {accounting.REPORT})")


_SERVER_FIXTURES = {"pg_server", "local_services", "message_receiver"}
_SERVER_MARKERS = ("services", "reliability", "external_pg")


# Files that write into the project's own job folders (the scaffold's probe job) or list them: under
# `pytest -n` they run one after another in one worker, so none sees another's half-written job.
_PROJECT_TREE_FILES = {
    "test_scaffold.py",
    "test_instance.py",
    "test_layout.py",
    "test_migrations.py",
    "test_run_budget.py",
}


# The live stack's test files in two groups, each on a worker of its own with a stack of its own: in one group
# they were the suite's critical path (45 of its 46 minutes on this machine, 2026-12-04). Split by the
# measured time of each file (`--durations`), about 22 minutes a group then.
_SECOND_LIVE_STACK_FILES = {
    "test_launch_edges.py",
    "test_direct_launch.py",
    "test_run_control.py",
    "test_recovery.py",
    "test_event_stream.py",
    "test_task_control_graphql.py",
    "test_crash_retry_wait.py",
    "test_ledger_in_ui.py",
    "test_production_storage.py",
    "test_faults_at_the_door.py",
    "test_wait_progress.py",
}


def _xdist_group(item) -> str:
    """Which tests one worker runs together under `--dist loadgroup`.

    The tests on the live stack share two workers (two groups), so the session starts two stacks, not one
    per file (a stack is tens of seconds of CPU, and an idle daemon keeps ticking); otherwise a file's tests
    stay together, so its module fixtures (a daemon, a Postgres the file restarts, speech made with
    espeak-ng) exist once."""
    if "stack" in item.fixturenames:
        return "live-stack-2" if item.path.name in _SECOND_LIVE_STACK_FILES else "live-stack"
    if item.path.name in _PROJECT_TREE_FILES:
        return "project-tree"
    return str(item.path.relative_to(ROOT))


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker, and before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    for item in items:
        if not (_SERVER_FIXTURES & set(item.fixturenames) or any(item.get_closest_marker(m) for m in _SERVER_MARKERS)):
            item.add_marker(pytest.mark.unit)
        item.add_marker(pytest.mark.xdist_group(_xdist_group(item)))
    # Unit tests first, then the rest in the order they had (daemon tests last, as marked): a broken
    # state machine should not wait behind the daemon tests.
    items.sort(
        key=lambda item: (item.get_closest_marker("unit") is None, item.get_closest_marker("services") is not None)
    )


@pytest.fixture(scope="session")
def local_services():
    """The local S3 server and the Veryfi emulator, for the tests on the instance and every process
    they start (exported in os.environ before such a test's other fixtures run)."""
    from orbit_pipelines.local.services import start_local_services

    services = start_local_services(s3=True, veryfi=True)
    saved = {k: os.environ.get(k) for k in services.variables}
    os.environ.update(services.variables)
    yield services
    services.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def message_receiver():
    """Webhook endpoints `ops` (JSON) and `slack` for send_message, named in ORBIT_MESSAGE_ENDPOINTS."""
    import json

    from orbit_pipelines_tests.support import MessageReceiver

    receiver = MessageReceiver()
    saved = os.environ.get("ORBIT_MESSAGE_ENDPOINTS")
    os.environ["ORBIT_MESSAGE_ENDPOINTS"] = json.dumps({"ops": receiver.url("/ops"), "slack": receiver.url("/slack")})
    yield receiver
    receiver.stop()
    if saved is None:
        os.environ.pop("ORBIT_MESSAGE_ENDPOINTS", None)
    else:
        os.environ["ORBIT_MESSAGE_ENDPOINTS"] = saved


@pytest.fixture
def receiver(message_receiver):
    message_receiver.reset()
    return message_receiver


@pytest.fixture(scope="session")
def llm_emulator_session():
    from orbit_pipelines.local.llm_emulator import LLMEmulator

    with LLMEmulator(api_key="orbit-test-llm-key") as running:
        yield running


@pytest.fixture
def llm_emulator(llm_emulator_session):
    """The OpenAI-compatible emulator, answering `good` with no history at the start of the test."""
    llm_emulator_session.reset()
    return llm_emulator_session


@pytest.fixture
def emulator(local_services):
    """The Veryfi emulator, with no faults and no history at the start of the test."""
    local_services.veryfi.reset()
    yield local_services.veryfi
    local_services.veryfi.clear_faults()
    local_services.veryfi.set_rate_limit()


@pytest.fixture(scope="session")
def pg_server(local_services, message_receiver):
    """URL of a Postgres server to create test databases on (embedded unless ORBIT_TEST_PG_SERVER)."""
    configured = os.environ.get("ORBIT_TEST_PG_SERVER")
    if configured:
        yield normalize_pg_url(configured)
        return
    from orbit_pipelines.local.postgres import start_embedded_postgres

    server = start_embedded_postgres(ROOT / ".orbit" / "pgdata")
    yield normalize_pg_url(server.url)
    server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server):
    """A fresh database for this session, exported as DAGSTER_PG_URL with DAGSTER_HOME = repo root."""
    from orbit_pipelines.ledger.migrate import apply_migrations

    url = create_database(pg_server, "orbit_test")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_PG_URL", "DAGSTER_HOME")}
    os.environ.update(DAGSTER_PG_URL=url, DAGSTER_HOME=str(ROOT))
    apply_migrations(get_engine(url))
    yield url
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    drop_database(url)


@pytest.fixture(scope="session")
def instance(pg_url):
    from dagster import DagsterInstance

    inst = DagsterInstance.get()
    yield inst
    inst.dispose()


@pytest.fixture
def ledger(pg_url):
    """The ledger, emptied (and intake unpaused) before each test. Ids keep growing so they never match an
    older test's run tags."""
    from orbit_pipelines.ledger import Ledger
    from orbit_pipelines.ledger.migrate import ledger_tables

    engine = get_engine(pg_url)
    tables = ", ".join(f"orbit.{name}" for name in ledger_tables(engine))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    return Ledger(engine)


@pytest.fixture
def ledger_resource(pg_url):
    from orbit_pipelines.resources import LedgerResource

    return LedgerResource(database_url=pg_url)


@pytest.fixture
def sample_payload() -> dict:
    import json

    return json.loads((ROOT / "orbit_pipelines" / "samples" / "decomposition_task.json").read_text())

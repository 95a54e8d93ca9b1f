"""The live stack: a gRPC code server, dagster-webserver and dagster-daemon on a fresh database, with a
webhook receiver for task events. One per session: the operations, observability and browser tests
share it (starting it costs tens of seconds on a small machine)."""

import os
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.processes import ManagedProcess, venv_bin
from orbit_pipelines.operations import DagsterApi
from orbit_pipelines_tests.live.stack import WEBHOOK_SECRET, free_port, wait_for
from orbit_pipelines_tests.support import ROOT, MessageReceiver, create_database, drop_database, instance_for


@pytest.fixture(scope="session")
def stack(pg_server, tmp_path_factory):
    url = create_database(pg_server, "orbit_ops")
    apply_migrations(get_engine(url))
    folder = tmp_path_factory.mktemp("stack")
    grpc_port, web_port = free_port(), free_port()
    workspace = folder / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - grpc_server:\n      host: 127.0.0.1\n      port: {grpc_port}\n"
                         f"      location_name: orbit_pipelines\n")
    webhooks = MessageReceiver()
    env = {**os.environ, "DAGSTER_PG_URL": url, "DAGSTER_HOME": str(ROOT),
           "ORBIT_DAGSTER_URL": f"http://127.0.0.1:{web_port}", "ORBIT_INBOX_DIR": str(folder / "inbox"),
           "ORBIT_WEBHOOK_URL": webhooks.url("/orbit-events"), "ORBIT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    logs = [folder / "code-server.log", folder / "webserver.log", folder / "daemon.log"]
    processes = [
        ManagedProcess([venv_bin("dagster"), "code-server", "start", "-m", "orbit_pipelines.definitions",
                        "-h", "127.0.0.1", "-p", str(grpc_port)], cwd=ROOT, log_file=logs[0], env=env),
        ManagedProcess([venv_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port), "-w", str(workspace)],
                       cwd=ROOT, log_file=logs[1], env=env),
        ManagedProcess([venv_bin("dagster-daemon"), "run", "-w", str(workspace)], cwd=ROOT, log_file=logs[2],
                       env=env),
    ]
    api = DagsterApi(env["ORBIT_DAGSTER_URL"])

    def location_loaded():
        try:
            data = api._call("{ workspaceOrError { ... on Workspace { locationEntries { "
                             "locationOrLoadError { __typename } } } } }", {})
        except Exception:
            return False
        entries = data["workspaceOrError"]["locationEntries"]
        return bool(entries) and entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    wait_for(location_loaded, 120, "the webserver to load the code location", logs)
    instance = instance_for(url)
    yield SimpleNamespace(url=url, env=env, api=api, ledger=Ledger(get_engine(url)), instance=instance, logs=logs,
                          ui=env["ORBIT_DAGSTER_URL"], webhooks=webhooks)
    for process in reversed(processes):
        process.stop()
    webhooks.stop()
    instance.dispose()
    drop_database(url)

"""The live stack: a gRPC code server, dagster-webserver and dagster-daemon on a fresh database, with a
webhook receiver for task events. One per session: the operations, observability and browser tests
share it (starting it costs tens of seconds on a small machine)."""

import os
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.stack import LocalStack
from orbit_pipelines.operations import DagsterApi
from orbit_pipelines_tests.live.stack import WEBHOOK_SECRET
from orbit_pipelines_tests.support import ROOT, MessageReceiver, create_database, drop_database, instance_for


@pytest.fixture(scope="session")
def stack(pg_server, tmp_path_factory):
    url = create_database(pg_server, "orbit_ops")
    apply_migrations(get_engine(url))
    folder = tmp_path_factory.mktemp("stack")
    webhooks = MessageReceiver()
    env = {**os.environ, "DAGSTER_PG_URL": url, "DAGSTER_HOME": str(ROOT), "ORBIT_INBOX_DIR": str(folder / "inbox"),
           "ORBIT_WEBHOOK_URL": webhooks.url("/orbit-events"), "ORBIT_WEBHOOK_SECRET": WEBHOOK_SECRET}
    processes = LocalStack(env, folder, ROOT)
    try:
        processes.wait_until_ready()
    except TimeoutError as exc:
        processes.stop()
        pytest.fail(str(exc))
    instance = instance_for(url)
    yield SimpleNamespace(url=url, env=processes.env, api=DagsterApi(processes.url), ledger=Ledger(get_engine(url)),
                          instance=instance, logs=processes.logs, ui=processes.url, webhooks=webhooks)
    processes.stop()
    webhooks.stop()
    instance.dispose()
    drop_database(url)

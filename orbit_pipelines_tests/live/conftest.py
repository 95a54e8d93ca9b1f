"""The live stack: a gRPC code server, dagster-webserver and dagster-daemon on a fresh database, with a
webhook receiver for task events. One per session: the operations, observability and browser tests
share it (starting it costs tens of seconds on a small machine).

It runs on the production instance for one host (deploy/single-host/dagster.yaml, copied as it is into
its own DAGSTER_HOME, with run monitoring polling every second instead of every 10 so a run over its
budget fails within seconds, live/test_run_control.py) against the local S3 server: op outputs
(S3PickleIOManager) and compute logs (S3ComputeLogManager) go to S3, so every operations test also
exercises them."""

import os
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.stack import LocalStack
from orbit_pipelines.operations import DagsterApi
from orbit_pipelines_tests.live.stack import WEBHOOK_SECRET, production_s3_settings
from orbit_pipelines_tests.support import ROOT, MessageReceiver, create_database, drop_database, instance_for

MONITORING_POLL = "poll_interval_seconds: 10"


@pytest.fixture(scope="session")
def stack(pg_server, tmp_path_factory):
    url = create_database(pg_server, "orbit_ops")
    apply_migrations(get_engine(url))
    folder = tmp_path_factory.mktemp("stack")
    dagster_home = folder / "dagster_home"
    dagster_home.mkdir()
    instance_config = (ROOT / "deploy" / "single-host" / "dagster.yaml").read_text()
    assert MONITORING_POLL in instance_config, "deploy/single-host/dagster.yaml: run monitoring's poll interval moved"
    (dagster_home / "dagster.yaml").write_text(instance_config.replace(MONITORING_POLL, "poll_interval_seconds: 1"))
    webhooks = MessageReceiver()
    env = {
        **os.environ,
        **production_s3_settings(),
        "DAGSTER_PG_URL": url,
        "DAGSTER_HOME": str(dagster_home),
        "ORBIT_INBOX_DIR": str(folder / "inbox"),
        "ORBIT_WEBHOOK_URL": webhooks.url("/orbit-events"),
        "ORBIT_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    processes = LocalStack(env, folder, ROOT)
    try:
        processes.wait_until_ready()
    except TimeoutError as exc:
        processes.stop()
        pytest.fail(str(exc))
    instance = instance_for(url)
    yield SimpleNamespace(
        url=url,
        env=processes.env,
        dagster_home=dagster_home,
        api=DagsterApi(processes.url),
        ledger=Ledger(get_engine(url)),
        instance=instance,
        logs=processes.logs,
        ui=processes.url,
        webhooks=webhooks,
    )
    processes.stop()
    webhooks.stop()
    instance.dispose()
    drop_database(url)

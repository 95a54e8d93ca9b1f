"""The live stack: a gRPC code server, dagster-webserver and dagster-daemon on a fresh database, with a
webhook receiver for task events. One per session: the operations, observability and browser tests
share it (starting it costs tens of seconds on a small machine).

It runs on the production instance for one host (deploy/single-host/dagster.yaml, copied as it is into
its own DAGSTER_HOME, with run monitoring polling every second instead of every 10 so a run over its
budget fails within seconds, live/test_run_control.py) against the local S3 server: op outputs
(S3PickleIOManager) and compute logs (S3ComputeLogManager) go to S3, so every operations test also
exercises them."""

import json
import os
import uuid
from types import SimpleNamespace

import pytest

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import Ledger, TaskStatus
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.llm_emulator import LLMEmulator
from orbit_pipelines.local.stack import LocalStack
from orbit_pipelines.operations import DagsterApi
from orbit_pipelines_tests.live.stack import (
    WEBHOOK_SECRET,
    orbit,
    production_s3_settings,
    released_once_a_pause_is_asked,
    wait_for,
)
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
        "ORBIT_VOICE_INBOX_DIR": str(folder / "voice-inbox"),
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


# Tasks for the task-control tests (live/test_task_control.py through the CLI, and
# live/test_task_control_graphql.py through GraphQL).


@pytest.fixture
def completed_decomposition(stack, tmp_path):
    """A decomposition task its run has completed: (task id, run id)."""
    payload = tmp_path / "task.json"
    payload.write_text(
        json.dumps(
            {
                "title": f"Invoice export {uuid.uuid4().hex[:8]}",
                "description": "Customers export their Invoices as CSV through an HTTP API.",
                "tech_stack": ["Python", "PostgreSQL"],
            }
        )
    )
    result = orbit(stack, "task", "submit", "--payload", str(payload), "--wait", "120")
    task_id = int(result.stdout.split()[2])  # "submitted task 12 (decomposition, PENDING)"
    task = stack.ledger.get(task_id)
    assert task.status == TaskStatus.COMPLETED, result.stdout
    return task_id, task.run_id


@pytest.fixture(scope="module")
def model():
    """The OpenAI-compatible emulator, which the runs reach through their run config's `llm` resource (the
    stack itself is started with no model)."""
    with LLMEmulator() as running:
        yield running


@pytest.fixture
def slow_model_decomposition(stack, model):
    """A decomposition run caught in decompose_task, its model holding the answer: (task id, run id).

    The answer goes out once someone asks the run to pause (or the test calls `model.release()`), so a pause
    always lands at the boundary after decompose_task, however long the control run takes to start."""
    model.reset()
    model.next("held")
    task = {"title": f"Slow plan {uuid.uuid4().hex[:8]}", "description": "Customers export Invoices as CSV."}
    config = {
        "ops": {"load_task": {"config": {"task": task}}, "decompose_task": {"config": {"strategy": "llm"}}},
        "resources": {"llm": {"config": {"base_url": model.base_url, "model": "emulator"}}},
    }
    run_id = stack.api.launch("task_decomposition", config)
    wait_for(lambda: model.requests, 90, "the model to be asked", stack.logs)
    (task_id,) = [t.id for t in stack.ledger.tasks_for_run(run_id)]
    with released_once_a_pause_is_asked(stack, model, run_id):
        yield task_id, run_id

"""On the production instance (deploy/single-host/dagster.yaml, see conftest.py) a run's outputs and
compute logs are in S3: once the machine that ran it is gone (its DAGSTER_HOME and its staged logs
deleted), the webserver still shows the run's logs and a re-execution still finds its inputs."""

import shutil
import uuid
from pathlib import Path

import pytest
from dagster import DagsterEventType

from orbit_pipelines_tests.live.stack import (
    COMPUTE_LOGS_BUCKET,
    COMPUTE_LOGS_PREFIX,
    IO_MANAGER_BUCKET,
    IO_MANAGER_PREFIX,
    run_finished,
    s3_client,
)

pytestmark = pytest.mark.services

STAGING = Path("/tmp/dagster-compute-logs")  # compute_logs.config.local_dir of deploy/

_CAPTURED_LOGS = """
query($logKey: [String!]!) {
  capturedLogs(logKey: $logKey) { stdout stderr }
}"""


def s3_keys(bucket: str, prefix: str) -> set[str]:
    pages = s3_client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def lose_the_machine(stack, run_id: str) -> None:
    """What a replaced host or a finished ECS task leaves of a run locally: nothing."""
    shutil.rmtree(stack.dagster_home / "storage", ignore_errors=True)
    for staged in STAGING.rglob(f"*{run_id}*"):
        shutil.rmtree(staged, ignore_errors=True) if staged.is_dir() else staged.unlink(missing_ok=True)
    assert not (stack.dagster_home / "storage").exists() and not list(STAGING.rglob(f"*{run_id}*"))


def log_key(stack, run_id: str) -> list[str]:
    (captured,) = stack.instance.all_logs(run_id, of_type=DagsterEventType.LOGS_CAPTURED)
    return [run_id, "compute_logs", captured.dagster_event.logs_captured_data.file_key]


@pytest.fixture(scope="module")
def finished_run(stack):
    run_id = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": f"s3-{uuid.uuid4().hex[:8]}"})
    assert run_finished(stack, run_id) == "SUCCESS"
    return run_id


def test_every_op_output_of_a_run_is_an_object_in_the_io_manager_bucket(stack, finished_run):
    keys = s3_keys(IO_MANAGER_BUCKET, f"{IO_MANAGER_PREFIX}/storage/{finished_run}/")
    assert {
        f"{IO_MANAGER_PREFIX}/storage/{finished_run}/{step}/result"
        for step in ("load_task", "decompose_task", "enrich_subtasks", "generate_prompts")
    } <= keys


def test_the_runs_compute_logs_are_in_the_compute_logs_bucket(stack, finished_run):
    (_, _, file_key) = log_key(stack, finished_run)
    keys = s3_keys(COMPUTE_LOGS_BUCKET, f"{COMPUTE_LOGS_PREFIX}/storage/{finished_run}/")
    assert f"{COMPUTE_LOGS_PREFIX}/storage/{finished_run}/compute_logs/{file_key}.err" in keys


def test_after_the_machine_is_lost_the_webserver_shows_the_runs_logs_from_s3(stack, finished_run):
    lose_the_machine(stack, finished_run)
    logs = stack.api._call(_CAPTURED_LOGS, {"logKey": log_key(stack, finished_run)})["capturedLogs"]
    assert "Loading S3 object from: s3://orbit-live-io/" in logs["stderr"]
    assert "store_results" in logs["stderr"]


def test_after_the_machine_is_lost_a_re_execution_loads_its_inputs_from_s3(stack, finished_run):
    lose_the_machine(stack, finished_run)
    new_run = stack.api.reexecute_steps(finished_run, ["generate_prompts", "store_results"])
    assert run_finished(stack, new_run) == "SUCCESS"
    assert {s.step_key for s in stack.instance.get_run_step_stats(new_run)} == {"generate_prompts", "store_results"}
    loaded = [
        e.dagster_event.event_specific_data
        for e in stack.instance.all_logs(new_run, of_type=DagsterEventType.LOADED_INPUT)
    ]
    assert [
        (d.input_name, d.upstream_output_name, d.upstream_step_key, d.manager_key)
        for d in loaded
        if d.upstream_step_key == "enrich_subtasks"
    ] == [("items", "result", "enrich_subtasks", "io_manager")]

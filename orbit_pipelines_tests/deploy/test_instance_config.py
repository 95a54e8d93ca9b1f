"""deploy/dagster.yaml (ECS) and deploy/single-host/dagster.yaml load as Dagster instances from the
environment alone, and refuse to load, naming the variable, when one is missing.

AWS ECS cannot run here: the EcsRunLauncher asks ECS for its task definition when it is built, so
these tests register one in the local moto server (real HTTP, the session's S3 server; moto serves
every AWS API) and point boto3 at it with AWS_ENDPOINT_URL. Nothing is launched on it.
"""

import os
import shutil

import boto3
import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.launcher import DefaultRunLauncher
from dagster_aws.ecs import EcsRunLauncher
from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

from orbit_pipelines_tests.support import ROOT

DEPLOY = ROOT / "deploy"

ECS_ENV = {"ORBIT_ECS_TASK_DEFINITION": "orbit-run", "ORBIT_ECS_CONTAINER_NAME": "run", "ORBIT_ECS_CLUSTER": "orbit"}
S3_ENV = {
    "ORBIT_COMPUTE_LOGS_BUCKET": "orbit-compute-logs",
    "ORBIT_COMPUTE_LOGS_PREFIX": "prod/compute-logs",
    "AWS_REGION": "eu-west-1",
}


def env_names(config) -> set[str]:
    """Every variable a Dagster config reads through `{env: NAME}`."""
    if isinstance(config, dict):
        if set(config) == {"env"} and isinstance(config["env"], str):
            return {config["env"]}
        return set().union(*(env_names(v) for v in config.values()))
    if isinstance(config, list):
        return set().union(*(env_names(v) for v in config))
    return set()


@pytest.fixture
def load(tmp_path):
    """Loads a config file as an instance, with every configured part built (Dagster builds them lazily)."""
    loaded = []

    def load_instance(config_file) -> DagsterInstance:
        shutil.copy(config_file, tmp_path / "dagster.yaml")
        instance = DagsterInstance.from_config(str(tmp_path))
        loaded.append(instance)
        instance.run_launcher, instance.compute_log_manager  # noqa: B018 - building them is the test
        return instance

    yield load_instance
    for instance in loaded:
        instance.dispose()


@pytest.fixture
def aws(local_services, monkeypatch):
    """boto3 talks to the local moto server, which knows the run task definition ORBIT_ECS_TASK_DEFINITION."""
    endpoint = local_services.variables["ORBIT_S3_ENDPOINT_URL"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    ecs = boto3.client("ecs", region_name="eu-west-1")
    ecs.create_cluster(clusterName="orbit")
    registered = ecs.register_task_definition(
        family="orbit-run", containerDefinitions=[{"name": "run", "image": "orbit-pipelines:latest", "memory": 512}]
    )
    return registered["taskDefinition"]["taskDefinitionArn"]


@pytest.fixture
def deploy_env(pg_url, aws, monkeypatch):
    for name, value in {**ECS_ENV, **S3_ENV}.items():
        monkeypatch.setenv(name, value)
    return aws


def test_every_variable_the_ecs_instance_reads_is_named_here():
    assert env_names(yaml.safe_load((DEPLOY / "dagster.yaml").read_text())) == {"DAGSTER_PG_URL", *ECS_ENV, *S3_ENV}


def test_the_ecs_instance_launches_each_run_as_a_task_of_the_registered_definition(deploy_env, load):
    instance = load(DEPLOY / "dagster.yaml")
    launcher = instance.run_launcher
    assert isinstance(launcher, EcsRunLauncher)
    assert launcher.task_definition == deploy_env and launcher.container_name == "run"
    assert launcher.run_task_kwargs == {"cluster": "orbit"}
    assert launcher.use_current_ecs_task_config  # subnets and security groups: the daemon's own task


def test_the_ecs_instance_keeps_compute_logs_in_the_configured_bucket(deploy_env, load):
    logs = load(DEPLOY / "dagster.yaml").compute_log_manager
    assert isinstance(logs, S3ComputeLogManager)
    assert (logs._s3_bucket, logs._s3_prefix, logs._region) == ("orbit-compute-logs", "prod/compute-logs", "eu-west-1")


def test_the_ecs_instance_resumes_a_run_whose_task_died_then_retries_it(deploy_env, load):
    instance = load(DEPLOY / "dagster.yaml")
    assert instance.run_monitoring_enabled
    assert instance.run_launcher.supports_check_run_worker_health and instance.run_launcher.supports_resume_run
    assert instance.run_monitoring_max_resume_run_attempts == 1
    assert instance.run_retries_enabled and instance.run_retries_retry_on_asset_or_op_failure is False


def test_the_ecs_instance_keeps_the_local_run_queue_policy(deploy_env, load):
    production = load(DEPLOY / "dagster.yaml").get_concurrency_config()
    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())["concurrency"]
    assert production.run_queue_config.max_concurrent_runs == local["runs"]["max_concurrent_runs"]
    assert production.run_queue_config.tag_concurrency_limits == local["runs"]["tag_concurrency_limits"]
    assert production.pool_config.default_pool_limit == local["pools"]["default_limit"]


@pytest.mark.parametrize("missing", sorted({"DAGSTER_PG_URL", *ECS_ENV, *S3_ENV}))
def test_a_missing_variable_stops_the_instance_naming_it(deploy_env, load, monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(Exception, match=missing):
        load(DEPLOY / "dagster.yaml")


def test_the_single_host_instance_is_the_ecs_one_with_runs_on_the_code_server():
    ecs = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    single_host = yaml.safe_load((DEPLOY / "single-host" / "dagster.yaml").read_text())
    del ecs["run_launcher"]
    for config in (ecs, single_host):  # what only a launcher that resumes runs can use
        del config["run_monitoring"]["max_resume_run_attempts"], config["run_monitoring"]["start_timeout_seconds"]
    assert single_host == ecs


def test_the_single_host_instance_runs_on_the_default_launcher_with_s3_compute_logs(pg_url, load, monkeypatch):
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    instance = load(DEPLOY / "single-host" / "dagster.yaml")
    assert isinstance(instance.run_launcher, DefaultRunLauncher)
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
    assert instance.run_monitoring_enabled and instance.run_monitoring_max_resume_run_attempts == 0
    assert instance.run_storage.postgres_url == os.environ["DAGSTER_PG_URL"]

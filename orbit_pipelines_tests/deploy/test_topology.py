"""The container topology in deploy/: the user code image's command serves the definitions over
gRPC, the workspace points the webserver and daemon at it, and the compose file wires the services
with the variables the instance reads.

There is no Docker daemon or registry here, so the image is not built: its entry point command is
read from the Dockerfile and run as a local process from this virtualenv (the image installs the same
package with `pip install .`)."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml
from dagster import DagsterInstance
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin
from dagster._core.workspace.load import location_origins_from_yaml_paths

from orbit_pipelines.local.processes import venv_bin
from orbit_pipelines.local.stack import free_port
from orbit_pipelines_tests.deploy.test_instance_config import env_names
from orbit_pipelines_tests.support import ROOT

DEPLOY = ROOT / "deploy"
ORBIT_SERVICES = ("migrate", "user_code", "webserver", "daemon")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0], line.split(None, 1)[1]) for line in lines]


def dockerfile(instruction: str) -> list[str]:
    return [args for name, args in dockerfile_instructions() if name == instruction]


def image_command() -> list[str]:
    (cmd,) = dockerfile("CMD")
    return json.loads(cmd)


def health_check_command() -> list[str]:
    (healthcheck,) = dockerfile("HEALTHCHECK")
    return json.loads(healthcheck.split("CMD", 1)[1])


def with_port(argv: list[str], port: int, host: str = "127.0.0.1") -> list[str]:
    """`argv` run from this virtualenv on a free local port instead of the container's 4000 on every interface."""
    replaced = [venv_bin(argv[0]), *argv[1:]]
    for flag, value in (("-p", str(port)), ("-h", host)):
        if flag in replaced:
            replaced[replaced.index(flag) + 1] = value
    return replaced


def option(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture
def code_server(tmp_path):
    """The image's command, with the image's instance (deploy/dagster.yaml in DAGSTER_HOME)."""
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    port = free_port()
    log = (tmp_path / "code-server.log").open("w")
    process = subprocess.Popen(
        with_port(image_command(), port),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
    )
    yield port
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_the_workspace_names_the_code_server_by_host_from_the_environment_on_the_image_port(monkeypatch):
    monkeypatch.setenv("ORBIT_CODE_SERVER_HOST", "user_code")
    (origin,) = location_origins_from_yaml_paths([str(DEPLOY / "workspace.yaml")])
    assert isinstance(origin, GrpcServerCodeLocationOrigin)
    assert (origin.host, origin.port, origin.location_name) == ("user_code", 4000, "orbit_pipelines")
    assert str(origin.port) == option(image_command(), "-p")


def test_the_images_command_serves_every_job_over_grpc_and_passes_its_health_check(code_server):
    health_check = with_port(health_check_command(), code_server)
    deadline = time.monotonic() + 90
    while subprocess.run(health_check, capture_output=True, timeout=30).returncode != 0:
        assert time.monotonic() < deadline, "the code server never answered its health check"
        time.sleep(1)
    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=code_server, location_name="orbit_pipelines")
    with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
        (repository,) = location.get_repositories().values()
        assert {job.name for job in repository.get_all_jobs()} >= {
            "task_decomposition",
            "document_processing",
            "send_message",
            "agent_execution",
            "housekeeping",
        }


def test_compose_runs_postgres_and_the_three_dagster_processes_from_the_one_image():
    services = compose()["services"]
    assert set(services) == {"postgres", *ORBIT_SERVICES}
    images = {services[name]["image"] for name in ORBIT_SERVICES}
    assert len(images) == 1 and all(
        services[name]["build"]["dockerfile"] == "deploy/Dockerfile" for name in ORBIT_SERVICES
    )


def test_compose_runs_the_images_command_as_the_code_server_and_points_the_others_at_it():
    services = compose()["services"]
    assert "command" not in services["user_code"], "the code server is the image's own CMD"
    (workspace_copy,) = [args.split()[1] for args in dockerfile("COPY") if args.startswith("deploy/workspace.yaml")]
    assert services["webserver"]["command"][:1] == ["dagster-webserver"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    for name in ("webserver", "daemon"):
        assert option(services[name]["command"], "-w") == workspace_copy
        assert services[name]["depends_on"]["user_code"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"] == ["orbit", "db", "migrate"]
    assert services["user_code"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["user_code"]["environment"]["ORBIT_CODE_SERVER_HOST"] == "user_code"


def test_compose_mounts_the_single_host_instance_where_the_image_keeps_its_instance():
    (dagster_home,) = re.findall(r"DAGSTER_HOME=(\S+)", " ".join(dockerfile("ENV")))
    for name in ORBIT_SERVICES:
        assert f"./single-host/dagster.yaml:{dagster_home}/dagster.yaml:ro" in compose()["services"][name]["volumes"]


def test_compose_gives_every_dagster_process_each_variable_the_instance_workspace_and_code_read():
    instance = env_names(yaml.safe_load((DEPLOY / "single-host" / "dagster.yaml").read_text()))
    workspace = env_names(yaml.safe_load((DEPLOY / "workspace.yaml").read_text()))
    code = {"ORBIT_S3_BUCKET", "ORBIT_IO_MANAGER_BUCKET", "VERYFI_CLIENT_ID", "VERYFI_USERNAME", "VERYFI_API_KEY"}
    ecs_only = {"ORBIT_ECS_TASK_DEFINITION", "ORBIT_ECS_CONTAINER_NAME", "ORBIT_ECS_CLUSTER"}
    assert instance == env_names(yaml.safe_load((DEPLOY / "dagster.yaml").read_text())) - ecs_only
    for name in ORBIT_SERVICES:
        assert instance | workspace | code <= set(compose()["services"][name]["environment"]), name


def test_the_example_env_file_lists_every_variable_compose_requires():
    required = set(re.findall(r"\$\{(\w+):\?", (DEPLOY / "compose.yaml").read_text()))
    example = {
        line.split("=", 1)[0]
        for line in (DEPLOY / "orbit.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert required and required <= example

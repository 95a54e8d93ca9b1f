"""How the ledger's `message` tasks become send_message runs: found by the registry, no registration."""

from orbit_pipelines.jobs.registry import JobKind
from orbit_pipelines.jobs.send_message.models import KIND as _KIND
from orbit_pipelines.jobs.send_message.models import MessagePayload


def resources() -> dict:
    from dagster import EnvVar

    from orbit_pipelines.jobs.send_message.resources import MessageEndpoints

    return {"endpoints": MessageEndpoints(endpoints_json=EnvVar("ORBIT_MESSAGE_ENDPOINTS"))}


KIND = JobKind(
    kind=_KIND,
    job_name="send_message",
    payload_model=MessagePayload,
    run_config=lambda tasks: {"ops": {"load_message": {"config": {"task_id": tasks[0].id}}}},
    # dagster.yaml limits runs per unique orbit/endpoint value: a per-endpoint concurrency pool.
    run_tags=lambda tasks: {"orbit/endpoint": tasks[0].payload.get("endpoint", "")},
    resources=resources,
    phases={"load_message": "LOADING", "deliver_message": "DELIVERING"},
)

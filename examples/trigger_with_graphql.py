"""Trigger orbit_pipelines from another system with Dagster's Python GraphQL client.

    ORBIT_DAGSTER_URL=http://127.0.0.1:3000 python examples/trigger_with_graphql.py "Add CSV export"

Launches task_decomposition with an inline task and an idempotency key (sending the same key again
never runs the work twice), polls until the run ends, and re-executes it from failure if it failed.
"""

import os
import sys
import time
from urllib.parse import urlsplit

import requests
from dagster import DagsterRunStatus
from dagster_graphql import DagsterGraphQLClient

url = urlsplit(os.environ.get("ORBIT_DAGSTER_URL", "http://127.0.0.1:3000"))
client = DagsterGraphQLClient(url.hostname, port_number=url.port)

title = sys.argv[1] if len(sys.argv) > 1 else "Add CSV export of invoices"
run_id = client.submit_job_execution(
    "task_decomposition",
    repository_location_name="orbit_pipelines",
    repository_name="__repository__",
    run_config={"ops": {"load_task": {"config": {"task": {
        "title": title,
        "description": f"{title}. Customers list their Invoices and export them as CSV.",
        "tech_stack": ["python", "fastapi", "postgresql"],
        "entities": ["Invoice"],
    }}}}},
    tags={"orbit/idempotency_key": f"example:{title}"},
)
print(f"launched {run_id}")

while (status := client.get_run_status(run_id)) not in (
        DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
    time.sleep(1)
print(f"run {run_id}: {status.value}")

if status == DagsterRunStatus.FAILURE:
    # The Python client has no re-execute method: send the mutation yourself.
    response = requests.post(f"{url.scheme}://{url.netloc}/graphql", timeout=30, json={
        "query": "mutation($id: String!) { launchRunReexecution(reexecutionParams: "
                 "{parentRunId: $id, strategy: FROM_FAILURE}) { ... on LaunchRunSuccess { run { runId } } } }",
        "variables": {"id": run_id},
    })
    print("re-executed as", response.json()["data"]["launchRunReexecution"]["run"]["runId"])
# To stop a run: client.terminate_run(run_id)

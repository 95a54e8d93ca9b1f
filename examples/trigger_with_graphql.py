"""Trigger orbit_pipelines from another system with Dagster's Python GraphQL client.

    ORBIT_DAGSTER_URL=http://127.0.0.1:3000 python examples/trigger_with_graphql.py "Add CSV export"
    ORBIT_DAGSTER_URL=http://127.0.0.1:3000 python examples/trigger_with_graphql.py --reexecute RUN_ID

Launches task_decomposition with an inline task and an idempotency key, and follows the run to its end.
Sending the same key again never runs the work twice: the run succeeds at once, and this says so. If the
run fails, this prints the failed step and its error and stops: fix the cause, then re-execute from
failure with --reexecute and it follows the new run.
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
GRAPHQL = f"{url.scheme}://{url.netloc}/graphql"
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } eventConnection { events {
  __typename ... on ExecutionStepFailureEvent { stepKey error { message } }
  ... on ExecutionStepUpForRetryEvent { stepKey error { errorChain { error { message } } } } } } } } }"""
REEXECUTE = """mutation($id: String!) { launchRunReexecution(reexecutionParams: {parentRunId: $id, strategy: FROM_FAILURE})
  { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on Error { message } } }"""


def graphql(query: str, **variables) -> dict:
    # The client has no method for these: send the query yourself.
    response = requests.post(GRAPHQL, json={"query": query, "variables": variables}, timeout=30)
    response.raise_for_status()
    return response.json()["data"]


def follow(run_id: str) -> int:
    """Wait for the run to end; say what it did; 0 when it succeeded."""
    while (status := client.get_run_status(run_id)) not in (
        DagsterRunStatus.SUCCESS,
        DagsterRunStatus.FAILURE,
        DagsterRunStatus.CANCELED,
    ):
        time.sleep(1)
    run = graphql(RUN, id=run_id)["runOrError"]
    tags = {t["key"]: t["value"] for t in run["tags"]}
    if status == DagsterRunStatus.SUCCESS and "orbit/short_circuit" in tags:
        # A duplicate launch: nothing was run again; the earlier run holds the results.
        print(f"run {run_id}: SUCCESS, nothing run again: {tags['orbit/short_circuit']} (same idempotency key)")
        return 0
    print(f"run {run_id}: {status.value}")
    if status == DagsterRunStatus.FAILURE:
        last_error = {}
        for event in run["eventConnection"]["events"]:
            if event["__typename"] == "ExecutionStepUpForRetryEvent":
                last_error[event["stepKey"]] = event["error"]["errorChain"][-1]["error"]["message"]
            elif event["__typename"] == "ExecutionStepFailureEvent":
                # After its retries a step fails with "Exceeded max_retries": the cause is its last retry's error.
                error = event["error"]["message"]
                if error.startswith("Exceeded max_retries"):
                    error = last_error.get(event["stepKey"], error)
                print(f"  step {event['stepKey']} failed: {error.splitlines()[0].split(': ', 1)[-1]}")
        print(f"fix the cause, then: python {sys.argv[0]} --reexecute {run_id}")
    return 0 if status == DagsterRunStatus.SUCCESS else 1


if sys.argv[1:2] == ["--reexecute"]:
    answer = graphql(REEXECUTE, id=sys.argv[2])["launchRunReexecution"]
    if answer["__typename"] != "LaunchRunSuccess":
        sys.exit(f"re-execution refused: {answer.get('message', answer['__typename'])}")
    new_run = answer["run"]["runId"]
    print(f"re-executing run {sys.argv[2]} from failure as {new_run}")
    sys.exit(follow(new_run))

title = sys.argv[1] if len(sys.argv) > 1 else "Add CSV export of invoices"
run_id = client.submit_job_execution(
    "task_decomposition",
    repository_location_name="orbit_pipelines",
    repository_name="__repository__",
    run_config={
        "ops": {
            "load_task": {
                "config": {
                    "task": {
                        "title": title,
                        "description": f"{title}. Customers list their Invoices and export them as CSV.",
                        "tech_stack": ["python", "fastapi", "postgresql"],
                        "entities": ["Invoice"],
                    }
                }
            }
        }
    },
    tags={"orbit/idempotency_key": f"example:{title}"},
)
print(f"launched {run_id}")
sys.exit(follow(run_id))
# To stop a run: client.terminate_run(run_id)

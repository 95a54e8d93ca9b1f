"""Operating runs through the Dagster webserver's GraphQL API: what `orbit rerun/cancel/dlq retry`
do, and what an external system can do the same way (see the README's integration guide)."""

from __future__ import annotations

import os
from typing import Any

import requests

LOCATION = "orbit_pipelines"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object


class OperationError(RuntimeError):
    pass


def dagster_url() -> str:
    return os.environ.get("ORBIT_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


# What every launch answers: the new run, or why there is none.
_LAUNCH_RESULT = """
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on Error { message }
"""

_LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {""" + _LAUNCH_RESULT + """  }
}"""

_REEXECUTE = """
mutation($params: ReexecutionParams, $executionParams: ExecutionParams) {
  launchRunReexecution(reexecutionParams: $params, executionParams: $executionParams) {""" + _LAUNCH_RESULT + """  }
}"""

_TERMINATE = """
mutation($runId: String!) {
  terminateRun(runId: $runId) {
    __typename
    ... on TerminateRunFailure { message }
    ... on PythonError { message }
    ... on Error { message }
  }
}"""

_RUN = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName runConfigYaml tags { key value } }
    ... on Error { message }
  }
}"""


class DagsterApi:
    def __init__(self, url: str | None = None, timeout: float = 30.0):
        self.url = (url or dagster_url()) + "/graphql"
        self.timeout = timeout

    def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = requests.post(self.url, json={"query": query, "variables": variables}, timeout=self.timeout)
        except requests.ConnectionError:
            raise OperationError(f"no Dagster webserver at {self.url}; start it with `orbit up` "
                                 "or point ORBIT_DAGSTER_URL at one") from None
        try:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or body.get("errors") or "data" not in body:
            detail = body.get("errors") if isinstance(body, dict) and body.get("errors") else response.text[:500]
            raise OperationError(f"{self.url} is no Dagster GraphQL API, or refused the call: "
                                 f"HTTP {response.status_code}: {detail}")
        return body["data"]

    @staticmethod
    def _run_id(result: dict[str, Any]) -> str:
        if result["__typename"] == "LaunchRunSuccess":
            return result["run"]["runId"]
        detail = result.get("message") or result.get("errors") or result.get("invalidStepKey") or ""
        raise OperationError(f"{result['__typename']}: {detail}")

    def launch(self, job_name: str, run_config: dict, tags: dict[str, str] | None = None) -> str:
        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job_name},
            "runConfigData": run_config,
            "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
        }
        return self._run_id(self._call(_LAUNCH, {"params": params})["launchRun"])

    def reexecute(self, parent_run_id: str, strategy: str = "FROM_FAILURE") -> str:
        """FROM_FAILURE: the failed steps and what depends on them; ALL_STEPS: everything again."""
        data = self._call(_REEXECUTE, {"params": {"parentRunId": parent_run_id, "strategy": strategy}})
        return self._run_id(data["launchRunReexecution"])

    def reexecute_steps(self, parent_run_id: str, step_keys: list[str], config_edits: dict | None = None) -> str:
        """Re-run `step_keys` of a past run; the outputs of the steps before them are reused.

        `config_edits` is merged over the parent's run config (e.g. an operator's corrected op config)."""
        parent = self.run(parent_run_id)
        import yaml

        params = {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                         "jobName": parent["jobName"]},
            "runConfigData": merge_config(yaml.safe_load(parent["runConfigYaml"]) or {}, config_edits or {}),
            "stepKeys": step_keys,
            "executionMetadata": {
                "parentRunId": parent_run_id,
                "rootRunId": parent["tags"].get("dagster/root_run_id", parent_run_id),
                "tags": [{"key": k, "value": v} for k, v in parent["tags"].items() if not k.startswith("dagster/")],
            },
        }
        return self._run_id(self._call(_REEXECUTE, {"executionParams": params})["launchRunReexecution"])

    def terminate(self, run_id: str) -> None:
        result = self._call(_TERMINATE, {"runId": run_id})["terminateRun"]
        if result["__typename"] != "TerminateRunSuccess":
            raise OperationError(f"{result['__typename']}: {result.get('message', '')}")

    def run(self, run_id: str) -> dict[str, Any]:
        result = self._call(_RUN, {"runId": run_id})["runOrError"]
        if result["__typename"] != "Run":
            raise OperationError(f"run {run_id}: {result.get('message', result['__typename'])}")
        return {**result, "tags": {t["key"]: t["value"] for t in result["tags"]}}


def steps_from(job, step: str) -> list[str]:
    """`step` and every step downstream of it in `job` (a re-execution "from" a step)."""
    from dagster._core.selector.subset_selector import parse_op_queries

    names = parse_op_queries(job.graph, [f"{step}*"])
    if step not in job.graph.node_dict:
        raise OperationError(f"job {job.name} has no step {step!r}; steps: {', '.join(job.graph.node_dict)}")
    return [n for n in job.graph.node_dict if n in names]


def merge_config(base: dict, edits: dict) -> dict:
    """`edits` over `base`, key by key at every level."""
    merged = dict(base)
    for key, value in edits.items():
        merged[key] = merge_config(base[key], value) if isinstance(value, dict) and isinstance(
            base.get(key), dict) else value
    return merged

"""Operating runs through the Dagster webserver's GraphQL API: what `orbit rerun/cancel/dlq retry`
do, and what an external system can do the same way (see docs/integration.md).

Dagster's own Python client (`dagster_graphql.DagsterGraphQLClient`) makes the calls it has: launch,
run status, terminate. The rest is our own GraphQL, for what the client has no method for:
re-execution (`launchRunReexecution`), a run's job, config and tags (`get_run_status` answers the status
only), and the launch of `orbit task submit` (`launch_light`: see there why)."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import urlsplit

import requests

if TYPE_CHECKING:
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

LOCATION = "orbit_pipelines"
REPOSITORY = "__repository__"  # the name Dagster gives the repository of a Definitions object

T = TypeVar("T")


class OperationError(RuntimeError):
    pass


class RunNotFound(OperationError):
    pass


def dagster_url() -> str:
    return os.environ.get("ORBIT_DAGSTER_URL", "http://127.0.0.1:3000").rstrip("/")


# What every launch of our own answers: the new run, or why there is none.
_LAUNCH_RESULT = """
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidStepError { invalidStepKey }
    ... on Error { message }
"""

# The client's submit_job_execution sends the same mutation; this copy is only for launch_light.
_LAUNCH = (
    """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {"""
    + _LAUNCH_RESULT
    + """  }
}"""
)

# The client has no re-execution.
_REEXECUTE = (
    """
mutation($params: ReexecutionParams, $executionParams: ExecutionParams) {
  launchRunReexecution(reexecutionParams: $params, executionParams: $executionParams) {"""
    + _LAUNCH_RESULT
    + """  }
}"""
)

# The client answers a run's status only (get_run_status); re-executing steps needs its job, config and tags.
_RUN = """
query($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status jobName runConfigYaml tags { key value } }
    ... on Error { message }
  }
}"""


# Runs by tag (e.g. the run a dispatch key started, which no op has reported to the ledger yet).
_RUNS_TAGGED = """
query($filter: RunsFilter) {
  runsOrError(filter: $filter, limit: 10) {
    __typename
    ... on Runs { results { runId status } }
    ... on Error { message }
  }
}"""

# `orbit status`: the webserver answers, and how the daemon's threads are (as the Deployment page shows).
_HEALTH = """
query {
  version
  instance { daemonHealth { allDaemonStatuses { daemonType required healthy lastHeartbeatTime } } }
}"""

FINISHED_RUN_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")


class DagsterApi:
    """The webserver at `url` (ORBIT_DAGSTER_URL by default). `timeout`: seconds for every request, or
    (connect, read) as requests takes it."""

    def __init__(self, url: str | None = None, timeout: float | tuple[float, float] = 30.0):
        self.base_url = (url or dagster_url()).rstrip("/")
        self.url = self.base_url + "/graphql"
        self.timeout = timeout

    @cached_property
    def client(self) -> DagsterGraphQLClient:
        # Imported on first use: dagster_graphql imports all of Dagster (over a second here), which
        # `orbit task submit` does without (see launch_light).
        from dagster_graphql import DagsterGraphQLClient

        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        # The client takes the parts of the URL and builds the same `self.url` from them.
        return DagsterGraphQLClient(
            f"[{host}]" if ":" in host else host,
            port_number=parts.port,
            use_https=parts.scheme == "https",
            path_prefix=parts.path,
            timeout=self.timeout,  # type: ignore[arg-type]  # requests takes a pair too
        )

    # -- through Dagster's client ----------------------------------------------------------------------

    def _with_client(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        from dagster_graphql import DagsterGraphQLClientError

        try:
            return call(*args, **kwargs)
        except DagsterGraphQLClientError as exc:
            raise self._client_error(exc) from None

    def _client_error(self, exc: DagsterGraphQLClientError) -> OperationError:
        cause = exc.__cause__
        chain: list[BaseException] = []  # gql wraps the requests error it got in one of its own
        while cause is not None and len(chain) < 10:
            chain.append(cause)
            cause = cause.__cause__ or cause.__context__
        if any(isinstance(c, requests.ConnectionError) for c in chain):
            return self._unreachable()
        cause = exc.__cause__
        if cause is not None:  # no answer from a GraphQL API: an HTTP error, not JSON, GraphQL errors, a timeout
            code = getattr(cause, "code", None)
            return OperationError(
                f"{self.url} is no Dagster GraphQL API, or refused the call: "
                f"{f'HTTP {code}: ' if code else ''}{cause or type(cause).__name__}"
            )
        # The API's answer was an error type: the client raises (__typename, message, errors or step key).
        typename, detail = (*exc.args, "")[:2]
        return OperationError(f"{typename}: {_describe(exc.body if exc.body is not None else detail)}")

    def launch(self, job_name: str, run_config: dict, tags: dict[str, str] | None = None) -> str:
        return self._with_client(
            self.client.submit_job_execution,
            job_name,
            repository_location_name=LOCATION,
            repository_name=REPOSITORY,
            run_config=run_config,
            tags=tags or {},
        )

    def status(self, run_id: str) -> str:
        """The run's status, e.g. "QUEUED", "STARTED", "SUCCESS", "FAILURE", "CANCELED"."""
        return self._with_client(self.client.get_run_status, run_id).value

    def terminate(self, run_id: str) -> None:
        self._with_client(self.client.terminate_run, run_id)

    # -- our own GraphQL, for what the client has no method for ----------------------------------------

    def _unreachable(self) -> OperationError:
        return OperationError(
            f"no Dagster webserver at {self.url}; start it with `orbit up` or point ORBIT_DAGSTER_URL at one"
        )

    def _call(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = requests.post(
                self.url, json={"query": query, "variables": variables or {}}, timeout=self.timeout
            )
        except requests.ConnectionError:
            raise self._unreachable() from None
        except requests.Timeout:
            raise OperationError(
                f"the webserver at {self.base_url} did not answer in time; it may be overloaded or stuck: "
                "try again, or restart it (`orbit up`)"
            ) from None
        try:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        except ValueError:
            body = {}
        # Dagster answers a resolver's exception (a PythonError result) with HTTP 500 and the data: the
        # caller reads the error from the result, which names it.
        if isinstance(body, dict) and isinstance(body.get("data"), dict) and not body.get("errors"):
            return body["data"]
        if isinstance(body, dict) and body.get("errors"):
            detail = _describe(body["errors"])
        else:
            detail = " ".join(response.text[:300].split()) or "(empty answer)"
        raise OperationError(
            f"{self.url} is no Dagster GraphQL API, or refused the call (HTTP {response.status_code}: {detail}); "
            "check ORBIT_DAGSTER_URL"
        )

    @staticmethod
    def _run_id(result: dict[str, Any]) -> str:
        if result["__typename"] == "LaunchRunSuccess":
            return result["run"]["runId"]
        if result["__typename"] == "PythonError":
            raise OperationError(
                f"the webserver could not launch the run: {_first_line(result.get('message'))} "
                "(its log has the traceback)"
            )
        detail = result.get("message") or result.get("errors") or result.get("invalidStepKey") or ""
        raise OperationError(f"{result['__typename']}: {_describe(detail)}")

    def launch_light(self, job_name: str, run_config: dict, tags: dict[str, str] | None = None) -> str:
        """`launch` without Dagster's client, for `orbit task submit` (launch.py), whose latency
        bench/latency.py measures: the client imports all of Dagster into a command that otherwise never
        does. In a fresh process with the stack up (median of 7): this 65 ms, the client's 1.1 s."""
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

    def reexecute_steps(
        self,
        parent_run_id: str,
        step_keys: list[str],
        config_edits: dict | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Re-run `step_keys` of a past run; the outputs of the steps before them are reused.

        `config_edits` is merged over the parent's run config (e.g. an operator's corrected op config);
        `tags` are added to the parent's (why the run exists: `orbit/control`)."""
        parent = self.run(parent_run_id)
        import yaml

        params = {
            "selector": {
                "repositoryLocationName": LOCATION,
                "repositoryName": REPOSITORY,
                "jobName": parent["jobName"],
            },
            "runConfigData": merge_config(yaml.safe_load(parent["runConfigYaml"]) or {}, config_edits or {}),
            "stepKeys": step_keys,
            "executionMetadata": {
                "parentRunId": parent_run_id,
                "rootRunId": parent["tags"].get("dagster/root_run_id", parent_run_id),
                "tags": [
                    {"key": k, "value": v}
                    for k, v in {**parent["tags"], **(tags or {})}.items()
                    if not k.startswith("dagster/")
                ],
            },
        }
        return self._run_id(self._call(_REEXECUTE, {"executionParams": params})["launchRunReexecution"])

    def run(self, run_id: str) -> dict[str, Any]:
        """runId, status, jobName, runConfigYaml and tags (a dict) of a run. RunNotFound when the
        instance has no such run."""
        result = self._call(_RUN, {"runId": run_id})["runOrError"]
        if result["__typename"] == "RunNotFoundError":
            raise RunNotFound(
                f"run {run_id} does not exist on this instance; the Runs page ({self.base_url}/runs) lists its runs"
            )
        if result["__typename"] != "Run":
            raise OperationError(f"run {run_id}: {_first_line(result.get('message', result['__typename']))}")
        return {**result, "tags": {t["key"]: t["value"] for t in result["tags"]}}

    def runs_tagged(self, key: str, value: str) -> list[dict[str, str]]:
        """runId and status of the (up to 10) newest runs with this tag."""
        result = self._call(_RUNS_TAGGED, {"filter": {"tags": [{"key": key, "value": value}]}})["runsOrError"]
        if result["__typename"] != "Runs":
            raise OperationError(f"runs tagged {key}={value}: {_first_line(result.get('message'))}")
        return result["results"]

    def health(self) -> dict[str, Any]:
        """The webserver's Dagster version and the daemon's threads: {"version": str, "daemons": [{daemonType,
        required, healthy, lastHeartbeatTime}]}."""
        data = self._call(_HEALTH)
        return {"version": data["version"], "daemons": data["instance"]["daemonHealth"]["allDaemonStatuses"]}


def _describe(detail: Any) -> str:
    """An error's detail as one line: the messages of a list of config errors, else as it is."""
    if isinstance(detail, list) and all(isinstance(e, dict) and "message" in e for e in detail):
        return "; ".join(_first_line(e["message"]) for e in detail)
    return _first_line(detail)


def _first_line(message: Any) -> str:
    """A Python error's message without its traceback, on one line."""
    lines = str(message or "").strip().splitlines()
    return lines[0] if lines else "(no message)"


def steps_from(job, step: str) -> list[str]:
    """`step` and every step downstream of it in `job` (a re-execution "from" a step)."""
    # Private, and kept: no public name resolves an op-selection query ("step*") to op names. Dagster
    # exports no OpSelection or query parser, and the public `op_selection=` arguments (execute_in_process,
    # GraphDefinition.to_job) run or build a subset job rather than answer which ops it holds.
    from dagster._core.selector.subset_selector import parse_op_queries

    if step not in job.graph.node_dict:  # before the parser, which would refuse it in its own words
        raise OperationError(
            f"job {job.name} has no step {step!r}; give --from-step one of: {', '.join(job.graph.node_dict)}"
        )
    names = parse_op_queries(job.graph, [f"{step}*"])
    return [n for n in job.graph.node_dict if n in names]


def merge_config(base: dict, edits: dict) -> dict:
    """`edits` over `base`, key by key at every level."""
    merged = dict(base)
    for key, value in edits.items():
        merged[key] = (
            merge_config(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return merged

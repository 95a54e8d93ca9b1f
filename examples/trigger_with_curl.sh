#!/usr/bin/env bash
# Trigger orbit_pipelines with plain HTTP: launch document_processing for a file and follow the run to its
# end. If it fails, the script says which step failed and why, and stops: fix the cause first, then
# re-execute from failure and follow the new run:
#   ORBIT_DAGSTER_URL=http://127.0.0.1:3000 bash examples/trigger_with_curl.sh /abs/path/receipt.pdf
#   ORBIT_DAGSTER_URL=http://127.0.0.1:3000 bash examples/trigger_with_curl.sh --reexecute RUN_ID
# (To stop a run: mutation { terminateRun(runId: "...") { __typename } }.)
set -euo pipefail
GRAPHQL="${ORBIT_DAGSTER_URL:-http://127.0.0.1:3000}/graphql"

gql() { curl -sS --fail -H 'content-type: application/json' -d "$1" "$GRAPHQL"; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# Poll the run until it ends; print its status, and on failure each failed step with its error.
follow() {
  local run_id=$1 status
  while :; do
    status=$(gql "{\"query\": \"{ runOrError(runId: \\\"$run_id\\\") { ... on Run { status } } }\"}" |
             field 'd["data"]["runOrError"]["status"]')
    case "$status" in SUCCESS|FAILURE|CANCELED) break ;; esac
    sleep 1
  done
  echo "run $run_id: $status"
  if [ "$status" = FAILURE ]; then
    # After its retries a step fails with "Exceeded max_retries": the cause is its last retry's error.
    gql "{\"query\": \"{ runOrError(runId: \\\"$run_id\\\") { ... on Run { eventConnection { events { __typename ... on ExecutionStepFailureEvent { stepKey error { message } } ... on ExecutionStepUpForRetryEvent { stepKey error { errorChain { error { message } } } } } } } } }\"}" |
      python3 -c '
import json, sys
last = {}
for e in json.load(sys.stdin)["data"]["runOrError"]["eventConnection"]["events"]:
    if e["__typename"] == "ExecutionStepUpForRetryEvent":
        last[e["stepKey"]] = e["error"]["errorChain"][-1]["error"]["message"]
    elif e["__typename"] == "ExecutionStepFailureEvent":
        error = e["error"]["message"]
        error = last.get(e["stepKey"], error) if error.startswith("Exceeded max_retries") else error
        print("  step %s failed: %s" % (e["stepKey"], error.splitlines()[0].split(": ", 1)[-1]))'
    echo "fix the cause, then: bash $0 --reexecute $run_id"
    return 1
  fi
  [ "$status" = SUCCESS ]
}

if [ "${1:-}" = --reexecute ]; then
  # Re-execute from failure: only the failed steps and what depends on them run again.
  answer=$(gql "{\"query\": \"mutation { launchRunReexecution(reexecutionParams: {parentRunId: \\\"$2\\\", strategy: FROM_FAILURE}) { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } ... on Error { message } } }\"}")
  new_run=$(field 'd["data"]["launchRunReexecution"].get("run", {}).get("runId") or sys.exit("re-execution refused: " + d["data"]["launchRunReexecution"].get("message", ""))' <<<"$answer")
  echo "re-executing run $2 from failure as $new_run"
  follow "$new_run"
  exit
fi

FILE="$1"
# Launch document_processing for one file; the idempotency key makes a retried request harmless.
launch=$(gql "{\"query\": \"mutation(\$p: ExecutionParams!) { launchRun(executionParams: \$p) { __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }\",
  \"variables\": {\"p\": {\"selector\": {\"repositoryLocationName\": \"orbit_pipelines\", \"repositoryName\": \"__repository__\", \"jobName\": \"document_processing\"},
                        \"runConfigData\": {\"ops\": {\"load_documents\": {\"config\": {\"paths\": [\"$FILE\"]}}}},
                        \"executionMetadata\": {\"tags\": [{\"key\": \"orbit/idempotency_key\", \"value\": \"curl-example:\"}]}}}}")
run_id=$(field 'd["data"]["launchRun"].get("run", {}).get("runId") or sys.exit("launch refused: " + d["data"]["launchRun"].get("message", ""))' <<<"$launch")
echo "launched $run_id"
follow "$run_id"

#!/usr/bin/env bash
# Trigger orbit_pipelines with plain HTTP: launch, poll, and (if it failed) re-execute from failure.
#   ORBIT_DAGSTER_URL=http://127.0.0.1:3000 bash examples/trigger_with_curl.sh /abs/path/receipt.pdf
set -euo pipefail
GRAPHQL="${ORBIT_DAGSTER_URL:-http://127.0.0.1:3000}/graphql"
FILE="$1"

gql() { curl -sS --fail -H 'content-type: application/json' -d "$1" "$GRAPHQL"; }

# Launch document_processing for one file; the idempotency key makes a retried request harmless.
launch=$(gql "{\"query\": \"mutation(\$p: ExecutionParams!) { launchRun(executionParams: \$p) { __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }\",
  \"variables\": {\"p\": {\"selector\": {\"repositoryLocationName\": \"orbit_pipelines\", \"repositoryName\": \"__repository__\", \"jobName\": \"document_processing\"},
                        \"runConfigData\": {\"ops\": {\"load_documents\": {\"config\": {\"paths\": [\"$FILE\"]}}}},
                        \"executionMetadata\": {\"tags\": [{\"key\": \"orbit/idempotency_key\", \"value\": \"curl-example:\"}]}}}}")
run_id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["launchRun"]["run"]["runId"])' <<<"$launch")
echo "launched $run_id"

# Poll its status.
while :; do
  status=$(gql "{\"query\": \"{ runOrError(runId: \\\"$run_id\\\") { ... on Run { status } } }\"}" |
           python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["runOrError"]["status"])')
  case "$status" in SUCCESS|FAILURE|CANCELED) break ;; esac
  sleep 1
done
echo "run $run_id: $status"

# Re-execute from failure (terminate is: mutation { terminateRun(runId: "...") { __typename } }).
if [ "$status" = FAILURE ]; then
  gql "{\"query\": \"mutation { launchRunReexecution(reexecutionParams: {parentRunId: \\\"$run_id\\\", strategy: FROM_FAILURE}) { __typename } }\"}"
fi

"""Jobs run with marker secrets in the environment, as a code location would run them.

    python -m orbit_pipelines_tests.reliability.secret_scenario CANARY DOCS_DIR

Runs an inline decomposition (its description carries CANARY, a non-secret the scan must find),
one by the LLM strategy (the model server fails once with 500), a document batch (the Veryfi
emulator refuses one call with 401) and a message to an endpoint that cannot be reached (its URL
holds a secret token). Prints the run ids as JSON on the last line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dagster import DagsterInstance, execute_job

from orbit_pipelines.db import get_engine
from orbit_pipelines.jobs.document_processing.intake import submit_document
from orbit_pipelines.ledger import Ledger
from orbit_pipelines.runtime.intake import submit_task
from orbit_pipelines.runtime.tags import run_tags
from orbit_pipelines_tests.support import recon_job


def main(canary: str, docs: Path) -> None:
    import os

    instance = DagsterInstance.get()
    ledger = Ledger(get_engine(os.environ["DAGSTER_PG_URL"]))
    runs = []
    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config={
            "ops": {"load_task": {"config": {"task": {"title": "Secret scan", "description": f"Canary {canary}."}}}}
        },
    )
    runs.append(result.run_id)

    ids = [submit_document(ledger, path)[0].id for path in sorted(docs.iterdir())]
    ledger.claim_pending(limit=len(ids), kinds=["document"], batch_size=len(ids))
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"task_ids": ids}}}},
        tags=run_tags(ledger.get_many(ids)),
    )
    runs.append(result.run_id)

    result = execute_job(
        recon_job("task_decomposition"),
        instance=instance,
        raise_on_error=False,
        run_config={
            "ops": {
                "load_task": {"config": {"task": {"title": "Secret scan, by model", "description": "Invoices."}}},
                "decompose_task": {"config": {"strategy": "llm"}},
            }
        },
    )
    runs.append(result.run_id)

    task, _ = submit_task(ledger, "message", {"endpoint": "hook", "text": f"canary {canary}"})
    result = execute_job(
        recon_job("send_message"),
        instance=instance,
        raise_on_error=False,
        run_config={
            "ops": {"load_message": {"config": {"task_id": task.id}}},
            "resources": {
                "endpoints": {
                    "config": {"endpoints_json": {"env": "ORBIT_MESSAGE_ENDPOINTS"}, "retries": 1, "timeout_seconds": 2}
                }
            },
        },
    )
    runs.append(result.run_id)
    print(json.dumps(runs))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))

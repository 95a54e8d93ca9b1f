"""Run tags every job shares, and the tags of a run over ledger tasks. No Dagster here: the CLI and
the intake path import this without loading Dagster."""

from __future__ import annotations

from orbit_pipelines.ledger import Task

TASK_ID_TAG = "orbit/task_id"
KIND_TAG = "orbit/kind"
LANE_TAG = "orbit/lane"
BATCH_TAG = "orbit/batch"
BATCH_SIZE_TAG = "orbit/batch_size"
# A lone document's run; a batch is found by its orbit/batch tag (tag filters match whole values).
DOCUMENT_KEY_TAG = "orbit/document_key"
IDEMPOTENCY_KEY_TAG = "orbit/idempotency_key"
PRIORITY_TAG = "dagster/priority"
RUN_KEY_TAG = "dagster/run_key"
# How many of a run's tasks it ended FAILED while the run itself went on (a batch's bad documents): a
# green run with failed items says so on the Runs page; `orbit dlq retry` retries them.
FAILED_ITEMS_TAG = "orbit/failed_items"
# A batch's finished items as it goes, `250/1000` (runtime/progress.py): the Runs page shows it.
PROGRESS_TAG = "orbit/progress"
# Dagster's run budget: run monitoring fails a run still going this many seconds after it started.
MAX_RUNTIME_TAG = "dagster/max_runtime"
# Set on a run that found its work already done or in progress, so the Runs page says so.
SHORT_CIRCUIT_TAG = "orbit/short_circuit"


def task_tags(task: Task) -> dict[str, str]:
    return {
        TASK_ID_TAG: str(task.id),
        KIND_TAG: task.kind,
        LANE_TAG: task.lane,
        PRIORITY_TAG: str(task.priority),
    }


def run_tags(tasks: list[Task]) -> dict[str, str]:
    """Tags for a run over `tasks`: the task's own for one, the batch's for several."""
    if len(tasks) == 1:
        return task_tags(tasks[0])
    return {
        BATCH_TAG: tasks[0].dispatch_key or f"batch-{tasks[0].id}",
        BATCH_SIZE_TAG: str(len(tasks)),
        KIND_TAG: tasks[0].kind,
        LANE_TAG: tasks[0].lane,
        PRIORITY_TAG: str(max(t.priority for t in tasks)),
    }

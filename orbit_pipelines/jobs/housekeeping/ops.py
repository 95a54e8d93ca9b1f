from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field

from orbit_pipelines.jobs.common import TRANSIENT_RETRY
from orbit_pipelines.outcomes import reconcile_task
from orbit_pipelines.resources import LedgerResource


class SweepConfig(Config):
    older_than_seconds: int = Field(
        default=600, description="Only tasks QUEUED or RUNNING without any change for this long are checked."
    )
    limit: int = Field(default=500, description="At most this many tasks per sweep.")


@op(retry_policy=TRANSIENT_RETRY)
def sweep_stuck_tasks(context: OpExecutionContext, config: SweepConfig, ledger: LedgerResource) -> int:
    """Settle tasks whose run finished or disappeared while no sensor recorded it."""
    led = ledger.get()
    candidates = led.active(config.older_than_seconds, config.limit)
    settled = [r for r in (reconcile_task(led, context.instance, t) for t in candidates) if r]
    for r in settled:
        context.log.info(f"task {r.task_id}: {r.before.value} -> {r.after.value} ({r.reason})")
    rows = "\n".join(f"| {r.task_id} | {r.run_id or ''} | {r.before.value} | {r.after.value} | {r.reason} |"
                     for r in settled)
    context.add_output_metadata(
        {
            "checked": len(candidates),
            "settled": len(settled),
            "changes": MetadataValue.md("| task | run | before | after | why |\n|---|---|---|---|---|\n" + rows),
        }
    )
    return len(settled)

from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field

from orbit_pipelines.jobs.housekeeping.retention import DEFAULT_RETENTION_DAYS
from orbit_pipelines.jobs.housekeeping.retention import purge_old_runs as purge_runs
from orbit_pipelines.jobs.housekeeping.stale import STALE_AFTER_SECONDS, SWEEP_LIMIT, stale_tasks
from orbit_pipelines.outcomes import reconcile_task
from orbit_pipelines.resources import LedgerResource, env_number
from orbit_pipelines.runtime.retry import TRANSIENT_RETRY


class SweepConfig(Config):
    older_than_seconds: int = Field(
        default=STALE_AFTER_SECONDS,
        description="Only tasks QUEUED or RUNNING without any change for this long are checked.",
    )
    limit: int = Field(default=SWEEP_LIMIT, description="At most this many tasks per sweep.")


@op(retry_policy=TRANSIENT_RETRY)
def sweep_stuck_tasks(context: OpExecutionContext, config: SweepConfig, ledger: LedgerResource) -> int:
    """Settle tasks whose run finished or disappeared while no sensor recorded it."""
    led = ledger.get()
    candidates = stale_tasks(led, context.instance, config.older_than_seconds, config.limit)
    settled = [r for r in (reconcile_task(led, context.instance, t) for t in candidates) if r]
    for r in settled:
        context.log.info(f"task {r.task_id}: {r.before.value} -> {r.after.value} ({r.reason})")
    rows = "\n".join(
        f"| {r.task_id} | {r.run_id or ''} | {r.before.value} | {r.after.value} | {r.reason} |" for r in settled
    )
    context.add_output_metadata(
        {
            "checked": len(candidates),
            "settled": len(settled),
            "changes": MetadataValue.md("| task | run | before | after | why |\n|---|---|---|---|---|\n" + rows),
        }
    )
    return len(settled)


class RetentionConfig(Config):
    older_than_days: float = Field(
        default=env_number("ORBIT_RUN_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
        description="Finished runs not updated for this many days are purged (ORBIT_RUN_RETENTION_DAYS).",
    )
    limit: int = Field(default=5000, description="At most this many runs per purge (the oldest first).")


@op(retry_policy=TRANSIENT_RETRY)
def purge_old_runs(context: OpExecutionContext, config: RetentionConfig, ledger: LedgerResource) -> int:
    """Remove old finished runs from Dagster's storage; the ledger keeps each task and a run summary."""
    purge = purge_runs(context.instance, ledger.get(), config.older_than_days, config.limit)
    if purge.kept_in_use:
        context.log.warning(f"kept {len(purge.kept_in_use)} old run(s) a task still waits on: {purge.kept_in_use[:10]}")
    context.add_output_metadata(
        {"purged": len(purge.purged), "kept_in_use": len(purge.kept_in_use), "older_than_days": config.older_than_days}
    )
    return len(purge.purged)

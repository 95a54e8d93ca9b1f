"""Dagster's concurrency pools (`veryfi`, `agents`), created with the instance as migrations are.

Left to Dagster, the first run that needs a pool creates its row in `concurrency_limits`; on a fresh
instance several document runs of a backlog start together, two of them insert the row at once, and
Dagster's insert-then-update inside one Postgres transaction fails the loser's step with
`UniqueViolation` then `InFailedSqlTransaction`, failing its whole batch. Created here, before any run,
the row is there and no run writes it. `orbit db migrate` (the deploy's migrate step), `orbit up` and
`orbit demo` call `ensure_pools`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance


def pools_in_use() -> set[str]:
    """Every pool an op of the project's jobs claims."""
    import warnings

    # Loading and resolving the definitions here, in the CLI's own process, would print Dagster's API-status warnings
    # (beta parameters) on `orbit up`'s console; the code server logs them to its log as it loads.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from orbit_pipelines.definitions import defs

        pools = [op.pool for job in defs.resolve_all_job_defs() for op in job.graph.iterate_op_defs()]
    return {pool for pool in pools if pool}


def ensure_pools(instance: DagsterInstance | None = None) -> list[str]:
    """Create the pools the instance (DAGSTER_HOME's by default) lacks, at its default limit (dagster.yaml
    `concurrency.pools`); a pool an operator has set (`dagster instance concurrency set`) is left as it
    is. Returns those created."""
    if instance is None:
        from dagster import DagsterInstance

        with DagsterInstance.get() as own:
            return ensure_pools(own)
    storage = instance.event_log_storage
    created = []
    for pool in sorted(pools_in_use() - storage.get_concurrency_keys()):
        if storage.initialize_concurrency_limit_to_default(pool):
            created.append(pool)
    return created

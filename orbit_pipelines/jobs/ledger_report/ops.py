from dagster import Config, MetadataValue, OpExecutionContext, op
from pydantic import Field

from orbit_pipelines.jobs.ledger_report.tables import MAX_ROWS, ledger_report
from orbit_pipelines.jobs.registry import all_kinds
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.retry import TRANSIENT_RETRY


class LedgerReportConfig(Config):
    max_rows: int = Field(
        default=MAX_ROWS,
        ge=1,
        description="At most this many rows per table (per kind and lane for the pending tasks); "
        "the rest are counted as 'and N more'.",
    )


@op(retry_policy=TRANSIENT_RETRY)
def report_ledger(context: OpExecutionContext, config: LedgerReportConfig, ledger: LedgerResource) -> dict:
    """Read the ledger and show it on this run's page: pending tasks, tasks waiting for a person, dead
    letters and the intake of each kind, as tables, with their counts."""
    report = ledger_report(ledger.get(), sorted(all_kinds()), config.max_rows)
    context.log.info(report.summary())
    counts = {
        "pending": report.pending_count,
        "waiting_for_a_person": report.waiting_count,
        "dead_letters": report.dead_letter_count,
        "intake_paused": len(report.paused_kinds),
    }
    # The tables first: the run page's event log shows the first entries of a step output, the rest
    # behind "View full message".
    context.add_output_metadata(
        {
            "pending_tasks": MetadataValue.md(report.pending),
            "waiting_tasks": MetadataValue.md(report.waiting),
            "dead_letter_tasks": MetadataValue.md(report.dead_letters),
            "intake_by_kind": MetadataValue.md(report.intake),
            **counts,
            "max_rows": config.max_rows,
        }
    )
    return counts

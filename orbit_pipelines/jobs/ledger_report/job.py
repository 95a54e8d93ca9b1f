"""ledger_report: the ledger on a run page, for an operator in the Dagster UI who has no SQL at hand."""

from dagster import in_process_executor, job

from orbit_pipelines.jobs.ledger_report.ops import report_ledger


@job(
    executor_def=in_process_executor,
    description="Show the ledger on this run's page: pending tasks per kind and lane (oldest first), tasks "
    "waiting for a person, dead letters and whether each kind's intake is paused. Launch it with no config.",
)
def ledger_report():
    report_ledger()

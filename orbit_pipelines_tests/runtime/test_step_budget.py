"""Step budgets (runtime/step_budget.py) on the Postgres-backed instance: a budgeted step still running
past its budget gets its run's cancel requested, saying which step and which budget, and the run's
failure reads as a Timeout naming that step. Stopping the run itself is the run launcher's (the code
server interrupts it): that is tested on the live stack (live/test_run_control.py); an in-process run
has no launcher to stop it, so here the step runs on to its end."""

import time

from dagster import DagsterEventType, Definitions, EnvVar, execute_job, op, reconstructable

from orbit_pipelines.outcomes import timeout_of
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.jobs import task_job
from orbit_pipelines.runtime.step_budget import STEP_BUDGET_TAG, budget_seconds, canceling_message

KIND = "step_budget_test"


@op(tags={STEP_BUDGET_TAG: "1"})
def slow_step() -> int:
    time.sleep(2.5)
    return 1


@op(tags={STEP_BUDGET_TAG: "30"})
def quick_step(n: int) -> None:
    pass


@task_job(KIND, "A step past its one-second budget, then one well within its budget.")
def over_budget():
    quick_step(slow_step())


def over_budget_with_ledger():
    """The job with the ledger its failure hook needs, as Definitions gives it to every job."""
    return Definitions(
        jobs=[over_budget], resources={"ledger": LedgerResource(database_url=EnvVar("DAGSTER_PG_URL"))}
    ).get_job_def("over_budget")


def canceling_messages(instance, run_id) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_CANCELING).records
    return [r.event_log_entry.get_dagster_event().message for r in records]


def test_a_step_past_its_budget_has_its_run_canceled_naming_the_step_and_the_budget(instance):
    result = execute_job(reconstructable(over_budget_with_ledger), instance=instance)
    # Ours, then the run launcher's own as it tries to stop the run.
    assert canceling_messages(instance, result.run_id)[0] == canceling_message("slow_step", 1)
    timeout = timeout_of(instance, result.run_id)
    assert (timeout.error_class, timeout.step) == ("Timeout", "slow_step")
    assert "slow_step" in timeout.message and "went past its step budget of 1 seconds" in timeout.message


def test_a_run_tag_sets_the_budget_of_each_budgeted_step_for_that_run(instance):
    result = execute_job(reconstructable(over_budget_with_ledger), instance=instance, tags={STEP_BUDGET_TAG: "10"})
    assert result.success
    assert canceling_messages(instance, result.run_id) == []
    assert timeout_of(instance, result.run_id) is None


def test_a_budget_is_per_task_of_the_run_and_a_bad_one_is_none():
    assert budget_seconds("900", 1) == 900
    assert budget_seconds("900", 5) == 4500
    assert budget_seconds("1.5", 0) == 1
    assert budget_seconds(None, 3) is None
    assert budget_seconds("soon", 3) is None
    assert budget_seconds("0", 3) is None

"""A step that Dagster's own storage fails is the instance's failure, not its items': the run is
retried (Dagster's will_retry), and its tasks wait for the retry instead of ending FAILED."""

from dagster import OpExecutionContext, op

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.resources import LedgerResource
from orbit_pipelines.runtime.infrastructure import INFRASTRUCTURE_ERROR_TAG, dagster_storage_error
from orbit_pipelines.runtime.jobs import task_job
from orbit_pipelines.runtime.lifecycle import start_items

WILL_RETRY = "dagster/will_retry"


def _run_failing_with(instance, ledger, pg_url, task_id, fail):
    @op(required_resource_keys={"ledger"})
    def work(context: OpExecutionContext):
        led = context.resources.ledger.get()
        start_items(context, led, led.get_many([task_id]))
        fail(context)

    @task_job("decomposition", "a probe")
    def infrastructure_probe():
        work()

    result = infrastructure_probe.execute_in_process(
        instance=instance, resources={"ledger": LedgerResource(database_url=pg_url)}, raise_on_error=False
    )
    assert not result.success
    return instance.get_run_by_id(result.run_id)


def _refused_by_dagsters_run_storage(context: OpExecutionContext) -> None:
    # The run is there already: Dagster's run storage refuses it on the database's unique key.
    context.instance.run_storage.add_run(context.dagster_run)


def test_a_step_failed_by_dagsters_storage_retries_the_run_and_leaves_its_task_for_the_retry(instance, ledger, pg_url):
    task, _ = ledger.submit("decomposition", {"title": "t", "description": "d"})
    run = _run_failing_with(instance, ledger, pg_url, task.id, _refused_by_dagsters_run_storage)
    assert run.tags[WILL_RETRY] == "true"
    assert run.tags[INFRASTRUCTURE_ERROR_TAG].startswith("IntegrityError")
    assert ledger.get(task.id).status == TaskStatus.RUNNING, "left for the retry run, not failed"


def test_a_step_failed_by_its_own_error_fails_its_task_and_is_not_retried(instance, ledger, pg_url):
    def own_error(context):
        raise ValueError("a bug in the op")

    task, _ = ledger.submit("decomposition", {"title": "t", "description": "d"})
    run = _run_failing_with(instance, ledger, pg_url, task.id, own_error)
    assert run.tags[WILL_RETRY] == "false"
    assert INFRASTRUCTURE_ERROR_TAG not in run.tags
    after = ledger.get(task.id)
    assert (after.status, after.error_class) == (TaskStatus.FAILED, "ValueError")


def test_a_database_error_of_the_ledger_is_not_dagsters_storage(ledger):
    from sqlalchemy import text
    from sqlalchemy.exc import ProgrammingError

    try:
        with ledger.engine.connect() as conn:
            conn.execute(text("SELECT * FROM orbit.no_such_table"))
    except ProgrammingError as exc:
        assert dagster_storage_error(exc) is None
    else:
        raise AssertionError("the query was meant to fail")

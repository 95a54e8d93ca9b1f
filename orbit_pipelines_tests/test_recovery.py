"""Which runs are interrupted (orbit_pipelines/recovery.py), from runs executed on a real Dagster instance
(a temporary one, no server): an op that gets the interrupt a run worker gets when it is stopped or
terminated, the events the code server and run monitoring write when a worker dies or a run goes past
its budget, a step that fails, a re-execution from failure."""

import pytest
from dagster import (
    DagsterInstance,
    OpExecutionContext,
    ReexecutionOptions,
    execute_job,
    in_process_executor,
    instance_for_test,
    job,
    op,
    reconstructable,
)

from orbit_pipelines.recovery import (
    RunEnding,
    Why,
    assess,
    find_interruptions,
    re_executions,
    run_ending,
    step_events,
    stopping_point,
    task_job_names,
    why_interrupted,
)

JOBS = {"two_steps"}


@op
def load() -> int:
    return 1


@op(config_schema={"how": str})
def work(context: OpExecutionContext, loaded: int) -> int:
    how = context.op_config["how"]
    if how == "interrupted":  # the worker stopped under the run (SIGINT/SIGTERM), nobody asked
        raise KeyboardInterrupt
    if how in ("canceled", "over budget"):  # terminated: the run is CANCELING when the interrupt lands
        message = "Canceling due to exceeding maximum runtime of 30 seconds." if how == "over budget" else None
        context.instance.report_run_canceling(context.dagster_run, message=message)
        raise KeyboardInterrupt
    if how == "bad input":
        raise ValueError("the payload has no title")
    return loaded


@job(executor_def=in_process_executor)
def two_steps():
    work(load())


def run_config(how: str) -> dict:
    return {"ops": {"work": {"config": {"how": how}}}}


@pytest.fixture(scope="module")
def instance():
    """One temporary instance for the module, with the project's run retries (crashes only, once): each
    test looks at its own runs."""
    import yaml

    from orbit_pipelines_tests.support import ROOT

    retries = yaml.safe_load((ROOT / "dagster.yaml").read_text())["run_retries"]
    with instance_for_test(overrides={"run_retries": retries}) as test_instance:
        yield test_instance


# A run that nothing retries: Dagster's run retries skip it (and a crash would otherwise be theirs to handle).
NO_RETRY = {"dagster/max_retries": "0"}


def listed(instance, *run_ids: str) -> list[str]:
    """Those of `run_ids` find_interruptions lists, in its order."""
    return [r.dagster_run.run_id for r, _ in find_interruptions(instance, JOBS) if r.dagster_run.run_id in run_ids]


def run_that(instance: DagsterInstance, how: str, tags: dict[str, str] | None = None) -> str:
    """A run of two_steps that ends the way `how` says; its run id. Its outputs are kept on the
    instance's storage, as a re-execution needs them."""
    with execute_job(
        reconstructable(two_steps), instance, run_config=run_config(how), tags=tags, raise_on_error=False
    ) as result:
        return result.run_id


def dead_worker_run(instance: DagsterInstance) -> str:
    """A run whose worker process was killed: what the code server writes when it finds the process gone
    (dagster/_grpc/server.py, _check_for_orphaned_runs)."""
    from dagster._utils import get_run_crash_explanation

    run = instance.create_run_for_job(two_steps, run_config=run_config("ok"), tags=NO_RETRY)
    instance.report_engine_event(
        get_run_crash_explanation(prefix=f"Run execution process for {run.run_id}", exit_code=-9), run
    )
    instance.report_run_failed(run)
    return run.run_id


def over_budget_then_failed(instance: DagsterInstance) -> str:
    """Stopped at its budget, then marked failed as run monitoring does once the launcher has terminated it
    (run_monitoring.check_run_timeout): the run ends FAILURE rather than CANCELED. Dagster's run retries
    would retry such a run once (they cannot tell it from a crash): this one is tagged to have none."""
    run_id = run_that(instance, "over budget", tags=NO_RETRY)
    instance.report_run_failed(instance.get_run_by_id(run_id), "Exceeded maximum runtime of 30 seconds.")
    return run_id


@pytest.fixture(scope="module")
def runs(instance) -> dict[str, str]:
    """One run of each ending, by name: its run id (executed once for the module's tests that only read)."""
    return {
        "killed": dead_worker_run(instance),
        "stopped under it": run_that(instance, "interrupted", tags=NO_RETRY),
        "stopped under it, to be retried": run_that(instance, "interrupted"),
        "canceled": run_that(instance, "canceled"),
        "over budget": run_that(instance, "over budget"),
        "over budget, then failed": over_budget_then_failed(instance),
        "bad input": run_that(instance, "bad input"),
        "ok": run_that(instance, "ok"),
    }


def verdict_of(instance: DagsterInstance, run_id: str):
    record = instance.get_run_record_by_id(run_id)
    return assess(instance, record, re_executions(instance, [run_id]))


def why_of(instance: DagsterInstance, run_id: str) -> Why | None:
    return why_interrupted(run_ending(instance, instance.get_run_record_by_id(run_id))[0])


def test_a_run_whose_worker_process_was_killed_is_interrupted_by_a_dead_worker(instance, runs):
    assert why_of(instance, runs["killed"]) == Why.DEAD_WORKER
    assert "terminated by signal 9 (SIGKILL)" in verdict_of(instance, runs["killed"]).message


def test_a_run_whose_worker_was_stopped_under_it_is_interrupted_by_a_dead_worker(instance, runs):
    run_id = runs["stopped under it"]
    assert instance.get_run_by_id(run_id).tags["dagster/failure_reason"] == "UNEXPECTED_TERMINATION"
    assert why_of(instance, run_id) == Why.DEAD_WORKER


def test_a_canceled_run_is_interrupted_by_a_cancel(instance, runs):
    assert instance.get_run_by_id(runs["canceled"]).status.value == "CANCELED"
    assert why_of(instance, runs["canceled"]) == Why.CANCELED


def test_a_run_stopped_at_its_budget_is_a_timeout_whether_it_ended_canceled_or_failed(instance, runs):
    canceled, failed = runs["over budget"], runs["over budget, then failed"]
    assert [instance.get_run_by_id(r).status.value for r in (canceled, failed)] == ["CANCELED", "FAILURE"]
    assert why_of(instance, canceled) == why_of(instance, failed) == Why.TIMEOUT
    assert "went past its budget of 30 seconds" in verdict_of(instance, canceled).message


def test_a_run_that_failed_in_a_step_is_not_interrupted_its_tasks_are_dead_letters(instance, runs):
    run_id = runs["bad input"]
    assert why_of(instance, run_id) is None
    verdict = verdict_of(instance, run_id)
    assert f"run {run_id} failed in step work (ValueError: " in verdict.refusal
    assert "the payload has no title" in verdict.refusal and "dead letters" in verdict.refusal
    assert listed(instance, run_id) == []


def test_a_run_that_succeeded_is_not_interrupted(instance, runs):
    assert why_of(instance, runs["ok"]) is None


def test_every_interrupted_run_is_listed_and_nothing_else(instance, runs):
    interrupted = ("killed", "stopped under it", "canceled", "over budget", "over budget, then failed")
    assert sorted(listed(instance, *runs.values())) == sorted(runs[name] for name in interrupted)


def test_a_crashed_run_dagster_is_to_retry_is_not_listed_until_nobody_retries_it(instance, runs):
    # run_retries on, as in dagster.yaml: Dagster marks the crashed run dagster/will_retry=true.
    retried = runs["stopped under it, to be retried"]
    assert instance.get_run_by_id(retried).tags["dagster/will_retry"] == "true"
    assert "Dagster is to retry" in verdict_of(instance, retried).refusal
    # A launch tagged dagster/max_retries=0 has no retry coming: it is the operator's to recover.
    not_retried = runs["stopped under it"]
    assert listed(instance, retried, not_retried) == [not_retried]


def test_a_run_re_executed_from_failure_is_no_longer_interrupted_and_its_re_execution_is_assessed_itself(instance):
    parent = run_that(instance, "canceled")
    assert listed(instance, parent) == [parent]
    with execute_job(
        reconstructable(two_steps),
        instance,
        run_config=run_config("ok"),
        reexecution_options=ReexecutionOptions.from_failure(parent, instance),
        # The tags the webserver's and the retry daemon's re-executions carry (run_domain.create_reexecuted_run);
        # execute_job records the parent only in the run's own fields.
        tags={"dagster/parent_run_id": parent, "dagster/root_run_id": parent},
    ) as result:
        assert result.success
    assert listed(instance, parent, result.run_id) == []
    verdict = verdict_of(instance, parent)
    assert verdict.why is None and f"re-executed already, as run {result.run_id}" in verdict.refusal


def test_runs_of_other_jobs_are_not_listed(instance, runs):
    run_id = runs["canceled"]
    assert run_id not in [r.dagster_run.run_id for r, _ in find_interruptions(instance, {"task_decomposition"})]


def test_the_jobs_looked_at_are_those_of_the_task_kinds_not_housekeeping():
    assert {"task_decomposition", "document_processing"} <= task_job_names()
    assert not {"housekeeping", "run_retention"} & task_job_names()


def test_where_a_run_stopped_is_the_step_it_was_in_after_the_last_that_completed(instance, runs):
    stopped = stopping_point(step_events(instance, runs["canceled"]))
    assert (stopped.last_completed, stopped.stopped_in) == ("load", ("work",))
    assert stopped.describe() == "in work, after load"


def test_a_run_killed_before_its_first_step_completed_stopped_before_any_step_completed():
    assert stopping_point([("STEP_START", "load")]).describe() == "in load, before any step completed"
    assert stopping_point([]).describe() == "before any step started"


@pytest.mark.parametrize(
    "ending",
    [
        RunEnding("FAILURE", "STEP_FAILURE"),
        RunEnding("FAILURE", "RUN_EXCEPTION"),
        RunEnding("FAILURE", "JOB_INITIALIZATION_FAILURE"),
        RunEnding(
            "FAILURE", None, messages=("This run has been marked as failed from outside the execution context.",)
        ),
        RunEnding("SUCCESS"),
    ],
)
def test_failures_that_are_not_the_workers_are_not_interruptions(ending):
    assert why_interrupted(ending) is None


def test_run_monitorings_word_for_a_worker_it_found_gone_is_a_dead_worker():
    said = "Detected run worker status WorkerStatus.FAILED. Marking run abc as failed."
    assert why_interrupted(RunEnding("FAILURE", None, messages=(said,))) == Why.DEAD_WORKER

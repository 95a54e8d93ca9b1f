"""Every run the platform starts carries its kind's budget (`dagster/max_runtime`): the dispatch sensor's
and the CLI's (JobKind.tags_for) and a Launchpad launch's (the job's own tags); settings change it per
kind or for all; the instance has run monitoring on to enforce it."""

import pytest
import yaml

from orbit_pipelines.jobs.registry import all_kinds, get_kind
from orbit_pipelines.ledger import Task, TaskStatus
from orbit_pipelines.runtime.tags import MAX_RUNTIME_TAG
from orbit_pipelines.settings import DEFAULT_RUN_BUDGET_SECONDS, run_budget_seconds
from orbit_pipelines_tests.support import ROOT


def a_task(kind: str) -> Task:
    return Task(
        id=7,
        kind=kind,
        payload={"sha256": "ab"},
        status=TaskStatus.PENDING,
        priority=0,
        lane="async",
        idempotency_key="k",
        attempts=0,
        run_id=None,
        error_class=None,
        error_message=None,
        error_step=None,
        created_at=None,
        updated_at=None,
        queued_at=None,
        started_at=None,
        finished_at=None,
    )


def test_every_kind_s_runs_are_tagged_with_its_budget_of_an_hour_by_default(monkeypatch):
    monkeypatch.delenv("ORBIT_MAX_RUNTIME_SECONDS", raising=False)
    for kind in all_kinds().values():
        monkeypatch.delenv(f"ORBIT_MAX_RUNTIME_SECONDS_{kind.kind.upper()}", raising=False)
        assert kind.tags_for([a_task(kind.kind)])[MAX_RUNTIME_TAG] == str(DEFAULT_RUN_BUDGET_SECONDS) == "3600"


def test_a_kind_s_own_setting_wins_over_the_setting_for_all_kinds(monkeypatch):
    monkeypatch.setenv("ORBIT_MAX_RUNTIME_SECONDS", "900")
    monkeypatch.setenv("ORBIT_MAX_RUNTIME_SECONDS_DOCUMENT", "120")
    assert get_kind("document").tags_for([a_task("document")])[MAX_RUNTIME_TAG] == "120"
    assert get_kind("message").tags_for([a_task("message")])[MAX_RUNTIME_TAG] == "900"


@pytest.mark.parametrize("value", ["0", "-5", "ten", "1.5"])
def test_a_budget_that_is_not_a_positive_whole_number_of_seconds_is_refused_naming_the_variable(monkeypatch, value):
    monkeypatch.setenv("ORBIT_MAX_RUNTIME_SECONDS_DOCUMENT", value)
    with pytest.raises(ValueError, match="ORBIT_MAX_RUNTIME_SECONDS_DOCUMENT"):
        run_budget_seconds("document")


def test_every_kind_s_job_carries_its_budget_as_a_tag_so_a_launchpad_launch_has_it():
    for kind in all_kinds().values():
        assert kind.job.tags[MAX_RUNTIME_TAG] == str(kind.run_budget()), kind.kind


@pytest.mark.parametrize("path", ["dagster.yaml", "deploy/dagster.yaml", "deploy/single-host/dagster.yaml"])
def test_the_instance_has_run_monitoring_on_so_budgets_are_enforced(path):
    monitoring = yaml.safe_load((ROOT / path).read_text())["run_monitoring"]
    assert monitoring["enabled"] is True
    # Runs without a budget tag of their own (housekeeping) have the instance's.
    assert monitoring["max_runtime_seconds"] > 0

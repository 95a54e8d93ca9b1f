"""The sample tasks (the demo's, orbit_pipelines/samples/decomposition_task.json, and the Launchpad's
default, ops.LAUNCHPAD_SAMPLE) keep every subtask id and every requirement the plan had before issue 19.
The fixture was recorded once from the rules of 6916a16^ (`git archive 6916a16^ orbit_pipelines`, then
`decompose()` of each task); the plan may add to it, never lose any of it."""

import json
from pathlib import Path

import pytest

from orbit_pipelines.jobs.task_decomposition.decompose import decompose
from orbit_pipelines.jobs.task_decomposition.models import DecompositionPayload
from orbit_pipelines.jobs.task_decomposition.ops import LAUNCHPAD_SAMPLE

FIXTURE = json.loads((Path(__file__).parent / "sample_plans_before_issue_19.json").read_text())
DEMO = json.loads((Path(__file__).parents[3] / "orbit_pipelines" / "samples" / "decomposition_task.json").read_text())
NAMES = list(FIXTURE["tasks"])


def test_the_fixture_is_of_todays_sample_tasks():
    assert [FIXTURE["tasks"][n]["task"] for n in NAMES] == [DEMO, LAUNCHPAD_SAMPLE]


@pytest.mark.parametrize("name", NAMES)
def test_the_sample_plan_keeps_every_subtask_and_requirement_it_had_before_the_issue(name):
    before = FIXTURE["tasks"][name]
    now = {s.id: s for s in decompose(DecompositionPayload.model_validate(before["task"]))}
    missing_ids = [s["id"] for s in before["subtasks"] if s["id"] not in now]
    assert missing_ids == []
    kept = {sid: s.requirements for sid, s in now.items()}
    missing = [(s["id"], r) for s in before["subtasks"] for r in s["requirements"] if r not in kept[s["id"]]]
    assert missing == []

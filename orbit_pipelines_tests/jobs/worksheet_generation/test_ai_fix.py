"""`orbit worksheet ai-fix`'s service function against the emulator over HTTP and the Postgres-backed
instance: the model's fix of a waiting deterministic sheet is compiled from compile_pdf only.
(`live/test_worksheets.py` does the same through the CLI, GraphQL and the daemon.)"""

import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.worksheet_generation.fixes import CannotEdit, ai_fix
from orbit_pipelines.jobs.worksheet_generation.report import worksheet_markdown
from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.llm.store import load_conversation
from orbit_pipelines.resources.llm import LLMResource
from orbit_pipelines_tests.support import recon_job

from .test_worksheet_job import BROKEN, run_worksheet

pytestmark = pytest.mark.usefixtures("tex")


class InProcessReexecution:
    """Stands in for the GraphQL API's launchRunReexecution (DagsterApi.reexecute_steps): the same
    re-execution, run in this process so that the test can read its events."""

    def __init__(self, instance, parent):
        self.instance, self.parent, self.result = instance, parent, None

    def reexecute_steps(self, parent_run_id, step_keys, config_edits):
        config = self.parent.dagster_run.run_config
        self.result = execute_job(
            recon_job("worksheet_generation"),
            instance=self.instance,
            raise_on_error=False,
            run_config={**config, "ops": {**config["ops"], **config_edits["ops"]}},
            reexecution_options=ReexecutionOptions(parent_run_id=parent_run_id, step_selection=step_keys),
        )
        return self.result.run_id


def model(emulator) -> LLMResource:
    return LLMResource(base_url=emulator.base_url, model="gpt-test", api_key=emulator.api_key)


def test_the_models_fix_of_a_waiting_sheet_is_compiled_from_compile_pdf_only(
    instance, ledger, local_services, llm_emulator
):
    task, first = run_worksheet(instance, ledger, {"prompt": "6 sums"}, {"latex_override": BROKEN})
    assert task.status == TaskStatus.WAITING_MANUAL
    api = InProcessReexecution(instance, first)
    done = ai_fix(ledger, api, model(llm_emulator), task.id, "Remove the command that does not exist")

    steps = [e.step_key for e in api.result.all_events if e.event_type == DagsterEventType.STEP_START]
    assert api.result.success and steps == ["compile_pdf", "store_worksheet"]
    assert done.new_run == api.result.run_id and ledger.get(task.id).status == TaskStatus.COMPLETED
    row = load_worksheet(ledger.engine, task.id)
    assert (row["status"], row["latex_source"], row["attempts"]) == ("stored", "model", 2)
    kinds = [t["kind"] for t in load_conversation(ledger.engine, task.id)]
    assert kinds == ["system", "task", "instruction", "answer"], "a deterministic sheet's first conversation"
    asked = llm_emulator.requests[-1].messages[-1]["content"]
    assert "Remove the command that does not exist" in asked and "\\notacommand" in asked and "line 4" in asked
    shown = worksheet_markdown(ledger, ledger.get(task.id))
    assert "- the model's conversation: 4 turns, stored with the task" in shown
    notes = [e["note"] or "" for e in ledger.events(task.id)]
    assert any(n.startswith("AI fix requested: Remove the command") for n in notes)
    assert any(n.startswith("LaTeX edited by the model") for n in notes)


def test_a_fix_with_a_forbidden_command_is_refused_by_name_and_nothing_is_launched(
    instance, ledger, local_services, llm_emulator
):
    task, first = run_worksheet(instance, ledger, {"prompt": "2 sums"}, {"latex_override": BROKEN})
    llm_emulator.next("latex_forbidden")
    api = InProcessReexecution(instance, first)
    with pytest.raises(CannotEdit, match=r"\\input\{/etc/passwd\} includes a file outside its folder"):
        ai_fix(ledger, api, model(llm_emulator), task.id, "Fix it")
    assert api.result is None and ledger.get(task.id).status == TaskStatus.WAITING_MANUAL

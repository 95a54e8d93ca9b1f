"""worksheet_generation on the Postgres-backed instance with the local S3 server and a real pdflatex:
a request becomes a stored PDF; LaTeX that does not compile parks the task for a person, whose fix
continues the run from compile_pdf only and stores the PDF once."""

import boto3
import pytest
from dagster import DagsterEventType, ReexecutionOptions, execute_job

from orbit_pipelines.jobs.registry import get_kind
from orbit_pipelines.jobs.worksheet_generation.store import load_worksheet
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.runtime.intake import PayloadError, submit_task
from orbit_pipelines_tests.support import recon_job

from .conftest import pdf_text

pytestmark = pytest.mark.usefixtures("tex")

BROKEN = "\\documentclass{article}\n\\begin{document}\nHalf a sheet\n\\notacommand\n\\end{document}\n"


def run_worksheet(instance, ledger, payload, compile_config=None):
    task, _ = submit_task(ledger, "worksheet", payload)
    ledger.claim_pending(limit=1, kinds=["worksheet"])
    tasks = [ledger.get(task.id)]
    kind = get_kind("worksheet")
    config = kind.run_config(tasks)
    if compile_config:
        config["ops"]["compile_pdf"] = {"config": compile_config}
    result = execute_job(
        recon_job("worksheet_generation"),
        instance=instance,
        run_config=config,
        tags=kind.tags_for(tasks),
        raise_on_error=False,
    )
    return ledger.get(task.id), result


def stored_pdf(row) -> bytes:
    import os

    s3 = boto3.client("s3", endpoint_url=os.environ["ORBIT_S3_ENDPOINT_URL"], region_name="us-east-1")
    return s3.get_object(Bucket=row["pdf_bucket"], Key=row["pdf_key"])["Body"].read()


def steps_started(result) -> list[str]:
    return [e.step_key for e in result.all_events if e.event_type == DagsterEventType.STEP_START]


def test_a_request_becomes_a_compiled_pdf_in_s3_under_its_hash(instance, ledger, local_services, tmp_path):
    task, result = run_worksheet(
        instance, ledger, {"prompt": "15 unit conversion exercises for year 6", "paper": "letter"}
    )
    assert result.success and task.status == TaskStatus.COMPLETED
    row = load_worksheet(ledger.engine, task.id)
    assert (row["status"], row["attempts"], row["pages"]) == ("stored", 1, 2)
    assert row["pdf_key"] == f"worksheets/{row['pdf_sha256'][:2]}/{row['pdf_sha256']}.pdf"
    text = pdf_text(stored_pdf(row), tmp_path)
    assert "Answer key" in text and "Year 6" in text
    assert all(e["answer"] in text for s in row["design"]["sections"] for e in s["exercises"])


def test_latex_that_does_not_compile_parks_the_task_for_a_person_with_the_error_and_the_source(
    instance, ledger, local_services
):
    task, result = run_worksheet(instance, ledger, {"prompt": "10 sums"}, {"latex_override": BROKEN})
    assert not result.success
    assert task.status == TaskStatus.WAITING_MANUAL, "parked, not failed"
    assert task.error_class == "LatexDoesNotCompile" and "line 4" in task.error_message
    row = load_worksheet(ledger.engine, task.id)
    assert (row["status"], row["latex"], row["errors"][0]["line"]) == ("does_not_compile", BROKEN, 4)
    assert task.id not in {d["id"] for d in ledger.dead_letters(limit=1000)}, "not a dead letter"


def test_a_persons_fix_continues_from_compile_pdf_only_and_stores_the_pdf_once(instance, ledger, local_services):
    task, first = run_worksheet(instance, ledger, {"prompt": "the 6 times table"}, {"latex_override": BROKEN})
    fixed = BROKEN.replace("\\notacommand", "Fixed by hand")
    again = execute_job(
        recon_job("worksheet_generation"),
        instance=instance,
        raise_on_error=False,
        run_config={
            **first.dagster_run.run_config,
            "ops": {**first.dagster_run.run_config["ops"], "compile_pdf": {"config": {"latex_override": fixed}}},
        },
        reexecution_options=ReexecutionOptions(
            parent_run_id=first.run_id, step_selection=["compile_pdf", "store_worksheet"]
        ),
    )
    assert again.success
    assert steps_started(again) == ["compile_pdf", "store_worksheet"], "design and render are not run again"
    after = ledger.get(task.id)
    row = load_worksheet(ledger.engine, task.id)
    assert after.status == TaskStatus.COMPLETED
    assert (row["status"], row["latex_source"], row["attempts"]) == ("stored", "person", 2)


def test_cancel_of_a_waiting_worksheet_ends_it_canceled(instance, ledger, local_services):
    from orbit_pipelines.run_control import cancel

    task, _ = run_worksheet(instance, ledger, {"prompt": "5 sums"}, {"latex_override": BROKEN})
    done = cancel(ledger, api=None, target=str(task.id))
    assert (done.run_id, ledger.get(task.id).status) == (None, TaskStatus.CANCELED)


def test_a_request_over_the_size_limit_is_refused_naming_the_field(ledger):
    with pytest.raises(PayloadError, match="prompt"):
        submit_task(ledger, "worksheet", {"prompt": "x" * 1_000_000})

"""The Dagster UI as an operator uses it, in Debian's Chromium driven by Playwright, against the live
stack's webserver: find a failed run by its tag, re-execute it from failure, read a run's metadata.

Screenshots of each step go to test-artifacts/browser/. Without a Chromium (/usr/bin/chromium, or
ORBIT_TEST_CHROMIUM) the tests are skipped saying why, except in CI (CI=true), where they fail instead.
"""

import os
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from orbit_pipelines.jobs.task_decomposition.store import load_plan
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_text_receipt
from orbit_pipelines_tests.live.stack import finished, orbit, run_finished, wait_for
from orbit_pipelines_tests.support import ROOT

CHROMIUM = Path(os.environ.get("ORBIT_TEST_CHROMIUM", "/usr/bin/chromium"))
NO_CHROMIUM = (
    f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install chromium`; `make test` does it "
    "when run as root) or point ORBIT_TEST_CHROMIUM at one, to run the browser tests"
)
# Skipped at collection, before the live stack starts for nothing; in CI a missing browser is a failure.
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason=NO_CHROMIUM),
]
# As checked on this machine kind: without the background-networking flags Chromium keeps trying
# to reach Google's hosts, which a closed network refuses.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
STEP_TIMEOUT_MS = 30_000  # one UI step: a page load, a dialog, a menu
RUN_TIMEOUT_MS = 180_000  # a run, from launch to its final status


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{NO_CHROMIUM}. CI must run them.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(STEP_TIMEOUT_MS)
    expect.set_options(timeout=STEP_TIMEOUT_MS)
    yield page
    # The page as it was when the test ended, passed or not: the first thing to look at after a failure.
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
    context.close()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def filter_runs_by_tag(page, key: str, value: str) -> None:
    """Runs page > Filter > Tag > key > value, as an operator clicks it."""
    page.get_by_role("button", name="Filter").click()
    page.get_by_text("Tag", exact=True).click()
    page.keyboard.type(key)
    page.get_by_text(key, exact=True).last.click()
    page.keyboard.type(value)
    page.get_by_text(value, exact=True).last.click()
    page.get_by_role("button", name="Filter").click()  # closes the filter menu
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_an_operator_finds_a_failed_document_run_by_its_tag_and_re_executes_it_from_failure(stack, page, tmp_path):
    receipt = write_text_receipt(
        tmp_path / "receipt.txt",
        f"Browser Bakery {uuid.uuid4().hex[:8]}",
        "2026-03-04",
        [("Sourdough", 1, "6.50"), ("Croissant", 3, "2.40")],
    )
    engine = stack.ledger.engine
    # The documents table goes missing: storing fails for good, in upload_and_extract, whose storer
    # stores each document as its answer arrives.
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE orbit.documents RENAME TO documents_away"))
    try:
        orbit(stack, "doc", "submit", str(receipt))
        (task,) = [t for t in stack.ledger.list(kind="document") if t.payload.get("path") == str(receipt.resolve())]
        failed = finished(stack, task.id, timeout=180)
        wait_for(lambda: stack.api.run(failed.run_id)["status"] == "FAILURE", 60, "the run to fail", stack.logs)
    finally:
        with engine.begin() as conn:  # the operator repairs the database
            conn.execute(text("ALTER TABLE orbit.documents_away RENAME TO documents"))
    assert (failed.status, failed.error_step) == (TaskStatus.FAILED, "upload_and_extract")
    document_key = task.payload["sha256"]

    page.goto(f"{stack.ui}/runs")
    filter_runs_by_tag(page, "orbit/document_key", document_key)
    # The tag finds that run and no other.
    expect(page.get_by_role("link", name=re.compile(r"^run [0-9a-f]{8}$"))).to_have_count(1)
    expect(page.get_by_text("Failure", exact=True)).to_be_visible()
    screenshot(page, "1-runs-filtered-by-document-key")

    page.get_by_role("link", name=f"run {failed.run_id[:8]}", exact=True).click()
    expect(page.get_by_role("button", name="Re-execute all (*)")).to_be_visible()
    expect(page.get_by_text("upload_and_extract").first).to_be_visible()
    screenshot(page, "2-failed-run")
    # The arrow beside "Re-execute all" opens the other ways to re-execute.
    page.get_by_role("button", name="arrow_drop_down").click()
    page.get_by_role("menuitem", name="From failure").click()

    page.wait_for_url(re.compile(r"/runs/(?!" + failed.run_id + r")[0-9a-f-]{36}"), timeout=STEP_TIMEOUT_MS)
    new_run = page.url.rstrip("/").split("/")[-1]
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    screenshot(page, "3-re-executed-run-succeeded")

    assert run_finished(stack, new_run) == "SUCCESS"
    assert stack.instance.get_run_by_id(new_run).parent_run_id == failed.run_id
    done = finished(stack, task.id)
    assert (done.status, done.run_id) == (TaskStatus.COMPLETED, new_run)


def test_an_operator_reads_the_subtask_table_of_a_decomposition_run(stack, page):
    run_id = stack.api.launch("task_decomposition", {}, {"orbit/idempotency_key": "browser-subtask-table"})
    assert run_finished(stack, run_id) == "SUCCESS"
    subtasks, _ = load_plan(stack.ledger.engine, stack.ledger.find_by_key("browser-subtask-table").id)

    page.goto(f"{stack.ui}/runs/{run_id}")
    page.get_by_placeholder("Filter").fill("step:store_results")
    page.get_by_text("[Show Markdown]").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("columnheader")).to_have_text(
        ["id", "category", "title", "effort (h)", "priority", "depends on"]
    )
    for subtask in subtasks:
        expect(dialog.get_by_role("cell", name=subtask.title, exact=True)).to_be_visible()
    screenshot(page, "4-decomposition-subtask-table")


def test_an_operator_sees_a_green_batchs_failed_item_and_finds_a_failed_lone_document_by_its_task_id(
    stack, page, emulator, tmp_path
):
    def receipts(folder, n):
        folder.mkdir()
        vendor = f"Tag Bakery {uuid.uuid4().hex[:8]}"
        return [
            write_text_receipt(folder / f"r{i}.txt", vendor, "2026-03-05", [("Rye", i + 1, "4.20")]) for i in range(n)
        ]

    batch_files = receipts(tmp_path / "batch", 2)
    emulator.faults.fail_next(1, 400)  # Veryfi refuses one document of the batch, for good
    orbit(stack, "doc", "submit", *map(str, batch_files))
    wanted = {str(p.resolve()) for p in batch_files}
    tasks = [t for t in stack.ledger.list(kind="document") if t.payload.get("path") in wanted]
    (failed,) = [t for t in (finished(stack, t.id, timeout=180) for t in tasks) if t.status == TaskStatus.FAILED]
    assert run_finished(stack, failed.run_id) == "SUCCESS"

    page.goto(f"{stack.ui}/runs")
    filter_runs_by_tag(page, "orbit/failed_items", "1")
    expect(page.get_by_role("link", name=f"run {failed.run_id[:8]}", exact=True)).to_be_visible()
    screenshot(page, "5-green-batch-with-a-failed-item")

    (lone_file,) = receipts(tmp_path / "lone", 1)
    emulator.faults.fail_next(1, 400)
    orbit(stack, "doc", "submit", str(lone_file))
    (lone,) = [t for t in stack.ledger.list(kind="document") if t.payload.get("path") == str(lone_file.resolve())]
    lone = finished(stack, lone.id, timeout=180)
    assert run_finished(stack, lone.run_id) == "FAILURE"

    page.goto(f"{stack.ui}/runs")
    filter_runs_by_tag(page, "orbit/task_id", str(lone.id))
    expect(page.get_by_role("link", name=re.compile(r"^run [0-9a-f]{8}$"))).to_have_count(1)
    expect(page.get_by_role("link", name=f"run {lone.run_id[:8]}", exact=True)).to_be_visible()
    expect(page.get_by_text("Failure", exact=True)).to_be_visible()
    screenshot(page, "6-failed-lone-document-by-task-id")


def test_an_operator_reads_a_worksheet_runs_exercises_and_its_pdf_link(stack, page):
    if not os.path.exists("/usr/bin/pdflatex"):
        pytest.skip("pdflatex not installed (make tex)")
    run_id = stack.api.launch(
        "worksheet_generation",
        {"ops": {"load_worksheet_task": {"config": {"request": {"prompt": "the 9 times table, 8 questions"}}}}},
    )
    assert run_finished(stack, run_id, timeout=180) == "SUCCESS"
    [task] = stack.ledger.tasks_for_run(run_id)

    page.goto(f"{stack.ui}/runs/{run_id}")
    page.get_by_placeholder("Filter").fill("step:store_worksheet")
    expect(
        page.get_by_text(re.compile(r"s3://[a-z0-9.-]+/worksheets/[0-9a-f]{2}/[0-9a-f]{64}\.pdf")).first
    ).to_be_visible()
    page.get_by_text("[Show Markdown]").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("columnheader")).to_have_text(["#", "exercise", "answer"])
    design = (
        stack.ledger.engine.connect()
        .execute(text("SELECT design FROM orbit.worksheets WHERE task_id = :id"), {"id": task.id})
        .scalar()
    )
    for exercise in design["sections"][0]["exercises"]:
        # A question may come twice on one sheet (8 x 9 drawn twice): any of its cells will do.
        expect(dialog.get_by_role("cell", name=exercise["question"], exact=True).first).to_be_visible()
    screenshot(page, "5-worksheet-exercises-and-pdf")


def launch_from_the_launchpad(stack, page, job: str, run_config_yaml: str) -> str:
    """Type the config into the Launchpad's editor, launch, and return the new run's id."""
    from dagster import RunsFilter

    before = {r.run_id for r in stack.instance.get_runs(RunsFilter(job_name=job))}
    page.goto(f"{stack.ui}/locations/__repository__@orbit_pipelines/jobs/{job}/playground")
    page.locator(".CodeMirror").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(run_config_yaml)  # no key events: the editor does not re-indent the YAML
    # The button's accessible name starts with its icon's ligature ("open_in_new"): found by its text.
    page.get_by_role("button").filter(has_text=re.compile(r"^\W*(open_in_new)?\s*Launch Run$")).click()
    wait_for(
        lambda: {r.run_id for r in stack.instance.get_runs(RunsFilter(job_name=job))} - before,
        60,
        f"a {job} run launched from the Launchpad",
        stack.logs,
    )
    (run_id,) = {r.run_id for r in stack.instance.get_runs(RunsFilter(job_name=job))} - before
    return run_id


def control_config(task_id: int, action: str, **more: str) -> str:
    lines = [f"      task_id: {task_id}", f"      action: {action}", *(f"      {k}: {v}" for k, v in more.items())]
    return "ops:\n  control_task:\n    config:\n" + "\n".join(lines) + "\n"


def test_an_operator_rolls_a_task_back_from_the_launchpad_and_finds_the_new_run_by_its_tag(
    stack, page, completed_decomposition
):
    task_id, first = completed_decomposition
    config = control_config(task_id, "rollback", to_step="decompose_task", reason="from the UI", by="operator")
    control = launch_from_the_launchpad(stack, page, "task_control", config)
    screenshot(page, "6-task-control-rollback-launched")
    assert run_finished(stack, control) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    rolled = stack.ledger.get(task_id).run_id
    assert rolled != first and run_finished(stack, rolled) == "SUCCESS"

    page.goto(f"{stack.ui}/runs")
    filter_runs_by_tag(page, "orbit/control", "rollback to decompose_task by operator")
    expect(page.get_by_role("link", name=re.compile(r"^run [0-9a-f]{8}$"))).to_have_count(1)
    expect(page.get_by_role("link", name=f"run {rolled[:8]}", exact=True)).to_be_visible()
    screenshot(page, "7-rolled-back-run-by-its-tag")


def test_an_operator_reads_why_a_run_paused_and_resumes_its_task_from_the_launchpad(
    stack, page, slow_model_decomposition
):
    task_id, paused = slow_model_decomposition
    orbit(stack, "task", "pause", str(task_id), "--by", "ana")
    assert stack.ledger.get(task_id).status == TaskStatus.PAUSED

    page.goto(f"{stack.ui}/runs/{paused}")
    expect(page.get_by_text(re.compile(r"paused after decompose_task at the request of ana")).first).to_be_visible()
    screenshot(page, "8-paused-run-says-why")

    control = launch_from_the_launchpad(stack, page, "task_control", control_config(task_id, "resume", by="operator"))
    assert run_finished(stack, control) == "SUCCESS"
    assert finished(stack, task_id).status == TaskStatus.COMPLETED
    page.goto(f"{stack.ui}/runs")
    filter_runs_by_tag(page, "orbit/control", "resume by operator")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    screenshot(page, "9-resumed-run-by-its-tag")

"""The ledger in the Dagster UI, in Debian's Chromium driven by Playwright against the live stack's
webserver: an operator launches `ledger_report` and reads, on its run page, a pending task, a task
waiting for a person and a dead letter, without SQL.

The Playwright setup is test_ui_in_browser.py's: screenshots to test-artifacts/browser/, skipped without
a Chromium (/usr/bin/chromium, or ORBIT_TEST_CHROMIUM) saying why, except in CI (CI=true), where it fails.
"""

import os
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.run_control import pause_intake
from orbit_pipelines_tests.jobs.ledger_report.support import dead_letter, pending, waiting
from orbit_pipelines_tests.live.stack import run_finished
from orbit_pipelines_tests.support import ROOT

CHROMIUM = Path(os.environ.get("ORBIT_TEST_CHROMIUM", "/usr/bin/chromium"))
NO_CHROMIUM = (
    f"no Chromium at {CHROMIUM}: install Debian's package (`apt-get install chromium`; `make test` does it "
    "when run as root) or point ORBIT_TEST_CHROMIUM at one, to run the browser tests"
)
pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not CHROMIUM.exists() and not os.environ.get("CI"), reason=NO_CHROMIUM),
]
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
STEP_TIMEOUT_MS = 30_000  # one UI step: a click, a dialog
LOGS_TIMEOUT_MS = 120_000  # a run page's logs, which a busy webserver may take a minute to load
KIND = "worksheet"  # the kind whose intake the test holds back while it makes its tasks


@pytest.fixture
def page(request):
    if not CHROMIUM.exists():
        pytest.fail(f"{NO_CHROMIUM}. CI must run them.")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        expect.set_options(timeout=STEP_TIMEOUT_MS)
        yield page
        screenshot(page, f"{request.node.name}-last")
        browser.close()


@pytest.fixture
def own_tasks(stack):
    """A pending task (its kind's intake paused), a task waiting for a person and a dead letter, all of
    KIND; afterwards they are canceled or discarded and the kind's intake is as it was."""
    ledger = stack.ledger
    was_paused = KIND in ledger.paused_kinds()
    if not was_paused:
        pause_intake(ledger, KIND, "test_ledger_in_ui holds its tasks back")
    mark = uuid.uuid4().hex[:8]
    made = {
        "pending": pending(ledger, KIND, title=f"pending sheet {mark}"),
        "waiting": waiting(ledger, f"waiting sheet {mark}"),
        "dead": dead_letter(ledger, KIND, ("InvalidWorksheetRequest", f"no exercises in it {mark}", "design")),
    }
    yield made
    ledger.transition(made["pending"].id, TaskStatus.CANCELED, note="test_ledger_in_ui is done with it")
    ledger.transition(made["waiting"].id, TaskStatus.CANCELED, note="test_ledger_in_ui is done with it")
    ledger.discard(made["dead"].id, "test_ledger_in_ui is done with it")
    if not was_paused:
        ledger.set_paused(False, KIND)


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, timeout=LOGS_TIMEOUT_MS)


def open_table(page, label: str):
    """The step output's metadata row `label` > [Show Markdown]: the dialog with that table."""
    page.get_by_role("row").filter(has_text=label).get_by_text("[Show Markdown]").click()
    return page.get_by_role("dialog")


def row_of(dialog, task, says: str):
    """The table row of `task`: the one that says `says` (text only this test's task has), with its id."""
    row = dialog.get_by_role("row").filter(has_text=says)
    expect(row.get_by_role("cell", name=str(task.id), exact=True)).to_have_count(1)
    return row


def close(page) -> None:
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_an_operator_reads_a_pending_a_waiting_and_a_dead_task_on_the_ledger_report_run_page(stack, page, own_tasks):
    # Other tests' dead letters (and any pending task of KIND) stay on the shared stack and are listed
    # before this test's, oldest first: a cap above them all, as the Launchpad's max_rows would set it.
    cap = stack.ledger.dead_letter_count() + stack.ledger.counts_by_status().get("PENDING", 0) + 1
    run_id = stack.api.launch("ledger_report", {"ops": {"report_ledger": {"config": {"max_rows": cap}}}})
    assert run_finished(stack, run_id) == "SUCCESS"
    held, parked, dead = own_tasks["pending"], own_tasks["waiting"], own_tasks["dead"]

    page.goto(f"{stack.ui}/runs/{run_id}")
    expect(page.get_by_text("[Show Markdown]").first).to_be_visible(timeout=LOGS_TIMEOUT_MS)

    row = row_of(open_table(page, "pending_tasks"), held, held.payload["prompt"])
    expect(row.get_by_role("cell").first).to_have_text(KIND)
    expect(row.get_by_role("cell").last).to_have_text("PAUSED")  # why it has not started: its intake
    screenshot(page, "ledger-1-pending-task")
    close(page)

    row = row_of(open_table(page, "waiting_tasks"), parked, parked.payload["prompt"])
    expect(row).to_contain_text("WAITING_MANUAL: LatexDoesNotCompile")
    expect(row).to_contain_text(f"orbit worksheet edit {parked.id} --latex sheet.tex")
    expect(row.get_by_role("link", name=parked.run_id[:8])).to_have_attribute("href", f"/runs/{parked.run_id}")
    screenshot(page, "ledger-2-waiting-task")
    close(page)

    row = row_of(open_table(page, "dead_letter_tasks"), dead, dead.error_message)
    expect(row).to_contain_text("InvalidWorksheetRequest")
    expect(row).to_contain_text(f"orbit dlq retry {dead.id}")
    screenshot(page, "ledger-3-dead-letter")

"""Prometheus metrics: served over HTTP, parsed with prometheus_client's parser, and compared with the
ledger state and the runs the test made (real jobs on the Postgres-backed instance)."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from dagster import execute_job
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from orbit_pipelines.db import get_engine
from orbit_pipelines.jobs.document_processing.intake import submit_document
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_sample_set
from orbit_pipelines.local.stack import free_port
from orbit_pipelines.observability.metrics import OrbitCollector, serve
from orbit_pipelines.observability.webhooks.events import events_for_change
from orbit_pipelines.observability.webhooks.outbox import Outbox
from orbit_pipelines.runtime.tags import run_tags
from orbit_pipelines_tests.support import ROOT, recon_job

DASHBOARD = ROOT / "deploy" / "grafana" / "orbit-pipelines.json"


class Scrape:
    def __init__(self, body: str):
        self.families = {f.name: f for f in text_string_to_metric_families(body)}
        self.samples = {
            (s.name, frozenset(s.labels.items())): s.value for f in self.families.values() for s in f.samples
        }

    def __call__(self, name: str, **labels) -> float:
        return self.samples[(name, frozenset(labels.items()))]


@pytest.fixture
def scrape(pg_url):
    server = serve(get_engine(pg_url), "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.server_port}/metrics"
    yield lambda: Scrape(requests.get(url, timeout=30).text)
    server.shutdown()


def test_tasks_queues_dead_letters_and_pauses_are_served_as_the_ledger_has_them(
    instance, ledger, scrape, sample_payload
):
    def task(status=TaskStatus.PENDING, lane="async"):
        return ledger.submit("decomposition", sample_payload, lane=lane, status=status)[0]

    oldest, _, _ = task(), task(), task(lane="sync")
    task(TaskStatus.QUEUED)
    for discard in (False, True):
        failed = ledger.transition(task(TaskStatus.QUEUED).id, TaskStatus.FAILED, error=("X", "y", "z"))
        if discard:
            ledger.discard(failed.id, "not needed")
    ledger.move_along(task(TaskStatus.QUEUED).id, TaskStatus.COMPLETED, run_id="r")
    with ledger.engine.begin() as conn:
        conn.execute(
            text("UPDATE orbit.tasks SET created_at = now() - interval '120 seconds' WHERE id = :id"), {"id": oldest.id}
        )
    ledger.set_paused(True, "document", "scanner maintenance")

    m = scrape()
    assert [m("orbit_tasks", kind="decomposition", status=s) for s in ("PENDING", "QUEUED", "FAILED", "COMPLETED")] == [
        3,
        1,
        2,
        1,
    ]
    assert m("orbit_tasks", kind="message", status="PENDING") == 0, "every known kind is served, zeros too"
    assert m("orbit_queue_depth", lane="async", status="PENDING") == 2
    assert m("orbit_queue_depth", lane="sync", status="PENDING") == 1
    assert m("orbit_queue_depth", lane="async", status="QUEUED") == 1
    assert 120 <= m("orbit_queue_oldest_age_seconds", lane="async", status="PENDING") < 180
    assert m("orbit_queue_oldest_age_seconds", lane="sync", status="QUEUED") == 0
    assert m("orbit_dead_letters", kind="decomposition") == 1, "a discarded failure is no dead letter"
    assert (m("orbit_intake_paused", kind="document"), m("orbit_intake_paused", kind="*")) == (1, 0)
    assert m("orbit_metrics_up", source="ledger") == m("orbit_metrics_up", source="dagster") == 1


def test_running_tasks_are_counted_by_the_phase_their_run_is_in(ledger, scrape, sample_payload):
    def running(run_id):
        task = ledger.submit("decomposition", sample_payload, status=TaskStatus.QUEUED)[0]
        return ledger.transition(task.id, TaskStatus.RUNNING, run_id=run_id)

    before = scrape()
    at = datetime.now(timezone.utc)
    extracting, storing = f"run-{time.time_ns()}", f"run-{time.time_ns() + 1}"
    running(extracting), running(extracting), running(storing)
    ledger.enter_phase(extracting, "DECOMPOSING", at)
    ledger.enter_phase(storing, "STORING", at)

    def count(m, phase):
        labels = frozenset({"kind": "decomposition", "phase": phase}.items())
        return m.samples.get(("orbit_tasks_running_by_phase", labels), 0)

    after = scrape()
    assert count(after, "DECOMPOSING") - count(before, "DECOMPOSING") == 2
    assert count(after, "STORING") - count(before, "STORING") == 1


def test_a_document_run_shows_in_run_step_document_and_veryfi_metrics(instance, ledger, emulator, scrape, tmp_path):
    ids = [submit_document(ledger, p)[0].id for p in write_sample_set(tmp_path, n=2)]
    ledger.claim_pending(limit=2, kinds=["document"], batch_size=2)
    before = scrape()
    emulator.fail_next(1, status=502)
    result = execute_job(
        recon_job("document_processing"),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"load_documents": {"config": {"task_ids": ids}}}},
        tags=run_tags(ledger.get_many(ids)),
    )
    assert result.success
    after = scrape()

    def grew(name, **labels):
        return after(name, **labels) - before.samples.get((name, frozenset(labels.items())), 0)

    run = {"job": "document_processing", "status": "SUCCESS"}
    assert grew("orbit_runs_finished", **run) == 1
    assert grew("orbit_run_duration_seconds_gcount", **run) == 1
    assert grew("orbit_step_retries", job="document_processing", step="upload_and_extract") == 1
    assert (
        grew("orbit_step_duration_seconds_gcount", job="document_processing", step="summarize", outcome="success") == 1
    )
    assert after("orbit_documents_processed", status="COMPLETED") == 2
    # Two paid extractions, the one a gateway answered 502 (Veryfi may have done the work all the same),
    # and the lookup the retry makes before sending that one again.
    assert after("orbit_veryfi_calls", operation="process", status_class="2xx") == 2
    assert after("orbit_veryfi_calls", operation="process", status_class="5xx") == 1
    assert after("orbit_veryfi_calls", operation="lookup", status_class="2xx") == 1
    assert after("orbit_veryfi_errors", status_class="5xx") == 1
    assert after("orbit_veryfi_latency_seconds_gcount", status_class="2xx") == 3
    assert after("orbit_veryfi_latency_seconds_bucket", status_class="2xx", le="+Inf") == 3
    assert after("orbit_veryfi_latency_seconds_gsum", status_class="2xx") > 0


def test_the_webhook_backlog_is_served(ledger, scrape, sample_payload):
    task, _ = ledger.submit("decomposition", sample_payload, status=TaskStatus.QUEUED)
    change = {
        **ledger.events(task.id)[0],
        "id": 1,
        "task_id": task.id,
        "kind": task.kind,
        "lane": task.lane,
        "priority": task.priority,
        "idempotency_key": task.idempotency_key,
        "error_class": None,
        "error_message": None,
        "error_step": None,
    }
    outbox = Outbox(ledger.engine)
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    outbox.enqueue(events_for_change(change), ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"], an_hour_ago)
    given_up = outbox.due(an_hour_ago, 10)[1]
    outbox.failed_attempt(given_up.id, 503, "HTTP 503", an_hour_ago + timedelta(days=2))
    m = scrape()
    assert m("orbit_webhook_deliveries_pending") == 1 and m("orbit_webhook_deliveries_failed") == 1
    assert 3500 < m("orbit_webhook_oldest_pending_age_seconds") < 3700


def test_every_metric_the_dashboard_uses_is_served(scrape):
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {re.sub(r"_(bucket|gsum|gcount)$", "", name) for e in exprs for name in re.findall(r"\borbit_\w+", e)}
    served = set(scrape().families)
    assert used and not used - served, f"the dashboard uses metrics that are not served: {sorted(used - served)}"
    assert served - used <= {
        "orbit_run_duration_seconds_gsum",
        "orbit_run_duration_seconds_gcount",
        "orbit_step_duration_seconds_gsum",
        "orbit_step_duration_seconds_gcount",
        "orbit_veryfi_latency_seconds_gsum",
        "orbit_veryfi_latency_seconds_gcount",
    }, "every metric served has a panel"


def test_an_unreachable_database_is_reported_by_the_scrape_instead_of_failing_it():
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    registry.register(OrbitCollector(create_engine("postgresql+psycopg2://nobody@127.0.0.1:9/none"), kinds=["x"]))
    m = Scrape(generate_latest(registry).decode())
    assert m("orbit_metrics_up", source="ledger") == m("orbit_metrics_up", source="dagster") == 0
    assert "orbit_tasks" not in m.families, "no made-up zeros when the ledger cannot be read"


def test_orbit_metrics_serve_listens_where_it_is_told(pg_url):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orbit_pipelines.cli", "metrics", "serve", "--port", str(port)],
        env={**os.environ, "DAGSTER_PG_URL": pg_url},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
                time.sleep(0.3)
        assert Scrape(body)("orbit_metrics_up", source="ledger") == 1
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert f"metrics: http://127.0.0.1:{port}/metrics" in output


def test_orbit_up_serves_metrics_too_and_says_so_when_the_port_is_taken(pg_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "orbit_pipelines.cli",
                "up",
                "--port",
                str(free_port()),
                "--metrics-port",
                str(port),
            ],
            env={**os.environ, "DAGSTER_PG_URL": pg_url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode != 0
    assert f"metrics: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--metrics-port" in result.stderr

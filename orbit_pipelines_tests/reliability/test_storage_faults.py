"""S3 and Postgres misbehaving under a running batch: the real servers behind a faulty network
(FaultProxy). Every document ends COMPLETED once or FAILED with a reason; nothing half-written."""

import os
import time

import pytest
from sqlalchemy import make_url

from orbit_pipelines.jobs.document_processing.store import documents_for_tasks
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.reliability.accounting import account
from orbit_pipelines_tests.reliability.fault_proxy import FaultProxy
from orbit_pipelines_tests.support import process_documents, submitted_documents


@pytest.fixture
def batch(ledger, tmp_path, request):
    def make(n: int) -> list[int]:
        return submitted_documents(ledger, write_unique_sample_set(tmp_path / "docs", n, salt=request.node.name))

    return make


@pytest.fixture
def s3_proxy():
    upstream = make_url(os.environ["ORBIT_S3_ENDPOINT_URL"].replace("http://", "postgresql://"))
    proxy = FaultProxy((upstream.host, upstream.port))
    yield proxy
    proxy.stop()


def through(proxy: FaultProxy) -> dict:
    return {"storage": {"config": {"endpoint_url": f"http://{proxy.address}"}}}


def run_batch(instance, ledger, emulator, ids, fault, scoreboard, resources, fault_started=None):
    started = time.monotonic()
    result = process_documents(instance, ledger, ids, resources=resources)
    assert result.success, "document failures are per document; the run itself must not fail"
    origin = (fault_started() if fault_started else None) or started
    outcome = scoreboard(account(ledger, ids, fault, emulator=emulator, recover_seconds=time.monotonic() - origin))
    assert len(documents_for_tasks(ledger.engine, ids)) == outcome.completed, "a stored row per completed task"
    return outcome


def test_s3_going_down_during_the_upload_loses_nothing(instance, ledger, emulator, batch, s3_proxy, scoreboard):
    ids = batch(20)
    s3_proxy.cut_on(b"PUT /", down_for=4.0)  # the first upload takes S3 down for 4 s
    outcome = run_batch(
        instance,
        ledger,
        emulator,
        ids,
        "S3 down for 4 s during upload",
        scoreboard,
        through(s3_proxy),
        fault_started=lambda: s3_proxy.first_cut_at,
    )
    assert s3_proxy.cuts_done == 1 and s3_proxy.refused > 0
    assert outcome.completed == 20


def test_s3_answering_500_during_the_upload_loses_nothing(instance, ledger, emulator, batch, s3_proxy, scoreboard):
    ids = batch(20)
    s3_proxy.answer_500(seconds=3.0)
    outcome = run_batch(instance, ledger, emulator, ids, "S3 answering 500 for 3 s", scoreboard, through(s3_proxy))
    assert outcome.completed == 20


def test_a_slow_s3_delays_the_batch_but_loses_nothing(instance, ledger, emulator, batch, s3_proxy, scoreboard):
    ids = batch(20)
    s3_proxy.slow(0.05)  # 50 ms per network read, each way
    outcome = run_batch(instance, ledger, emulator, ids, "S3 slow (50 ms per read)", scoreboard, through(s3_proxy))
    assert outcome.completed == 20


def pg_upstream(url: str):
    """Where the Postgres of `url` listens: its Unix socket (embedded server) or host and port."""
    parsed = make_url(url)
    socket_dir = parsed.query.get("host")
    if socket_dir:
        return f"{socket_dir}/.s.PGSQL.{parsed.port or 5432}"
    return parsed.host or "127.0.0.1", parsed.port or 5432


def test_postgres_dropping_out_while_documents_are_stored_leaves_nothing_half_written(
    instance, ledger, emulator, batch, pg_url, scoreboard
):
    ids = batch(20)
    proxy = FaultProxy(pg_upstream(pg_url))
    # The ledger (application tables) goes through the proxy; Dagster's own storage does not.
    ledger_url = make_url(pg_url).set(host="127.0.0.1", port=proxy.port, query={})
    proxy.cut_on(b"INSERT INTO orbit.documents", down_for=2.0)
    try:
        outcome = run_batch(
            instance,
            ledger,
            emulator,
            ids,
            "Postgres unreachable for 2 s during store",
            scoreboard,
            {"ledger": {"config": {"database_url": ledger_url.render_as_string(False)}}},
            fault_started=lambda: proxy.first_cut_at,
        )
    finally:
        proxy.stop()
    assert proxy.cuts_done == 1
    assert outcome.completed == 20

"""The first big backlog on a fresh instance: a new database and DAGSTER_HOME, set up as `orbit up` sets
them up (`orbit db migrate`: the ledger's tables and Dagster's concurrency pools), then one `orbit doc
submit --wait` of a backlog that the dispatch sensor splits into several runs starting together.

Left to Dagster, two runs starting at once could both create the `veryfi` pool's row and one of them
fail its whole batch on the unique key; the pools exist before any run, so every document completes."""

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.local.sample_documents import write_unique_sample_set
from orbit_pipelines_tests.live.stack import RestartableStack, orbit
from orbit_pipelines_tests.support import ROOT, create_database, drop_database

pytestmark = pytest.mark.services

DOCUMENTS, BATCH = 120, 20


@pytest.fixture
def fresh(pg_server, tmp_path):
    url = create_database(pg_server, "orbit_fresh_backlog")
    stack = RestartableStack(url, tmp_path, extra_env={"ORBIT_DOCUMENT_BATCH_SIZE": str(BATCH)})
    # As `orbit up` does before it starts the daemon: the ledger's tables and Dagster's pools.
    stack.migrated = subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "db", "migrate"],
        env={**os.environ, "DAGSTER_HOME": str(stack.dagster_home), "DAGSTER_PG_URL": url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    stack.start()
    yield stack
    stack.stop()
    get_engine(url).dispose()
    drop_database(url)


def test_a_backlog_on_a_fresh_instance_starts_several_runs_and_completes_every_document(fresh, tmp_path):
    assert "concurrency pools: created" in fresh.migrated and "veryfi" in fresh.migrated
    fresh.services.veryfi.faults.latency = 0.05  # long enough for the runs to overlap
    folder = tmp_path / "backlog"
    write_unique_sample_set(folder, DOCUMENTS, salt="fresh backlog")

    submitted = orbit(fresh, "doc", "submit", str(folder), "--wait", "400", check=False, timeout=420)

    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    tasks = fresh.ledger.list(kind="document", limit=DOCUMENTS + 10)
    assert len(tasks) == DOCUMENTS
    assert {t.status for t in tasks} == {TaskStatus.COMPLETED}
    assert len({t.run_id for t in tasks}) >= DOCUMENTS // BATCH, "the backlog was split into several runs"
    assert {fresh.services.veryfi.paid_calls_for(t.payload["sha256"]) for t in tasks} == {1}
    with fresh.ledger.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orbit.documents")).scalar() == DOCUMENTS

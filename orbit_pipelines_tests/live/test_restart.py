"""Re-executing runs made before the stack restarted. `orbit up` starts the local S3 server and the Veryfi
emulator on new ports (and a new emulator key) each time: a run re-executed after a restart must reach
the new ones, because endpoints and credentials are resolved when a run starts, never kept in its config.

The stack here is its own (code server, webserver, daemon on a fresh database), stopped and started
again with new services, as an operator restarts `orbit up`."""

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.local.sample_documents import write_sample_set
from orbit_pipelines_tests.live.stack import RUN_ID, RestartableStack, orbit, run_finished
from orbit_pipelines_tests.support import create_database, drop_database

pytestmark = pytest.mark.services


@pytest.fixture
def restartable(pg_server, tmp_path):
    url = create_database(pg_server, "orbit_restart")
    apply_migrations(get_engine(url))
    stack = RestartableStack(url, tmp_path)
    stack.start()
    yield stack
    stack.stop()
    drop_database(url)


def test_runs_made_before_a_restart_re_execute_and_retry_against_the_new_endpoints(restartable, tmp_path):
    good, bad = write_sample_set(tmp_path / "docs", n=2)
    first = restartable.api.launch(
        "document_processing", {"ops": {"load_documents": {"config": {"paths": [str(good)]}}}}
    )
    assert run_finished(restartable, first, timeout=180) == "SUCCESS"
    engine = restartable.ledger.engine
    with engine.begin() as conn:  # the documents table goes missing: this one fails in store_documents
        conn.execute(text("ALTER TABLE orbit.documents RENAME TO documents_away"))
    try:
        second = restartable.api.launch(
            "document_processing", {"ops": {"load_documents": {"config": {"paths": [str(bad)]}}}}
        )
        assert run_finished(restartable, second, timeout=180) == "FAILURE"
    finally:
        with engine.begin() as conn:  # repaired while the stack is down
            conn.execute(text("ALTER TABLE orbit.documents_away RENAME TO documents"))
    old_endpoints = {k: restartable.services.variables[k] for k in ("ORBIT_S3_ENDPOINT_URL", "VERYFI_BASE_URL")}
    stored_config = restartable.api.run(first)["runConfigYaml"]
    for endpoint in old_endpoints.values():
        assert endpoint.split("//")[1] not in stored_config, "no endpoint is kept in a run's config"

    restartable.stop()
    restartable.start()
    assert restartable.services.variables["ORBIT_S3_ENDPOINT_URL"] != old_endpoints["ORBIT_S3_ENDPOINT_URL"]

    rerun = orbit(restartable, "rerun", first, "--all-steps").stdout.split()[2]
    assert run_finished(restartable, rerun, timeout=180) == "SUCCESS"
    (failed,) = restartable.ledger.list(status=TaskStatus.FAILED)
    (retry_run,) = RUN_ID.findall(orbit(restartable, "dlq", "retry", str(failed.id)).stdout.split(" as ")[-1])
    assert run_finished(restartable, retry_run, timeout=180) == "SUCCESS"
    assert restartable.ledger.get(failed.id).status == TaskStatus.COMPLETED
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM orbit.documents")).scalar() == 2

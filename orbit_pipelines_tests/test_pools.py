"""Dagster's concurrency pools exist before any run needs them: `orbit db migrate` (the deploy's migrate
step; `orbit up` and `orbit demo` do the same) creates them on a fresh instance, so no two runs of a
first backlog race to insert the same `concurrency_limits` row (pools.py)."""

import os
import subprocess
import sys

import pytest

from orbit_pipelines_tests.support import ROOT, create_database, drop_database, instance_for

pytestmark = pytest.mark.services


@pytest.fixture
def fresh_url(pg_server):
    url = create_database(pg_server, "orbit_pools")
    yield url
    drop_database(url)


def orbit_db_migrate(url):
    env = {**os.environ, "DAGSTER_PG_URL": url, "DAGSTER_HOME": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "orbit_pipelines.cli", "db", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def pool_limits(url) -> dict[str, int]:
    instance = instance_for(url)
    try:
        return {p: instance.event_log_storage.get_concurrency_info(p).slot_count for p in ("veryfi", "agents")}
    finally:
        instance.dispose()


def test_orbit_db_migrate_creates_the_pools_of_a_fresh_instance_at_their_default_limit(fresh_url):
    migrated = orbit_db_migrate(fresh_url)
    assert migrated.returncode == 0, migrated.stderr
    assert "concurrency pools: created agents, veryfi" in migrated.stdout
    assert pool_limits(fresh_url) == {"veryfi": 1, "agents": 1}


def test_migrating_again_keeps_a_limit_an_operator_set(fresh_url):
    orbit_db_migrate(fresh_url)
    instance = instance_for(fresh_url)
    instance.event_log_storage.set_concurrency_slots("agents", 3)  # `dagster instance concurrency set agents 3`
    instance.dispose()
    again = orbit_db_migrate(fresh_url)
    assert again.returncode == 0 and "concurrency pools: all there" in again.stdout, again.stdout + again.stderr
    assert pool_limits(fresh_url) == {"veryfi": 1, "agents": 3}

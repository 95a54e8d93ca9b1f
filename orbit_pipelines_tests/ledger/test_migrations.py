"""The migration runner: the ledger's and every job folder's migrations, once each, and an upgrade in
place of a database made when ledger/migrations/ held every job's tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from orbit_pipelines.db import get_engine
from orbit_pipelines.ledger.migrate import (
    LEGACY_VERSIONS,
    apply_migrations,
    available_migrations,
    ledger_tables,
    migration_packages,
)
from orbit_pipelines_tests.support import create_database, drop_database

# The SQL files of ledger/migrations/ as they were before job folders owned their tables.
LEGACY = Path(__file__).parent / "legacy_migrations"
JOBS = Path(__file__).resolve().parents[2] / "orbit_pipelines" / "jobs"


@pytest.fixture
def database(pg_server):
    url = create_database(pg_server, "orbit_migrate")
    yield get_engine(url)
    drop_database(url)


def _legacy_migrate(engine, pattern: str = "*.sql") -> None:
    """What the runner on main did before: one list of versions, no owners (the files matching `pattern`)."""
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA orbit"))
        conn.execute(
            text(
                "CREATE TABLE orbit.schema_migrations (version TEXT PRIMARY KEY, "
                "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        )
        for f in sorted(LEGACY.glob(pattern)):
            conn.exec_driver_sql(f.read_text())
            conn.execute(text("INSERT INTO orbit.schema_migrations (version) VALUES (:v)"), {"v": f.stem})


def _fill_every_table(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO orbit.tasks (id, kind, payload, idempotency_key) VALUES "
                "(1, 'decomposition', '{}', 'a'), (2, 'document', '{}', 'b'), (3, 'agent', '{}', 'c')"
            )
        )
        conn.execute(text("INSERT INTO orbit.task_runs VALUES (1, 'r1', now())"))
        conn.execute(text("INSERT INTO orbit.task_events (task_id, to_status) VALUES (1, 'PENDING')"))
        conn.execute(text("INSERT INTO orbit.subtasks VALUES (1, 's1', 0, 'SERVICE', 't', '{}', 'r1', now())"))
        conn.execute(text("INSERT INTO orbit.prompts VALUES (1, 'SERVICE', '[]', 'p', 'r1', now())"))
        conn.execute(text("INSERT INTO orbit.veryfi_responses (document_key, raw, run_id) VALUES ('k', '{}', 'r2')"))
        conn.execute(
            text(
                "INSERT INTO orbit.documents (document_key, task_id, source_name, s3_bucket, s3_key, size_bytes, "
                "content_type, raw, status, run_id) VALUES ('k', 2, 'a.pdf', 'b', 'k', 1, 'application/pdf', '{}', "
                "'STORED', 'r2')"
            )
        )
        conn.execute(
            text("INSERT INTO orbit.inbox_files (path, size_bytes, mtime_ns, sha256) VALUES ('/a', 1, 1, 'k')")
        )
        conn.execute(text("INSERT INTO orbit.intake_controls (kind, paused) VALUES ('*', false)"))
        conn.execute(text("INSERT INTO orbit.run_summaries VALUES ('r2', 'document', '{}', now())"))
        conn.execute(text("INSERT INTO orbit.llm_conversations (task_id) VALUES (1)"))
        conn.execute(
            text(
                "INSERT INTO orbit.llm_usage (task_id, run_id, model, prompt_tokens, completion_tokens, "
                "cost_usd) VALUES (1, 'r1', 'm', 1, 1, 0)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO orbit.agent_results (task_id, category, decomposition_task_id, prompt_sha256, "
                "status, workdir, run_id) VALUES (3, 'SERVICE', 1, 'h', 'SUCCEEDED', '/w', 'r3')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO orbit.veryfi_calls (run_id, operation, status_class, latency_seconds) "
                "VALUES ('r2', 'process', 'ok', 0.1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO orbit.webhook_deliveries (event_id, event_type, task_id, url, body, next_attempt_at, "
                "give_up_at, created_at) VALUES ('e', 'task.completed', 1, 'http://x', '{}', now(), now(), now())"
            )
        )


def _row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM orbit.{t}")).scalar() for t in ledger_tables(engine)}


def _schema(engine) -> dict[str, object]:
    """Every column (type, default, nullability), index and constraint of the orbit schema."""
    with engine.connect() as conn:
        columns = conn.execute(
            text(
                "SELECT table_name, column_name, data_type, column_default, is_nullable "
                "FROM information_schema.columns "
                "WHERE table_schema = 'orbit' AND table_name <> 'schema_migrations' ORDER BY 1, 2"
            )
        ).all()
        indexes = (
            conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = 'orbit' AND tablename <> 'schema_migrations' "
                    "ORDER BY 1"
                )
            )
            .scalars()
            .all()
        )
        constraints = conn.execute(
            text(
                "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE connamespace = 'orbit'::regnamespace AND conrelid::regclass::text <> 'orbit.schema_migrations' "
                "ORDER BY 1, 2"
            )
        ).all()
    return {"columns": columns, "indexes": indexes, "constraints": constraints}


def test_each_job_folder_with_a_migrations_folder_owns_its_migrations():
    owners = migration_packages()
    assert list(owners)[0] == "ledger"
    with_folder = sorted(p.parent.name for p in JOBS.glob("*/migrations"))
    assert sorted(set(owners) - {"ledger"}) == with_folder
    assert {m.owner for m in available_migrations()} == set(owners)


def test_a_fresh_database_gets_every_migration_once(database):
    applied = apply_migrations(database)
    assert applied == [m.label for m in available_migrations()]
    assert apply_migrations(database) == []
    with database.connect() as conn:
        rows = conn.execute(text("SELECT owner || '/' || version FROM orbit.schema_migrations")).scalars().all()
    assert sorted(rows) == sorted(applied)


def test_the_ledger_keeps_only_what_every_job_shares():
    ledger_sql = " ".join(m.sql for m in available_migrations() if m.owner == "ledger")
    for job_table in (
        "subtasks",
        "prompts",
        "documents",
        "veryfi_responses",
        "inbox_files",
        "llm_conversations",
        "llm_usage",
        "agent_results",
        "veryfi_calls",
    ):
        assert f"orbit.{job_table} (" not in ledger_sql


def test_a_database_made_before_job_folders_owned_their_tables_upgrades_in_place(database, pg_server):
    _legacy_migrate(database)
    _fill_every_table(database)
    before = _row_counts(database)
    assert all(before.values()), f"the fixture leaves a table empty: {before}"

    # Everything it had maps onto the new files and runs not again; only what came after the old layout runs.
    added = _added_since_the_old_layout()
    assert apply_migrations(database) == [m.label for m in available_migrations() if m.label in added]

    after = _row_counts(database)
    assert {table: after[table] for table in before} == before
    fresh = get_engine(create_database(pg_server, "orbit_fresh"))
    try:
        apply_migrations(fresh)
        assert _schema(database) == _schema(fresh)
    finally:
        drop_database(fresh.url.render_as_string(hide_password=False))


def _added_since_the_old_layout() -> set[str]:
    mapped = {f"{o}/{v}" for targets in LEGACY_VERSIONS.values() for o, v in targets}
    return {m.label for m in available_migrations()} - mapped


def test_an_older_partial_database_gets_only_what_it_lacks(database):
    _legacy_migrate(database, "000[12]_*.sql")
    applied = apply_migrations(database)
    expected = {m.label for m in available_migrations()} - {
        f"{owner}/{version}"
        for legacy in ("0001_task_ledger", "0002_documents")
        for owner, version in LEGACY_VERSIONS[legacy]
    }
    assert set(applied) == expected


def test_every_legacy_version_maps_onto_files_that_exist():
    labels = {m.label for m in available_migrations()}
    assert {f.stem for f in LEGACY.glob("*.sql")} == set(LEGACY_VERSIONS)
    mapped = {f"{o}/{v}" for targets in LEGACY_VERSIONS.values() for o, v in targets}
    assert mapped <= labels
    # Migrations written after the old layout map onto nothing: they run on old and new databases alike.
    assert _added_since_the_old_layout() == {
        "document_processing/0003_document_warnings",
        "document_processing/0004_veryfi_sends_in_doubt",
        "ledger/0006_waiting_manual",
        "ledger/0007_task_phase",
        "ledger/0008_task_control",
        "ledger/0009_task_event_notify",
        "ledger/0010_typed_task_events",
        "ledger/0011_pause_within_step",
        "worksheet_generation/0001_worksheets",
        "voice_transcription/0001_transcripts",
    }

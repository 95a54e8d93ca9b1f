"""Versioned migrations for the ledger schema: numbered SQL files applied once, in order."""

from __future__ import annotations

from importlib import resources

from sqlalchemy import Engine, text

SCHEMA = "orbit"
# Any constant works; it only has to be the same for every process that migrates.
_ADVISORY_LOCK_ID = 0x0B1B17


def available_migrations() -> list[tuple[str, str]]:
    folder = resources.files("orbit_pipelines.ledger") / "migrations"
    files = sorted(f for f in folder.iterdir() if f.name.endswith(".sql"))
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


def apply_migrations(engine: Engine) -> list[str]:
    """Apply what is missing; safe to call from several processes at once. Returns the versions applied."""
    applied_now: list[str] = []
    with engine.begin() as conn:
        # Serialises concurrent migrators (the CLI, a test session, a code server starting).
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations ("
                " version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
        )
        done = set(conn.execute(text(f"SELECT version FROM {SCHEMA}.schema_migrations")).scalars())
        for version, sql in available_migrations():
            if version in done:
                continue
            conn.exec_driver_sql(sql)
            conn.execute(text(f"INSERT INTO {SCHEMA}.schema_migrations (version) VALUES (:v)"), {"v": version})
            applied_now.append(version)
    return applied_now

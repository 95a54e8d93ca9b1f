"""Versioned migrations: numbered SQL files applied once, in order, per owner.

The ledger owns what every job shares (`ledger/migrations/`); each job folder owns its own tables
(`jobs/<name>/migrations/NNNN_*.sql`), found the way kinds are, by looking for the folder. One
runner applies them all under one advisory lock: the ledger first, then the jobs by name, each
owner's files in version order. A row (owner, version) in `orbit.schema_migrations` records each.
"""

from __future__ import annotations

import importlib.util
import pkgutil
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import Connection, Engine, text

SCHEMA = "orbit"
LEDGER = "ledger"
# Any constant works; it only has to be the same for every process that migrates.
_ADVISORY_LOCK_ID = 0x0B1B17

# Before job folders owned their tables, one list of versions lived in ledger/migrations/. A database
# made then records those versions with no owner; each maps to the (owner, version) files that now
# hold the same statements, so such a database upgrades in place without running anything twice.
LEGACY_VERSIONS: dict[str, list[tuple[str, str]]] = {
    "0001_task_ledger": [(LEDGER, "0001_task_ledger"), ("task_decomposition", "0001_results")],
    "0002_documents": [(LEDGER, "0002_dispatch_key"), ("document_processing", "0001_documents")],
    "0003_operations": [(LEDGER, "0003_operations")],
    "0004_run_summaries": [(LEDGER, "0004_run_summaries")],
    "0020_llm_calls": [("task_decomposition", "0002_llm_calls")],
    "0021_agent_results": [("agent_execution", "0001_agent_results")],
    "0040_observability": [(LEDGER, "0005_observability"), ("document_processing", "0002_veryfi_calls")],
}


@dataclass(frozen=True)
class Migration:
    owner: str
    version: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.owner}/{self.version}"


def migration_packages() -> dict[str, str]:
    """owner -> package holding its `migrations` folder: the ledger, then every job folder that has one."""
    import orbit_pipelines.jobs as jobs_package

    found = {LEDGER: "orbit_pipelines.ledger"}
    for module in sorted(pkgutil.iter_modules(jobs_package.__path__), key=lambda m: m.name):
        package = f"{jobs_package.__name__}.{module.name}"
        if module.ispkg and importlib.util.find_spec(f"{package}.migrations") is not None:
            found[module.name] = package
    return found


def available_migrations() -> list[Migration]:
    """Every migration file, in the order they are applied."""
    found = []
    for owner, package in migration_packages().items():
        folder = resources.files(package) / "migrations"
        for f in sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name):
            found.append(Migration(owner, f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")))
    return found


def _record_table(conn: Connection) -> None:
    """The version table, in its per-owner shape; a legacy one (versions only) is converted in place."""
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    conn.execute(
        text(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations ("
            " owner TEXT NOT NULL, version TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),"
            " PRIMARY KEY (owner, version))"
        )
    )
    has_owner = conn.execute(
        text(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = :s AND table_name = 'schema_migrations'"
            " AND column_name = 'owner'"
        ),
        {"s": SCHEMA},
    ).first()
    if has_owner:
        return
    legacy = conn.execute(text(f"SELECT version, applied_at FROM {SCHEMA}.schema_migrations")).all()
    unknown = sorted(v for v, _ in legacy if v not in LEGACY_VERSIONS)
    if unknown:
        raise RuntimeError(
            f"orbit.schema_migrations holds versions this code does not know: {unknown}; "
            "upgrade with the release that made them first"
        )
    conn.execute(text(f"DROP TABLE {SCHEMA}.schema_migrations"))
    _record_table(conn)
    rows = [
        {"o": owner, "v": version, "t": applied_at}
        for legacy_version, applied_at in legacy
        for owner, version in LEGACY_VERSIONS[legacy_version]
    ]
    if rows:
        conn.execute(
            text(f"INSERT INTO {SCHEMA}.schema_migrations (owner, version, applied_at) VALUES (:o, :v, :t)"), rows
        )


def apply_migrations(engine: Engine) -> list[str]:
    """Apply what is missing; safe to call from several processes at once. Returns `owner/version` of
    each migration applied now."""
    applied_now: list[str] = []
    with engine.begin() as conn:
        # Serialises concurrent migrators (the CLI, a test session, a code server starting).
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ADVISORY_LOCK_ID})
        _record_table(conn)
        done = {(o, v) for o, v in conn.execute(text(f"SELECT owner, version FROM {SCHEMA}.schema_migrations"))}
        for migration in available_migrations():
            if (migration.owner, migration.version) in done:
                continue
            conn.exec_driver_sql(migration.sql)
            conn.execute(
                text(f"INSERT INTO {SCHEMA}.schema_migrations (owner, version) VALUES (:o, :v)"),
                {"o": migration.owner, "v": migration.version},
            )
            applied_now.append(migration.label)
    return applied_now


def ledger_tables(engine: Engine) -> list[str]:
    """Every table the migrations made (the version table aside), by name."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = :s AND tablename <> 'schema_migrations' "
                    "ORDER BY tablename"
                ),
                {"s": SCHEMA},
            ).scalars()
        )

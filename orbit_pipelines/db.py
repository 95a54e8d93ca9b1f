"""Postgres URLs and engines for the ledger. Dagster's own storage reads DAGSTER_PG_URL itself."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine, create_engine

# SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which dagster-postgres does not ship;
# psycopg2 is what both Dagster and the ledger use here.
_DRIVERLESS_SCHEMES = {"postgres", "postgresql"}
DRIVER_SCHEME = "postgresql+psycopg2"


def normalize_pg_url(url: str) -> str:
    """Accept the plain `postgresql://` (or `postgres://`) form users write; pin the driver."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme in _DRIVERLESS_SCHEMES:
        return urlunsplit((DRIVER_SCHEME,) + tuple(parts)[1:])
    if not parts.scheme.startswith("postgresql"):
        raise ValueError(f"DAGSTER_PG_URL must be a postgresql:// URL, got scheme {parts.scheme!r}")
    return url


_engines: dict[tuple[int, str], Engine] = {}
_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """One pooled engine per URL and process (a forked child must not reuse its parent's sockets)."""
    key = (os.getpid(), normalize_pg_url(url))
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            # A batch op's worker threads (up to ORBIT_VERYFI_CONCURRENCY, 64 at most) each store an
            # answer now and then: room for all of them, of which 5 are kept open between bursts.
            engine = create_engine(key[1], pool_pre_ping=True, pool_size=5, max_overflow=64)
            _engines[key] = engine
        return engine

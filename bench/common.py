"""What every benchmark records next to its figures: the machine and the versions."""

from __future__ import annotations

import json
import math
import os
import platform
import time
import uuid
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def machine() -> dict:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dagster": version("dagster"),
        "dagster-postgres": version("dagster-postgres"),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_results(name: str, figures: dict) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **figures}, indent=2, default=str) + "\n")
    return path


@contextmanager
def bench_environment(local_services: bool = True):
    """The project's environment (embedded Postgres unless DAGSTER_PG_URL), with a throwaway database
    migrated for this benchmark and dropped after it, so no figure depends on earlier data."""
    from sqlalchemy import make_url

    from orbit_pipelines.db import get_engine
    from orbit_pipelines.environment import ensure_database, prepare_environment
    from orbit_pipelines.ledger.migrate import apply_migrations

    env = prepare_environment(migrate=False, local_services=local_services)
    url = make_url(env.pg_url).set(database=f"orbit_bench_{uuid.uuid4().hex[:8]}").render_as_string(False)
    ensure_database(url)
    apply_migrations(get_engine(url))
    os.environ["DAGSTER_PG_URL"] = env.pg_url = url
    try:
        yield env
    finally:
        get_engine(url).dispose()
        _drop_database(url)
        env.close()


def _drop_database(url: str) -> None:
    from sqlalchemy import make_url, text

    from orbit_pipelines.db import get_engine

    name = make_url(url).database
    admin = get_engine(make_url(url).set(database="postgres").render_as_string(False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0..100), nearest rank: what a user waited at most, p% of the time."""
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]

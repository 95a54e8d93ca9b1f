"""A step that fails on Dagster's own storage (its runs, events and pools in Postgres) failed for the
instance's reasons, not its items': such a run is retried whole, as a crashed one is, and its tasks
are left for the retry instead of being failed.

Dagster retries a failed run only when it crashed, unless the run carries its
`dagster/retry_on_asset_or_op_failure` tag (we keep the instance's default off: an op's own failures
are retried by its retry policy). The failure hook sets that tag, and `orbit/infrastructure_error`
saying why, before the run's failure is stored, which is when Dagster decides `dagster/will_retry`.
"""

from __future__ import annotations

import traceback
from typing import Iterator, Optional

from sqlalchemy.exc import SQLAlchemyError

# Dagster's own tag (dagster._core.storage.tags.RETRY_ON_ASSET_OR_OP_FAILURE_TAG), not exported.
RETRY_ON_OP_FAILURE_TAG = "dagster/retry_on_asset_or_op_failure"
INFRASTRUCTURE_ERROR_TAG = "orbit/infrastructure_error"

# Where Dagster's storage code lives: an error raised there on a database call is the instance's.
_STORAGE_CODE = ("/dagster/_core/storage/", "/dagster_postgres/", "/dagster/_core/instance/")


def _database_error_types() -> tuple[type[BaseException], ...]:
    try:
        import psycopg2

        return (SQLAlchemyError, psycopg2.Error)
    except ImportError:  # pragma: no cover - psycopg2 comes with dagster-postgres
        return (SQLAlchemyError,)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def dagster_storage_error(exc: Optional[BaseException]) -> Optional[BaseException]:
    """The database error behind `exc` if Dagster's storage code raised it, else None."""
    if exc is None:
        return None
    database_errors = _database_error_types()
    for error in _chain(exc):
        if not isinstance(error, database_errors):
            continue
        frames = traceback.extract_tb(error.__traceback__)
        if any(any(part in frame.filename for part in _STORAGE_CODE) for frame in frames):
            return error
    return None


def describe(error: BaseException) -> str:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first_line}"[:300]

"""Dagster's Postgres storage, keeping its connections open.

dagster-postgres opens a new database connection for every storage call outside the webserver (a
NullPool: a DagsterInstance holds no connection between calls). Every sensor tick of the daemon, every
event a run worker writes and every storage read of a code server then costs a Postgres backend
started and stopped: measured during the suite on 2026-12-04, Postgres accepted 125 new sessions a
second (`pg_stat_database.sessions`); an idle `orbit up` opened 12.4 a second before this storage and
2.2 with it. The webserver already keeps a pool (`optimize_for_webserver`); this storage gives every
process the same, configured in dagster.yaml as

    storage:
      custom:
        module: orbit_pipelines.storage
        class: PooledPostgresStorage
        config:
          postgres_url: {env: DAGSTER_PG_URL}

Each of its three storages (runs, event log, schedules) keeps `pool_size` connections (default 1) and
opens up to `max_overflow` more while calls overlap, closing those when they return; a connection that
died (a Postgres restart) is noticed before use (`pool_pre_ping`) and replaced. The pools belong to the
process, not to one instance: every instance of the process on that database shares them, and they
stay open until the process ends. A pool is keyed by its process id, and the one process that forks
(the run workers' zygote, orbit_pipelines/run_worker_zygote.py) opens no connection before it forks, so no
pool is shared between two processes."""

from __future__ import annotations

import os
import threading
from typing import Any

from dagster import Field, IntSource
from dagster._core.storage.config import pg_config
from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

DEFAULT_POOL_SIZE = 1
DEFAULT_MAX_OVERFLOW = 20
# Below a server's or a proxy's usual idle timeout: an old connection is replaced before it is cut.
POOL_RECYCLE_SECONDS = 1800

# One pool per process, database and storage, whichever instance asks: a code server builds a new
# DagsterInstance from its ref for every sensor evaluation and disposes it after, so pools kept by the
# instance would be opened and closed once a tick per sensor, as dagster-postgres's connections are.
_engines: dict[tuple, Any] = {}
# The databases whose tables this process has checked (or created): a new instance of one skips the check
# (a connection and the catalog queries of three storages, at every sensor evaluation of a code server).
_checked: set[tuple[int, str]] = set()
_lock = threading.Lock()


def _pooled_engine(kind: str, postgres_url: str, pool_size: int, max_overflow: int) -> Any:
    key = (os.getpid(), kind, postgres_url, pool_size, max_overflow)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = create_pg_engine(
                postgres_url,
                None,
                isolation_level="AUTOCOMMIT",  # as dagster-postgres makes it
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_recycle=POOL_RECYCLE_SECONDS,
                pool_pre_ping=True,
            )
            _engines[key] = engine
        return engine


class _Pooled:
    """A dagster-postgres storage whose engine (`_engine`, what every one of its calls connects with) is
    its process's pooled one for its database."""

    _engine: Any

    def use_pool(self, postgres_url: str, token_provider: Any, pool_size: int, max_overflow: int) -> None:
        if token_provider is not None:
            # Token auth (`auth_provider`) builds a provider per instance: a pool per provider would be one
            # per instance, never closed. Those keep dagster-postgres's own engine, a connection per call.
            return
        self._engine = _pooled_engine(type(self).__name__, postgres_url, pool_size, max_overflow)


class PooledRunStorage(_Pooled, PostgresRunStorage):
    pass


class PooledEventLogStorage(_Pooled, PostgresEventLogStorage):
    pass


class PooledScheduleStorage(_Pooled, PostgresScheduleStorage):
    pass


class PooledPostgresStorage(DagsterPostgresStorage):
    """DagsterPostgresStorage whose run, event log and schedule storages each keep a connection pool."""

    def __init__(
        self,
        postgres_url: str,
        should_autocreate_tables: bool = True,
        inst_data: ConfigurableClassData | None = None,
        token_provider: Any = None,
        pool_size: int = DEFAULT_POOL_SIZE,
        max_overflow: int = DEFAULT_MAX_OVERFLOW,
    ):
        # DagsterPostgresStorage.__init__, with the pooled storages.
        self.postgres_url = postgres_url
        self.should_autocreate_tables = should_autocreate_tables
        self._inst_data = inst_data
        database = (os.getpid(), postgres_url)
        check = should_autocreate_tables and database not in _checked
        self._run_storage = PooledRunStorage(postgres_url, check, token_provider=token_provider)
        self._event_log_storage = PooledEventLogStorage(postgres_url, check, token_provider=token_provider)
        self._schedule_storage = PooledScheduleStorage(postgres_url, check, token_provider=token_provider)
        _checked.add(database)
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage.use_pool(postgres_url, token_provider, pool_size, max_overflow)
        super(DagsterPostgresStorage, self).__init__()

    @classmethod
    def config_type(cls):
        return {
            **pg_config(),
            "pool_size": Field(IntSource, is_required=False, default_value=DEFAULT_POOL_SIZE),
            "max_overflow": Field(IntSource, is_required=False, default_value=DEFAULT_MAX_OVERFLOW),
        }

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls(
            inst_data=inst_data,
            postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
            pool_size=config_value.get("pool_size", DEFAULT_POOL_SIZE),
            max_overflow=config_value.get("max_overflow", DEFAULT_MAX_OVERFLOW),
        )

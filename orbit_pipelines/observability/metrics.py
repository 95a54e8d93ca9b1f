"""Prometheus metrics computed at scrape time from the ledger and Dagster's run storage.

Nothing is counted in memory: run workers, sensors and the CLI are separate processes, and the
database already knows everything. Each scrape runs a few bounded queries (GROUP BY over indexed
columns, partial indexes for the small sets, a time window and a row cap for durations), each under
a statement timeout, so a slow database makes a scrape fail fast instead of piling up. Dagster's
runs and events are read through the DagsterInstance's public API (run records, run counts, a run's
event log), never its tables; the step figures of a finished run, which never change, are read once.

State (tasks, queues, dead letters, pauses, runs in flight) is reported as it is now. Activity
(runs finished, durations, retries, documents, Veryfi calls, webhook deliveries) is reported over
the last `window_seconds` as gauges and gauge histograms: use them as they are (no rate()).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, Union

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

# Histogram: re-exported, it was defined here before the figures moved to their own modules.
from orbit_pipelines.observability.histogram import Histogram as Histogram
from orbit_pipelines.observability.ledger_figures import LedgerFigures
from orbit_pipelines.observability.run_figures import RunFigures

if TYPE_CHECKING:
    from dagster import DagsterInstance

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 3600
STATEMENT_TIMEOUT_MS = 5000


class OrbitCollector(LedgerFigures, RunFigures, Collector):
    """`engine`: the ledger's database. `instance`: the Dagster instance whose runs are reported, or a
    function making it at the first scrape (build_registry: the instance of DAGSTER_HOME); without one
    there are no run metrics and orbit_metrics_up{source="dagster"} is 0.

    The figures come from LedgerFigures (ledger_figures: SQL over the orbit.* tables) and RunFigures
    (run_figures: Dagster's runs and steps, through the instance); collect composes them."""

    def __init__(
        self,
        engine: Engine,
        kinds: Sequence[str] = (),
        jobs: Sequence[str] = (),
        window_seconds: int = DEFAULT_WINDOW_SECONDS,
        instance: Union["DagsterInstance", Callable[[], "DagsterInstance"], None] = None,
    ):
        if window_seconds <= 0:
            raise ValueError(f"window_seconds: must be positive, got {window_seconds}")
        self.engine = engine
        self.kinds = tuple(kinds)
        self.jobs = tuple(jobs)
        self.window = window_seconds
        self._make_instance = instance if callable(instance) else None
        self._instance = None if callable(instance) else instance
        # run id -> its step figures (see RunFigures._step_figures), for the finished runs of the last sample
        self._finished_steps = {}

    def collect(self) -> Iterable[Metric]:
        started = time.monotonic()
        up = GaugeMetricFamily(
            "orbit_metrics_up", "1 when the source could be read at this scrape, else 0.", labels=["source"]
        )
        try:
            with self.engine.connect() as conn:
                # LOCAL: ends with this read-only transaction, so the pooled connection is left as it was.
                conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
                families = list(self._ledger_metrics(conn))
                conn.rollback()
        except SQLAlchemyError as exc:
            log.warning("metrics: could not read ledger: %s", exc)
            up.add_metric(["ledger"], 0)
        else:
            up.add_metric(["ledger"], 1)
            yield from families
        try:
            instance = self._dagster_instance()
            dagster_families = list(self._dagster_metrics(instance)) if instance is not None else None
        except Exception as exc:  # noqa: BLE001 - whatever fails in Dagster's storage stack, the scrape goes on
            log.warning("metrics: could not read dagster: %s", exc)
            dagster_families = None
        up.add_metric(["dagster"], 0 if dagster_families is None else 1)
        yield from dagster_families or ()
        yield up
        yield GaugeMetricFamily(
            "orbit_metrics_window_seconds",
            "Length of the window of the activity metrics (runs finished, durations, calls).",
            value=self.window,
        )
        yield GaugeMetricFamily(
            "orbit_metrics_collect_seconds",
            "Time this scrape spent reading the database.",
            value=time.monotonic() - started,
        )

    def _dagster_instance(self) -> "DagsterInstance | None":
        if self._instance is None and self._make_instance is not None:
            instance = self._make_instance()
            # A long-lived reader, as dagster-webserver is (which calls the same): one pooled connection
            # instead of one per query, and the ledger's statement timeout on every query.
            instance.optimize_for_webserver(statement_timeout=STATEMENT_TIMEOUT_MS, pool_recycle=3600, max_overflow=4)
            self._instance = instance
        return self._instance


def build_registry(
    engine: Engine, window_seconds: int = DEFAULT_WINDOW_SECONDS, instance: "DagsterInstance | None" = None
) -> CollectorRegistry:
    """A registry with only Orbit's collector (no process metrics of whichever process serves it).

    Dagster's runs are read from `instance`, by default the one of DAGSTER_HOME (made at the first scrape:
    a database down when the server starts is reported, not fatal). orbit exports DAGSTER_HOME and
    DAGSTER_PG_URL, whose dagster.yaml keeps Dagster's storage in the ledger's database."""
    from orbit_pipelines.jobs.registry import all_kinds

    kinds = all_kinds().values()
    registry = CollectorRegistry()
    registry.register(
        OrbitCollector(
            engine,
            kinds=[k.kind for k in kinds],
            jobs=[k.job_name for k in kinds],
            window_seconds=window_seconds,
            instance=instance or _dagster_home_instance,
        )
    )
    return registry


def _dagster_home_instance() -> "DagsterInstance":
    from dagster import DagsterInstance  # here: Dagster takes a second to import, the server starts without it

    return DagsterInstance.get()


def serve(
    engine: Engine,
    host: str,
    port: int,
    window_seconds: int = DEFAULT_WINDOW_SECONDS,
    instance: "DagsterInstance | None" = None,
):
    """Serve /metrics over HTTP from a background thread; returns the server (call .shutdown() to stop)."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=host, registry=build_registry(engine, window_seconds, instance))
    return server

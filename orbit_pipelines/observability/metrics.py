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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Sequence, Union

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.ledger.store import LANES

if TYPE_CHECKING:
    from dagster import DagsterInstance, RunRecord

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 3600
# Most recent finished runs whose run and step durations are read per scrape.
RUN_SAMPLE = 500
# Queued and in-flight runs read per scrape to count them by job; past it, counted by get_runs_count.
ACTIVE_RUN_CAP = 2000
STATEMENT_TIMEOUT_MS = 5000

ACTIVE_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
FINISHED_RUN_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")
STEP_EVENTS = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY")

RUN_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
STEP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
VERYFI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
VERYFI_CLASSES = ("2xx", "4xx", "5xx", "transport")


@dataclass
class Histogram:
    """Cumulative bucket counts and a sum, as Prometheus wants them."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[i] += 1
        self.counts[-1] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, int]]:
        # counts has one more entry (+Inf) than bounds: zip stops at the bounds.
        return [(_le(b), c) for b, c in zip(self.bounds, self.counts, strict=False)] + [("+Inf", self.counts[-1])]


def _le(bound: float) -> str:
    return str(float(bound))


class OrbitCollector(Collector):
    """`engine`: the ledger's database. `instance`: the Dagster instance whose runs are reported, or a
    function making it at the first scrape (build_registry: the instance of DAGSTER_HOME); without one
    there are no run metrics and orbit_metrics_up{source="dagster"} is 0."""

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
        # run id -> its step figures (see _step_figures), for the finished runs of the last sample
        self._finished_steps: dict[str, tuple[list[tuple[str, str, float]], dict[str, int]]] = {}

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

    # -- the ledger ------------------------------------------------------------------------------

    def _ledger_metrics(self, conn: Connection) -> Iterable[Metric]:
        window = {"window": self.window}
        tasks = GaugeMetricFamily("orbit_tasks", "Ledger tasks by kind and status.", labels=["kind", "status"])
        counts = {(k, s): 0 for k in self.kinds for s in TaskStatus}
        for kind, status, n in conn.execute(text("SELECT kind, status, count(*) FROM orbit.tasks GROUP BY 1, 2")):
            counts[(kind, TaskStatus(status))] = n
        for (kind, status), n in sorted(counts.items()):
            tasks.add_metric([kind, status.value], n)
        yield tasks

        depth = GaugeMetricFamily(
            "orbit_queue_depth",
            "Tasks waiting per lane: PENDING (not dispatched yet) and QUEUED (run requested, not started).",
            labels=["lane", "status"],
        )
        age = GaugeMetricFamily(
            "orbit_queue_oldest_age_seconds",
            "Age of the oldest waiting task per lane and status, since it was submitted (0 when none waits).",
            labels=["lane", "status"],
        )
        waiting = {(lane, s): (0, 0.0) for lane in LANES for s in ("PENDING", "QUEUED")}
        for lane, status, n, oldest in conn.execute(
            text(
                "SELECT lane, status, count(*), extract(epoch FROM now() - min(created_at)) FROM orbit.tasks "
                "WHERE status IN ('PENDING', 'QUEUED') GROUP BY 1, 2"
            )
        ):
            waiting[(lane, status)] = (n, float(oldest))
        for (lane, status), (n, oldest) in sorted(waiting.items()):
            depth.add_metric([lane, status], n)
            age.add_metric([lane, status], oldest)
        yield depth
        yield age

        dead = GaugeMetricFamily(
            "orbit_dead_letters", "FAILED tasks nobody has retried to success or discarded.", labels=["kind"]
        )
        letters = dict.fromkeys(self.kinds, 0)
        letters.update(
            conn.execute(
                text(
                    "SELECT kind, count(*) FROM orbit.tasks WHERE status = 'FAILED' AND discarded_at IS NULL GROUP BY 1"
                )
            ).all()
        )
        for kind, n in sorted(letters.items()):
            dead.add_metric([kind], n)
        yield dead

        paused = GaugeMetricFamily(
            "orbit_intake_paused",
            '1 when dispatch is paused (`orbit pause`); kind="*" is the switch for every kind.',
            labels=["kind"],
        )
        states = dict.fromkeys(("*", *self.kinds), 0)
        states.update({k: int(p) for k, p in conn.execute(text("SELECT kind, paused FROM orbit.intake_controls"))})
        for kind, state in sorted(states.items()):
            paused.add_metric([kind], state)
        yield paused

        docs = GaugeMetricFamily(
            "orbit_documents_processed",
            "Documents that finished in the window, by outcome (COMPLETED: stored; FAILED: see dead letters).",
            labels=["status"],
        )
        finished = {"COMPLETED": 0, "FAILED": 0}
        finished.update(
            conn.execute(
                text(
                    "SELECT status, count(*) FROM orbit.tasks "
                    "WHERE finished_at > now() - make_interval(secs => :window) "
                    "AND kind = 'document' AND status IN ('COMPLETED', 'FAILED') GROUP BY 1"
                ),
                window,
            ).all()
        )
        for status, n in sorted(finished.items()):
            docs.add_metric([status], n)
        yield docs

        yield from self._veryfi_metrics(conn)
        yield from self._webhook_metrics(conn)

    def _veryfi_metrics(self, conn: Connection) -> Iterable[Metric]:
        window = {"window": self.window}
        calls = GaugeMetricFamily(
            "orbit_veryfi_calls",
            "Veryfi API calls in the window by operation (process: "
            "paid extraction; lookup/fetch: checks after a timeout) and HTTP status class "
            "(transport: no answer).",
            labels=["operation", "status_class"],
        )
        errors = GaugeMetricFamily(
            "orbit_veryfi_errors",
            "Veryfi API calls in the window that failed (any class but 2xx), by status class.",
            labels=["status_class"],
        )
        counted = {("process", c): 0 for c in VERYFI_CLASSES}
        counted.update(
            {
                (op, cls): n
                for op, cls, n in conn.execute(
                    text(
                        "SELECT operation, status_class, count(*) FROM orbit.veryfi_calls "
                        "WHERE at > now() - make_interval(secs => :window) GROUP BY 1, 2"
                    ),
                    window,
                )
            }
        )
        failed: dict[str, int] = {c: 0 for c in VERYFI_CLASSES if c != "2xx"}
        for (op, cls), n in sorted(counted.items()):
            calls.add_metric([op, cls], n)
            if cls != "2xx":
                failed[cls] = failed.get(cls, 0) + n
        for cls, n in sorted(failed.items()):
            errors.add_metric([cls], n)
        yield calls
        yield errors

        latency = GaugeHistogramMetricFamily(
            "orbit_veryfi_latency_seconds",
            "Latency of Veryfi API calls in the window, by status class.",
            labels=["status_class"],
        )
        # One row per (class, bound): every call is joined to every bound, so each group counts the
        # calls at or below its bound, and also holds the class's total count and sum.
        per_class: dict[str, Histogram] = {}
        cumulative = conn.execute(
            text(
                """
            SELECT v.status_class, b.le, count(*) FILTER (WHERE v.latency_seconds <= b.le),
                   count(*), sum(v.latency_seconds)
            FROM orbit.veryfi_calls v CROSS JOIN unnest(CAST(:bounds AS double precision[])) AS b(le)
            WHERE v.at > now() - make_interval(secs => :window)
            GROUP BY 1, 2 ORDER BY 1, 2
            """
            ),
            {**window, "bounds": list(VERYFI_BUCKETS)},
        )
        for cls, le, below, n, total in cumulative:
            hist = per_class.setdefault(cls, Histogram(VERYFI_BUCKETS))
            hist.counts[VERYFI_BUCKETS.index(le)] = below
            hist.counts[-1], hist.total = n, float(total)
        for cls, hist in sorted(per_class.items()):
            latency.add_metric([cls], hist.buckets(), hist.total)
        yield latency

    def _webhook_metrics(self, conn: Connection) -> Iterable[Metric]:
        pending, oldest, given_up, delivered = conn.execute(
            text(
                """
            SELECT count(*) FILTER (WHERE status = 'pending'),
                   coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE status = 'pending')), 0),
                   count(*) FILTER (WHERE status = 'failed'),
                   count(*) FILTER (WHERE status = 'delivered' AND delivered_at > now() - make_interval(secs => :w))
            FROM orbit.webhook_deliveries
            WHERE status IN ('pending', 'failed') OR created_at > now() - make_interval(secs => :w)
            """
            ),
            {"w": self.window},
        ).one()
        yield GaugeMetricFamily(
            "orbit_webhook_deliveries_pending",
            "Webhook deliveries not yet acknowledged by their receiver (retried with backoff).",
            value=pending,
        )
        yield GaugeMetricFamily(
            "orbit_webhook_oldest_pending_age_seconds",
            "Age of the oldest pending webhook delivery (0 when none is pending).",
            value=float(oldest),
        )
        yield GaugeMetricFamily(
            "orbit_webhook_deliveries_failed",
            "Webhook deliveries given up after the retry period (`orbit webhooks retry --failed` sends them again).",
            value=given_up,
        )
        yield GaugeMetricFamily(
            "orbit_webhook_deliveries_delivered", "Webhook deliveries acknowledged in the window.", value=delivered
        )

    # -- Dagster's runs, through the instance -------------------------------------------------------

    def _by_job_and_status(
        self,
        instance: "DagsterInstance",
        records: Sequence["RunRecord"],
        statuses: Sequence[str],
        complete: bool,
        **bounds,
    ) -> dict[tuple[str, str], int]:
        """Runs per (job, status): counted from `records` when they are all the runs there are
        (`complete`), else one get_runs_count per job (the known ones and those in `records`) and status."""
        from dagster import DagsterRunStatus, RunsFilter

        if complete:
            return dict(Counter((r.dagster_run.job_name, r.dagster_run.status.value) for r in records))
        jobs = set(self.jobs) | {r.dagster_run.job_name for r in records}
        return {
            (job, status): instance.get_runs_count(
                RunsFilter(job_name=job, statuses=[DagsterRunStatus(status)], **bounds)
            )
            for job in sorted(jobs)
            for status in statuses
        }

    def _dagster_metrics(self, instance: "DagsterInstance") -> Iterable[Metric]:
        from dagster import DagsterRunStatus, RunsFilter

        active = GaugeMetricFamily(
            "orbit_runs_active", "Dagster runs queued or in flight, by job and status.", labels=["job", "status"]
        )
        in_flight = instance.get_run_records(
            RunsFilter(statuses=[DagsterRunStatus(s) for s in ACTIVE_RUN_STATUSES]), limit=ACTIVE_RUN_CAP
        )
        counts = {(j, s): 0 for j in self.jobs for s in ACTIVE_RUN_STATUSES}
        counts.update(
            self._by_job_and_status(instance, in_flight, ACTIVE_RUN_STATUSES, complete=len(in_flight) < ACTIVE_RUN_CAP)
        )
        for (job, status), n in sorted(counts.items()):
            active.add_metric([job, status], n)
        yield active

        # A run's update timestamp is the time it ended; the runs table's (status, update_timestamp)
        # index bounds these reads.
        since = datetime.now(timezone.utc) - timedelta(seconds=self.window)
        ended = instance.get_run_records(
            RunsFilter(statuses=[DagsterRunStatus(s) for s in FINISHED_RUN_STATUSES], updated_after=since),
            limit=RUN_SAMPLE,
            order_by="update_timestamp",
            ascending=False,
        )
        finished = GaugeMetricFamily(
            "orbit_runs_finished", "Dagster runs that ended in the window, by job and status.", labels=["job", "status"]
        )
        counts = {(j, s): 0 for j in self.jobs for s in FINISHED_RUN_STATUSES}
        counts.update(
            self._by_job_and_status(
                instance, ended, FINISHED_RUN_STATUSES, complete=len(ended) < RUN_SAMPLE, updated_after=since
            )
        )
        for (job, status), n in sorted(counts.items()):
            finished.add_metric([job, status], n)
        yield finished

        sample = [r for r in ended if r.start_time is not None and r.end_time is not None]
        runs: dict[tuple[str, str], Histogram] = defaultdict(lambda: Histogram(RUN_BUCKETS))
        for r in sample:
            assert r.start_time is not None and r.end_time is not None  # sample keeps only those
            runs[(r.dagster_run.job_name, r.dagster_run.status.value)].observe(max(0.0, r.end_time - r.start_time))
        run_hist = GaugeHistogramMetricFamily(
            "orbit_run_duration_seconds",
            f"Wall time of the runs that ended in the window (the {RUN_SAMPLE} most recent), by job and status.",
            labels=["job", "status"],
        )
        for labels, hist in sorted(runs.items()):
            run_hist.add_metric(list(labels), hist.buckets(), hist.total)
        yield run_hist

        job_of = {r.dagster_run.run_id: r.dagster_run.job_name for r in sample}
        steps, retries = self._step_figures(instance, job_of)
        step_hist = GaugeHistogramMetricFamily(
            "orbit_step_duration_seconds",
            "Time from a step's start to its "
            "final success or failure (retries included), for the runs in "
            "orbit_run_duration_seconds, by job, step and outcome.",
            labels=["job", "step", "outcome"],
        )
        for labels, hist in sorted(steps.items()):
            step_hist.add_metric(list(labels), hist.buckets(), hist.total)
        yield step_hist
        retry_family = GaugeMetricFamily(
            "orbit_step_retries",
            "Step retries (RetryPolicy or RetryRequested) in the runs of orbit_run_duration_seconds, by job and step.",
            labels=["job", "step"],
        )
        for (job, step), n in sorted(retries.items()):
            retry_family.add_metric([job, step], n)
        yield retry_family

    def _step_figures(self, instance: "DagsterInstance", job_of: dict[str, str]):
        steps: dict[tuple[str, str, str], Histogram] = defaultdict(lambda: Histogram(STEP_BUCKETS))
        retries: dict[tuple[str, str], int] = defaultdict(int)
        # Every run here has ended, so its step events are final: read once, kept while it is sampled.
        known = self._finished_steps
        self._finished_steps = {
            run_id: known.get(run_id) or self._run_step_figures(instance, run_id) for run_id in job_of
        }
        for run_id, (ended, retried) in self._finished_steps.items():
            for step, outcome, seconds in ended:
                steps[(job_of[run_id], step, outcome)].observe(seconds)
            for step, n in retried.items():
                retries[(job_of[run_id], step)] += n
        return steps, retries

    @staticmethod
    def _run_step_figures(instance: "DagsterInstance", run_id: str):
        """(step, outcome, seconds from its first start to its last success or failure) per step that
        ended, and retries per step, from the run's step events."""
        from dagster import DagsterEventType

        starts: dict[str, float] = {}
        ends: dict[str, tuple[float, str]] = {}
        retried: dict[str, int] = defaultdict(int)
        for entry in instance.all_logs(run_id, of_type={DagsterEventType(t) for t in STEP_EVENTS}):
            step, at, event_type = entry.step_key, entry.timestamp, entry.dagster_event_type
            if step is None:
                continue
            if event_type == DagsterEventType.STEP_START:
                starts[step] = min(at, starts.get(step, at))
            elif event_type == DagsterEventType.STEP_UP_FOR_RETRY:
                retried[step] += 1
            elif step not in ends or at > ends[step][0]:
                ends[step] = (at, "success" if event_type == DagsterEventType.STEP_SUCCESS else "failure")
        ended = [
            (step, outcome, max(0.0, end - starts[step])) for step, (end, outcome) in ends.items() if step in starts
        ]
        return ended, dict(retried)


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

"""Dagster's run and step figures for the metrics collector, read through the DagsterInstance's public
API (run records, run counts, a run's event log), never its tables.

Runs queued or in flight are reported as they are now; runs that ended, their durations, step
durations and retries over the collector's window. The step figures of a finished run, which never
change, are read once and kept while the run is in the sample.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Iterable, Sequence

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric

from orbit_pipelines.observability.histogram import Histogram

if TYPE_CHECKING:
    from dagster import DagsterInstance, RunRecord

# Most recent finished runs whose run and step durations are read per scrape.
RUN_SAMPLE = 500
# Queued and in-flight runs read per scrape to count them by job; past it, counted by get_runs_count.
ACTIVE_RUN_CAP = 2000

ACTIVE_RUN_STATUSES = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING")
FINISHED_RUN_STATUSES = ("SUCCESS", "FAILURE", "CANCELED")
STEP_EVENTS = ("STEP_START", "STEP_SUCCESS", "STEP_FAILURE", "STEP_UP_FOR_RETRY")

RUN_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
STEP_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class RunFigures:
    """OrbitCollector's Dagster metrics. `jobs`: the jobs reported even when they have no runs; `window`:
    seconds of the activity metrics; `_finished_steps`: run id -> its step figures (see _step_figures),
    for the finished runs of the last sample."""

    jobs: tuple[str, ...]
    window: int
    _finished_steps: dict[str, tuple[list[tuple[str, str, float]], dict[str, int]]]

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

"""The ledger's figures for the metrics collector: SQL over the `orbit.*` tables at scrape time.

State (tasks, queues, dead letters, pauses, pending webhook deliveries) is read as it is now; activity
(documents finished, Veryfi calls, webhook deliveries) over the collector's window. The queries run
in the collector's read-only transaction, under its statement timeout.
"""

from __future__ import annotations

from typing import Iterable

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection, text

from orbit_pipelines.ledger import TaskStatus
from orbit_pipelines.ledger.store import LANES
from orbit_pipelines.observability.histogram import Histogram

VERYFI_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
VERYFI_CLASSES = ("2xx", "4xx", "5xx", "transport")


class LedgerFigures:
    """OrbitCollector's ledger metrics. `kinds`: the task kinds reported even when they have no rows;
    `window`: seconds of the activity metrics."""

    kinds: tuple[str, ...]
    window: int

    def _ledger_metrics(self, conn: Connection) -> Iterable[Metric]:
        window = {"window": self.window}
        tasks = GaugeMetricFamily("orbit_tasks", "Ledger tasks by kind and status.", labels=["kind", "status"])
        counts = {(k, s): 0 for k in self.kinds for s in TaskStatus}
        for kind, status, n in conn.execute(text("SELECT kind, status, count(*) FROM orbit.tasks GROUP BY 1, 2")):
            counts[(kind, TaskStatus(status))] = n
        for (kind, status), n in sorted(counts.items()):
            tasks.add_metric([kind, status.value], n)
        yield tasks

        phases = GaugeMetricFamily(
            "orbit_tasks_running_by_phase",
            "RUNNING tasks by kind and phase (the kind's name for the step their run executes; '' before any).",
            labels=["kind", "phase"],
        )
        for kind, phase, n in conn.execute(
            text("SELECT kind, coalesce(phase, ''), count(*) FROM orbit.tasks WHERE status = 'RUNNING' GROUP BY 1, 2")
        ):
            phases.add_metric([kind, phase], n)
        yield phases

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

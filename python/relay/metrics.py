"""Prometheus metrics on an owned registry: queue depths read at scrape time, HTTP traffic."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from relay.wire import GroupPage, QueueStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
_TOTALS = (
    "enqueued",
    "completed",
    "failed",
    "retried",
    "dead",
    "reaped",
    "requeued",
    "cancelled",
)
TOP_GROUPS = 10  # groups per queue exposed by name (bounded label cardinality, decision 0053)


class QueueCollector(Collector):
    """Depth per queue and state, and the queues' lifetime totals, from the latest scrape.

    The owner refreshes the snapshot from Redis just before rendering (`update`), so every
    scrape reports Redis as it is then; collect() itself does no I/O.
    """

    def __init__(self) -> None:
        self._stats: Sequence[QueueStats] = ()
        self._groups: dict[str, GroupPage] = {}
        self._redis_up = True

    def update(
        self,
        stats: Sequence[QueueStats],
        redis_up: bool = True,
        groups: dict[str, GroupPage] | None = None,
    ) -> None:
        self._stats = stats
        self._groups = groups or {}
        self._redis_up = redis_up

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "relay_queue_depth", "Jobs in each state, per queue.", labels=["queue", "state"]
        )
        paused = GaugeMetricFamily(
            "relay_queue_paused", "1 while a queue is paused.", labels=["queue"]
        )
        totals = {
            name: CounterMetricFamily(
                f"relay_jobs_{name}", f"Jobs {name} since the queue was created.", labels=["queue"]
            )
            for name in _TOTALS
        }
        for s in self._stats:
            for state in ("ready", "delayed", "inflight", "dead", "completed", "cancelled"):
                depth.add_metric([s.name, state], getattr(s.counts, state))
            paused.add_metric([s.name], 1.0 if s.paused else 0.0)
            for name, family in totals.items():
                family.add_metric([s.name], getattr(s.totals, name))
        up = GaugeMetricFamily("relay_redis_up", "1 when the last scrape could read Redis.")
        up.add_metric([], 1.0 if self._redis_up else 0.0)
        yield up
        yield depth
        yield paused
        yield from totals.values()
        yield from self._group_metrics()

    def _group_metrics(self) -> Iterator[Metric]:
        """Per queue: how many groups have jobs or limits, and the busiest TOP_GROUPS groups'
        backlog and jobs in flight by name: never one series per tenant."""
        count = GaugeMetricFamily(
            "relay_groups",
            "Groups per queue: with jobs (ready or in flight), with limits.",
            labels=["queue", "kind"],
        )
        labels = ["queue", "group"]
        backlog = GaugeMetricFamily(
            "relay_group_backlog",
            f"Ready jobs of the {TOP_GROUPS} groups with the largest backlog, per queue.",
            labels=labels,
        )
        flying = GaugeMetricFamily(
            "relay_group_in_flight",
            f"Jobs in flight of the same {TOP_GROUPS} groups per queue.",
            labels=labels,
        )
        for queue, page in self._groups.items():
            count.add_metric([queue, "active"], page.total)
            count.add_metric([queue, "limited"], page.limited)
            for g in page.groups[:TOP_GROUPS]:
                backlog.add_metric([queue, g.name], g.backlog)
                flying.add_metric([queue, g.name], g.in_flight)
        yield count
        yield backlog
        yield flying


class Metrics:
    """Every relay metric, on a registry of its own (never the process-global one)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._all_processes: CollectorRegistry | None = None
        self._series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.queues = QueueCollector()
        self.registry.register(self.queues)
        self.http_requests = Counter(
            "relay_http_requests",
            "HTTP requests served, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "relay_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "relay_rate_limit_waits",
            "Times a rate limit made work wait: source=producer (HTTP per-token limit) "
            "or source=worker (a queue's claim rate limit).",
            ["source", "queue"],
            registry=self.registry,
        )

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request and its latency (the labelled series looked up once each:
        routes are templates, so the set is bounded)."""
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (
                self.http_requests.labels(route, method, str(status)),
                self.http_latency.labels(route, method),
            )
        series[0].inc()
        series[1].observe(seconds)

    def render(
        self,
        stats: Sequence[QueueStats] | None = None,
        redis_up: bool = True,
        groups: dict[str, GroupPage] | None = None,
    ) -> bytes:
        """The Prometheus text exposition, after refreshing the queue snapshot when given.

        Under `relay server --workers N` (PROMETHEUS_MULTIPROC_DIR set for the children), the
        HTTP figures are the sum over every server process, whichever one answers."""
        if stats is not None:
            self.queues.update(stats, redis_up, groups)
        return generate_latest(self._exposed())

    def _exposed(self) -> CollectorRegistry:
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if not path:
            return self.registry
        if self._all_processes is None:
            self._all_processes = CollectorRegistry()
            multiprocess.MultiProcessCollector(self._all_processes, path)  # type: ignore[no-untyped-call]
            self._all_processes.register(self.queues)
        return self._all_processes

"""Prometheus metrics of the service, in a registry per app so tests can build several apps.

Request counts and latencies are kept in plain per-process tables and turned into metric
families only when ``/metrics`` is scraped: prometheus-client's ``labels().inc()`` and
``observe()`` take a lock and a dict lookup each, a large share of a cheap request such as
``/healthz`` (figures in docs/architecture.md, "Performance"). One event loop per process writes these tables, so no lock
is needed on the hot path. With several uvicorn workers each worker reports its own numbers.
Durations are kept in integer nanoseconds (``perf_counter_ns``), bucketed against integer
bounds, and converted to seconds only at scrape time.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUCKETS_NS = tuple(round(bound * 1e9) for bound in BUCKETS)


# A series is one list: hits per bucket (the last bucket is +Inf), then the sum of durations in
# nanoseconds. The count is the sum of the hits, worked out at scrape time, so a request costs
# two list increments.
_SUM = len(BUCKETS) + 1
# Methods counted under their own name; any other (WebDAV's, made-up ones) as "other".
OTHER_METHOD = "other"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", OTHER_METHOD})
_FIRST_BOUND = _BUCKETS_NS[0]


class _RequestCollector(Collector):
    def __init__(self) -> None:
        self.series: dict[tuple[str, str, int], list[int]] = {}

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "anbao_http_requests",
            "HTTP requests handled, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        latency = HistogramMetricFamily(
            "anbao_http_request_duration_seconds",
            "Time to handle a request, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), series in sorted(self.series.items()):
            labels = [route, method, str(status)]
            cumulative, buckets = 0, []
            for bound, hits in zip((*map(str, BUCKETS), "+Inf"), series[:_SUM], strict=True):
                cumulative += hits
                buckets.append((bound, cumulative))
            requests.add_metric(labels, cumulative)
            latency.add_metric(labels, buckets, series[_SUM] / 1e9)
        yield requests
        yield latency


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _RequestCollector()
        self._series = self._requests.series
        self.registry.register(self._requests)
        self.dependency_up = Gauge(
            "anbao_dependency_up",
            "1 when the dependency answered its last readiness probe, else 0.",
            ["dependency"],
            registry=self.registry,
        )
        self.dependency_latency = Gauge(
            "anbao_dependency_probe_seconds",
            "Duration of the last readiness probe of each dependency.",
            ["dependency"],
            registry=self.registry,
        )

    def record(self, route: str, method: str, status: int, elapsed_ns: int) -> None:
        """One request (the per-request path: a dict look-up and two increments)."""
        key = (route, method, status)
        series = self._series.get(key)
        if series is None:
            if method not in _METHODS:  # client-controlled: keep the label set bounded
                self.record(route, OTHER_METHOD, status, elapsed_ns)
                return
            series = self._series[key] = [0] * (_SUM + 1)
        series[_SUM] += elapsed_ns
        series[
            0 if elapsed_ns <= _FIRST_BOUND else bisect.bisect_left(_BUCKETS_NS, elapsed_ns)
        ] += 1

    def observe(self, route: str, method: str, status: str, seconds: float) -> None:
        """:meth:`record` with the status as text and the duration in seconds."""
        self.record(route, method, int(status), round(seconds * 1e9))

    def render(self) -> bytes:
        return generate_latest(self.registry)

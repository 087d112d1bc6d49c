"""Prometheus metrics of the service, in a registry per app so tests can build several apps.

Request counts and latencies are kept in plain per-process tables and turned into metric
families only when ``/metrics`` is scraped: prometheus-client's ``labels().inc()`` and
``observe()`` take a lock and a dict lookup each, which bench/http.py showed to cost more than
the rest of a ``/healthz`` request. One event loop per process writes these tables, so no lock
is needed on the hot path. With several uvicorn workers each worker reports its own numbers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Series:
    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.count = 0
        self.sum = 0.0
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one is +Inf


class _RequestCollector(Collector):
    def __init__(self) -> None:
        self.series: dict[tuple[str, str, str], _Series] = {}

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
        for key, series in sorted(self.series.items()):
            requests.add_metric(list(key), series.count)
            cumulative, buckets = 0, []
            for bound, hits in zip((*map(str, BUCKETS), "+Inf"), series.buckets, strict=True):
                cumulative += hits
                buckets.append((bound, cumulative))
            latency.add_metric(list(key), buckets, series.sum)
        yield requests
        yield latency


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._requests = _RequestCollector()
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

    def observe(self, route: str, method: str, status: str, seconds: float) -> None:
        key = (route, method, status)
        series = self._requests.series.get(key)
        if series is None:
            series = self._requests.series[key] = _Series()
        series.count += 1
        series.sum += seconds
        series.buckets[bisect.bisect_left(BUCKETS, seconds)] += 1

    def render(self) -> bytes:
        return generate_latest(self.registry)

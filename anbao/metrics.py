"""Prometheus metrics of the service, in a registry per app so tests can build several apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "anbao_http_requests_total",
            "HTTP requests handled, by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "anbao_http_request_duration_seconds",
            "Time to handle a request, by route template and status.",
            ["route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
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

        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, status: str, seconds: float) -> None:
        # labels() hashes and locks on every call; the children are cached on the hot path.
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, status),
                self.latency.labels(route, status),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)

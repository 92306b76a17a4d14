"""Prometheus metrics: request counts and latencies by route, plus store and index sizes read at scrape time.

Each app gets its own registry (tests build many apps in one process). With several workers every process
reports its own request counters; the size gauges are the same shared numbers from each.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dedup.engine import Engine

from .limits import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SizeCollector(Collector):
    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine()
        if engine is None:
            return
        counts = engine.store.counts()
        yield GaugeMetricFamily("dedup_articles", "Stored articles", value=counts["articles"])
        yield GaugeMetricFamily("dedup_clusters", "Clusters (stories), including singletons", value=counts["clusters"])
        yield GaugeMetricFamily("dedup_clusters_with_duplicates", "Clusters of two or more articles",
                                value=counts["clusters_with_duplicates"])
        yield GaugeMetricFamily("dedup_index_size", "Signatures in the LSH index", value=len(engine.index))


class Metrics:
    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("dedup_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("dedup_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.registry.register(SizeCollector(engine))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class MetricsMiddleware:
    """Labels by route template (`/v1/articles/{article_id}`), never by raw path, to keep cardinality bounded."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)

"""Prometheus metrics: request counts and latencies by route, plus store and index sizes read at scrape time.

Each app gets its own registry (tests build many apps in one process). With several worker processes
(`metrics_dir` set, and prometheus_client's PROMETHEUS_MULTIPROC_DIR naming the same folder before it is
imported, as `dedup serve --workers N` arranges), every process writes its request counters to that folder
and a scrape of any worker sums them all; the size gauges are read from the shared store at scrape time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from dedup.engine import Engine

from .limits import ASGIApp, Receive, Scope, Send, StatusRecorder
from .route_match import route_template

disable_created_metrics()
log = logging.getLogger("dedup.http")
# The text exposition format generate_latest writes. Named explicitly: prometheus_client 0.26's "latest" says
# version=1.0.0, which Prometheus 2 servers do not know; every version parses 0.0.4, and the schema states it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class SizeCollector(Collector):
    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine()
        if engine is None:
            return
        counts = engine.counts()
        yield GaugeMetricFamily("dedup_articles", "Stored articles", value=counts["articles"])
        yield GaugeMetricFamily("dedup_clusters", "Clusters (stories), including singletons", value=counts["clusters"])
        yield GaugeMetricFamily("dedup_clusters_with_duplicates", "Clusters of two or more articles",
                                value=counts["clusters_with_duplicates"])
        yield GaugeMetricFamily("dedup_index_size", "Signatures in the LSH index", value=engine.index_size())


class Metrics:
    def __init__(self, engine: Callable[[], Engine | None], shared_dir: str | None = None) -> None:
        self.shared_dir = shared_dir if shared_dir and values.ValueClass is not values.MutexValue else None
        if shared_dir and self.shared_dir is None:
            log.warning("metrics_dir is set but PROMETHEUS_MULTIPROC_DIR was not when prometheus_client loaded: "
                        "/metrics reports this worker's requests only")
        # Shared: the counters live in the folder's files, not in a registry of this process.
        own = None if self.shared_dir else CollectorRegistry()
        self.requests = Counter("dedup_http_requests", "HTTP requests", ["method", "route", "status"], registry=own)
        self.latency = Histogram("dedup_http_request_seconds", "HTTP request latency", ["method", "route"],
                                 buckets=_BUCKETS, registry=own)
        self.registry = own or CollectorRegistry()
        self.registry.register(SizeCollector(engine))
        if self.shared_dir:
            MultiProcessCollector(self.registry, path=self.shared_dir)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE

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
        path, root_path = scope["path"], scope.get("root_path", "")
        recorder = StatusRecorder(send)
        try:
            await self.app(scope, receive, recorder)
        finally:
            template = route_template(scope, path, root_path)
            self.metrics.observe(scope["method"], template, recorder.status, time.perf_counter() - start)

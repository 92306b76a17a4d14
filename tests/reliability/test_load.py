"""Concurrency and load: 16 clients on loopback ingest overlapping reposts and the very same URLs at once.

Exactly one article per URL, every story's reposts in one cluster (and no two stories in one), no 5xx, no
deadlock (every client finishes within a bound). Throughput and p99 latency are reported.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict

import httpx
import pytest

from tests.api_backends import backend_settings
from tests.reliability.harness import article, full, percentile, record, story_of, uvicorn_process, wait_ready

CLIENTS = 16
STORIES = 12
VARIANTS = 5
DEADLOCK_BOUND_S = 300


def _plan(client_no: int, requests: int) -> list[list[dict]]:
    """Each request is one article (or a batch of three): a repost of one of a few stories, so clients collide
    on the same URLs and on reposts of the same story all the time."""
    rng = random.Random(client_no)
    plan = []
    for _ in range(requests):
        size = 3 if rng.random() < 0.25 else 1
        plan.append([article(rng.randrange(STORIES), rng.randrange(VARIANTS), "l") for _ in range(size)])
    return plan


class Client(threading.Thread):
    def __init__(self, base_url: str, plan: list[list[dict]], start_line: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.base_url, self.plan, self.start_line = base_url, plan, start_line
        self.latencies: list[float] = []
        self.results: list[tuple[str, int, dict | None]] = []  # (url, status, result)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=DEADLOCK_BOUND_S) as http:
            self.start_line.wait()
            for items in self.plan:
                started = time.monotonic()
                if len(items) == 1:
                    r = http.post("/v1/articles", json=items[0])
                    outcomes = [(items[0]["url"], r.status_code, r.json() if r.status_code < 300 else None)]
                else:
                    r = http.post("/v1/articles:batch", json={"articles": items})
                    outcomes = [(i["url"], o["status"], o.get("result")) for i, o in zip(items, r.json()["results"])] \
                        if r.status_code == 200 else [(i["url"], r.status_code, None) for i in items]
                self.latencies.append(time.monotonic() - started)
                self.results.extend(outcomes)


def _run_clients(base_url: str, requests: int) -> tuple[list[Client], float]:
    start_line = threading.Barrier(CLIENTS + 1)
    clients = [Client(base_url, _plan(n, requests), start_line) for n in range(CLIENTS)]
    for c in clients:
        c.start()
    start_line.wait()
    started = time.monotonic()
    for c in clients:
        c.join(timeout=DEADLOCK_BOUND_S)
    stuck = [c for c in clients if c.is_alive()]
    assert not stuck, f"{len(stuck)} clients still waiting after {DEADLOCK_BOUND_S} s: deadlock"
    return clients, time.monotonic() - started


def _check_answers(http: httpx.Client, results: list[tuple[str, int, dict | None]]) -> int:
    statuses = Counter(status for _, status, _ in results)
    assert set(statuses) <= {200, 201}, statuses
    ids_of_url: dict[str, set[int]] = defaultdict(set)
    for url, _, result in results:
        ids_of_url[url].add(result["id"])  # type: ignore[index]
    assert all(len(ids) == 1 for ids in ids_of_url.values()), "one URL became two articles"
    assert statuses[201] == len(ids_of_url), "each URL must be created exactly once"
    clusters_of_story: dict[int, set[int]] = defaultdict(set)
    for url, ids in ids_of_url.items():
        got = http.get("/v1/articles", params={"url": url}).json()
        assert got["id"] == next(iter(ids))
        clusters_of_story[story_of(url)].add(got["cluster_id"])
    assert all(len(c) == 1 for c in clusters_of_story.values()), clusters_of_story
    assert len({next(iter(c)) for c in clusters_of_story.values()}) == len(clusters_of_story)
    return len(ids_of_url)


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_sixteen_clients_same_urls_and_reposts(kind, tmp_path):
    requests = full(30, 300)
    workers = 1 if kind == "sqlite" else 2  # SQLite: one process (its index is in process); else two workers
    with backend_settings(kind, tmp_path) as settings, \
            uvicorn_process(settings, tmp_path / "load.log", workers=workers) as (http, proc):
        wait_ready(http, lambda: proc.poll() is None, tmp_path / "load.log", timeout=180)
        clients, seconds = _run_clients(str(http.base_url), requests)
        results = [r for c in clients for r in c.results]
        latencies = [t for c in clients for t in c.latencies]
        articles = _check_answers(http, results)
        metrics = http.get("/metrics").text
    assert f"dedup_articles {float(articles)}" in metrics
    record(f"load_{kind}", clients=CLIENTS, workers=workers, requests=len(latencies), articles_sent=len(results),
           distinct_urls=articles, clusters=STORIES, seconds=round(seconds, 2),
           requests_per_s=round(len(latencies) / seconds, 1), articles_per_s=round(len(results) / seconds, 1),
           p50_ms=round(1000 * percentile(latencies, 0.5), 1), p99_ms=round(1000 * percentile(latencies, 0.99), 1),
           server_errors=sum(status >= 500 for _, status, _ in results))

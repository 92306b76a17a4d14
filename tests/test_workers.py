"""Two uvicorn worker processes on one PostgreSQL + Redis: what one ingests, the other finds."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api_backends import STORY, backend_settings
from tests.servers import stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def worker(settings, log: Path) -> Iterator[httpx.Client]:
    """One uvicorn process configured only through the environment, as in production."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    env.update(DEDUP_DATABASE_URL=settings.database_url, DEDUP_REDIS_URL=settings.redis_url,
               DEDUP_REDIS_PREFIX=settings.redis_prefix)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
                                 "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
            wait_ready(client, proc, log)
            yield client
            client.close()
        finally:
            stop(proc)


@pytest.fixture
def services(tmp_path):
    with backend_settings("services", tmp_path) as settings:
        yield settings


def test_two_workers_share_one_index(services, tmp_path):
    with worker(services, tmp_path / "a.log") as a:
        original = a.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY})
        assert original.status_code == 201
        with worker(services, tmp_path / "b.log") as b:  # starts late: sees what A ingested before it
            found = b.post("/v1/duplicates/search", json={"text": STORY + "（记者 张三）"}).json()["matches"]
            assert [m["url"] for m in found] == ["https://a.example/1"]

            repost = b.post("/v1/articles", json={"url": "https://b.example/1", "text": "图为会议现场。" + STORY})
            assert repost.status_code == 201 and repost.json()["duplicate_of"] == "https://a.example/1"
            dups = a.get("/v1/duplicates", params={"url": "https://a.example/1"}).json()["matches"]
            assert [m["url"] for m in dups] == ["https://b.example/1"]

            body = {"url": "https://c.example/1", "text": STORY + "（责任编辑：王五）"}
            results: list[httpx.Response] = []
            threads = [threading.Thread(target=lambda c=c: results.append(c.post("/v1/articles", json=body)))
                       for c in (a, b, a, b)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(r.status_code for r in results) == [200, 200, 200, 201]
            assert len({r.json()["id"] for r in results}) == 1
            clusters = b.get("/v1/clusters", params={"min_size": 2}).json()["clusters"]
            assert len(clusters) == 1 and clusters[0]["size"] == 3


def _healthz_count(metrics_text: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics_text.splitlines()
               if line.startswith("dedup_http_requests_total{") and 'route="/healthz"' in line)


def test_metrics_of_two_worker_processes_add_up(services, tmp_path):
    """`dedup serve --workers 2`: whichever worker answers /metrics counts the requests both served."""
    port, log, shared = _free_port(), tmp_path / "serve.log", tmp_path / "metrics"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEDUP_", "PROMETHEUS_"))}
    env.update(DEDUP_DATABASE_URL=services.database_url, DEDUP_REDIS_URL=services.redis_url,
               DEDUP_REDIS_PREFIX=services.redis_prefix, DEDUP_METRICS_DIR=str(shared))
    dedup = Path(sys.executable).parent / "dedup"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(dedup), "serve", "--port", str(port), "--workers", "2"], cwd=ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=30) as client:
                wait_ready(client, proc, log)
            for _ in range(40):  # a new connection each time, so both workers get some
                assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
            scrapes = [httpx.get(f"{base}/metrics", timeout=30).text for _ in range(10)]
            assert {_healthz_count(text) for text in scrapes} == {40.0}
            writers = {path.stem.rsplit("_", 1)[1] for path in shared.glob("counter_*.db")}
            assert len(writers) == 2, f"both workers should have served requests: {writers}"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            stop(proc)

"""Two uvicorn worker processes on one PostgreSQL + Redis: what one ingests, the other finds."""

from __future__ import annotations

import os
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

"""Simultaneous writes: one article per URL, one cluster per story; the index heals at start-up."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.engine import Engine
from dedup.models import ArticleIn
from tests.api_backends import OTHER, STORY, backend_settings

REPOSTS = [STORY, "图为会议现场。" + STORY, STORY + "（责任编辑：王五）", "据央视网报道，" + STORY,
           STORY + "会议还研究了其他事项。", STORY + "（来源：人民网）"]


@pytest.fixture(params=["sqlite", "services"])
def backend(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings:
        yield settings


def _together(calls):
    """Start every call at the same moment, to make the race as likely as it can be."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_same_url_at_once_gives_one_article(backend):
    with TestClient(create_app(backend)) as client:
        body = {"url": "https://a.example/1", "text": STORY}
        results = _together([lambda: client.post("/v1/articles", json=body) for _ in range(8)])
        assert sorted(r.status_code for r in results) == [200] * 7 + [201]
        assert len({r.json()["id"] for r in results}) == 1
        assert "dedup_articles 1.0" in client.get("/metrics").text


def test_reposts_at_once_end_in_one_cluster(backend):
    with TestClient(create_app(backend)) as client:
        calls = [lambda i=i, t=t: client.post("/v1/articles", json={"url": f"https://r{i}.example/1", "text": t})
                 for i, t in enumerate(REPOSTS)]
        results = _together(calls)
        assert all(r.status_code == 201 for r in results)
        assert len({r.json()["cluster_id"] for r in results}) == 1
        assert sum(not r.json()["is_duplicate"] for r in results) == 1


def test_two_engines_like_two_processes(tmp_path):
    """Separate engines (own thread locks, own connections) on one database: the cross-process lock decides.

    Two engines share an index only through Redis, so this runs on PostgreSQL + Redis alone.
    """
    with backend_settings("services", tmp_path) as settings:
        _two_engines(settings)


def _two_engines(backend) -> None:
    engines = [Engine(backend) for _ in range(2)]
    try:
        same = _together([lambda e=e: e.ingest(ArticleIn(url="https://a.example/1", text=STORY)) for e in engines * 3])
        assert len({r.id for r in same}) == 1
        calls = [lambda i=i, t=t: engines[i % 2].ingest(ArticleIn(url=f"https://r{i}.example/1", text=t))
                 for i, t in enumerate(REPOSTS)]
        assert len({r.cluster_id for r in _together(calls)} | {same[0].cluster_id}) == 1
        assert engines[0].store.counts()["articles"] == 1 + len(REPOSTS)
    finally:
        for e in engines:
            e.close()


def test_index_heals_at_start_up(backend):
    """A crash between the database commit and the index update, and a stale index entry, are repaired."""
    with TestClient(create_app(backend)) as client:
        a = client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY}).json()
        b = client.post("/v1/articles", json={"url": "https://b.example/1", "text": OTHER}).json()
        index = client.app.state.engine.index
        index.remove(a["id"])
        index.insert(987654, np.frombuffer(client.app.state.engine.get_article(b["id"]).hashvalues, dtype=np.uint32))
    with TestClient(create_app(backend)) as client:
        assert client.app.state.engine.index.ids() == {a["id"], b["id"]}
        found = client.post("/v1/duplicates/search", json={"text": STORY + "（记者 张三）"}).json()["matches"]
        assert [m["id"] for m in found] == [a["id"]]
        report = client.post("/v1/admin/check").json()
        assert (report["indexed"], report["added"], report["removed"], report["repaired"]) == (2, 0, 0, 0)


def test_cli_check_repairs_the_shared_index(tmp_path):
    """`dedup check --repair` heals the Redis index the service uses (keys there are pickled by datasketch)."""
    from typer.testing import CliRunner

    from dedup.cli.commands import app as cli

    with backend_settings("services", tmp_path) as settings:
        with TestClient(create_app(settings)) as client:
            a = client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY}).json()
            engine = client.app.state.engine
            engine.index.remove(a["id"])
            engine.index.insert(424242, np.frombuffer(engine.get_article(a["id"]).hashvalues, dtype=np.uint32))
        env = {"DEDUP_REDIS_URL": settings.redis_url, "DEDUP_REDIS_PREFIX": settings.redis_prefix}
        result = CliRunner().invoke(cli, ["check", "--db", settings.database_url], env=env)
        assert result.exit_code == 0, result.output
        engine = Engine(settings, rebuild=False)
        try:
            assert engine.index.ids() == {a["id"]}
        finally:
            engine.close()

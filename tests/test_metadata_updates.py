"""The same URL and text with a new title, source or publication time is stored (`metadata_updated`, a new
revision), not dropped as `unchanged`; the article keeps its cluster unless the new publication time changes
the verdict. On SQLite and PostgreSQL + Redis, over HTTP and with `dedup ingest`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.main import create_app
from dedup.cli.commands import app as cli
from dedup.models import ArticleIn
from dedup.recluster.snapshot import take_snapshot
from dedup.recluster.verdicts import VerdictCache
from tests.api_backends import STORY, backend_settings

A, B = "https://a.example/1", "https://b.example/1"


@pytest.fixture(params=["sqlite", "services"])
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings, TestClient(create_app(settings)) as c:
        yield c


def _post(client, url: str, if_match: str | None = None, **fields):  # type: ignore[no-untyped-def]
    return client.post("/v1/articles", json={"url": url, "text": STORY, **fields},
                       headers={"If-Match": if_match} if if_match else None)


def test_a_new_title_or_source_is_stored_and_the_article_stays_in_its_cluster(client):
    _post(client, A, title="原标题", published_at="2026-06-01")
    first = _post(client, B, title="转载", published_at="2026-06-02", source="wire").json()
    changed = _post(client, B, title="转载（更正）", published_at="2026-06-02", source="other wire")
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["status"] == "metadata_updated" and body["revision"] != first["revision"]
    assert changed.headers["etag"] == f'"{body["revision"]}"'
    assert (body["cluster_id"], body["duplicate_of"]) == (first["cluster_id"], A)
    stored = client.get("/v1/articles", params={"url": B}).json()
    assert (stored["title"], stored["source"], stored["text"]) == ("转载（更正）", "other wire", STORY)
    cluster = client.get(f"/v1/clusters/{first['cluster_id']}").json()
    assert cluster["size"] == 2 and cluster["representative"]["url"] == A
    again = _post(client, B, title="转载（更正）", published_at="2026-06-02", source="other wire").json()
    assert again["status"] == "unchanged" and again["revision"] == body["revision"]


def test_a_new_publication_time_dates_the_cluster_and_can_change_its_representative(client):
    created = _post(client, A, published_at="2026-06-05").json()
    _post(client, B, published_at="2026-06-06")
    moved = _post(client, B, published_at="2026-06-01").json()
    assert moved["status"] == "metadata_updated" and moved["cluster_id"] == created["cluster_id"]
    cluster = client.get(f"/v1/clusters/{created['cluster_id']}").json()
    assert cluster["representative"]["url"] == B and cluster["size"] == 2
    assert (cluster["first_seen"], cluster["last_seen"]) == ("2026-06-01", "2026-06-05")
    assert client.get("/v1/articles", params={"url": B}).json()["published_at"] == "2026-06-01"


def test_a_metadata_update_from_an_old_revision_is_refused(client):
    tag = _post(client, A, title="一").headers["etag"]
    assert _post(client, A, if_match=tag, title="二").status_code == 200
    late = _post(client, A, if_match=tag, title="三")
    assert late.status_code == 412, late.text
    assert client.get("/v1/articles", params={"url": A}).json()["title"] == "二"


def test_the_batch_route_and_the_cli_say_so(client, tmp_path):
    items = [{"url": A, "text": STORY, "title": "一"}, {"url": A, "text": STORY, "title": "二"}]
    results = client.post("/v1/articles:batch", json={"articles": items}).json()["results"]
    assert [r["result"]["status"] for r in results] == ["created", "metadata_updated"]
    db = str(tmp_path / "cli.db")
    feed = tmp_path / "feed.jsonl"
    feed.write_text(json.dumps({"url": A, "text": STORY, "title": "一"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert CliRunner().invoke(cli, ["ingest", str(feed), "--db", db, "-q"]).exit_code == 0
    feed.write_text(json.dumps({"url": A, "text": STORY, "title": "二"}, ensure_ascii=False) + "\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", str(feed), "--db", db, "-q"])
    assert result.exit_code == 0 and "0 unchanged, 0 updated, 1 metadata updated" in result.output, result.output


def test_the_recluster_does_not_reuse_a_verdict_made_before_a_new_publication_time(engine):
    """Which article came first is an input of the verdict (partial copies): the re-cluster's verdict cache key
    must change with it, as it does with the text."""
    first = engine.ingest(ArticleIn(url=A, text=STORY, published_at="2026-06-05")).id
    second = engine.ingest(ArticleIn(url=B, text=STORY, published_at="2026-06-06")).id
    cache, pairs = VerdictCache(engine), np.array([[first, second]], dtype=np.int64)
    before = cache.pair_keys(pairs, take_snapshot(engine).content_hash)
    assert engine.ingest(ArticleIn(url=A, text=STORY, published_at="2026-06-05", title="新")).status == \
        "metadata_updated"
    retitled = cache.pair_keys(pairs, take_snapshot(engine).content_hash)
    engine.ingest(ArticleIn(url=B, text=STORY, published_at="2026-06-01"))
    after = cache.pair_keys(pairs, take_snapshot(engine).content_hash)
    assert before[0] != after[0] and retitled[0] != after[0]

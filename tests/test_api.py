"""The HTTP API end to end through TestClient, on SQLite and (when configured) on PostgreSQL + Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

BACKENDS = ["sqlite", "services"]


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings:
        yield settings


@pytest.fixture
def client(backend):
    with TestClient(create_app(backend)) as c:
        yield c


def post(client, url, text, **extra):
    return client.post("/v1/articles", json={"url": url, "text": text, **extra})


def test_ingest_decides_at_once_and_is_idempotent_by_url(client):
    first = post(client, "https://a.example/1", STORY)
    assert first.status_code == 201
    body = first.json()
    assert body["is_duplicate"] is False and body["cluster_id"] == body["id"] and body["matches"] == []

    repost = post(client, "https://b.example/1", STORY + "（来源：人民网）")
    assert repost.status_code == 201
    dup = repost.json()
    assert dup["is_duplicate"] and dup["duplicate_of"] == "https://a.example/1"
    assert dup["cluster_id"] == body["id"]
    assert dup["matches"][0]["id"] == body["id"] and dup["matches"][0]["jaccard"] > 0.5
    assert set(dup["matches"][0]) >= {"id", "url", "jaccard", "containment"}

    again = post(client, "https://b.example/1", STORY + "（来源：人民网）")
    assert again.status_code == 200
    assert {k: v for k, v in again.json().items() if k != "status"} == {k: v for k, v in dup.items() if k != "status"}
    assert again.json()["status"] == "unchanged"


def test_changed_content_updates_and_reindexes(client):
    post(client, "https://a.example/1", STORY)
    first = post(client, "https://b.example/1", STORY + "责任编辑：王五").json()
    changed = post(client, "https://b.example/1", OTHER)
    assert changed.status_code == 200
    assert changed.json()["status"] == "updated" and changed.json()["id"] == first["id"]
    assert not changed.json()["is_duplicate"]
    found = client.post("/v1/duplicates/search", json={"text": OTHER}).json()["matches"]
    assert [m["url"] for m in found] == ["https://b.example/1"]
    assert client.get("/v1/articles", params={"url": "https://b.example/1"}).json()["text"] == OTHER


def test_batch_keeps_order_and_isolates_bad_items(client):
    items = [{"url": "https://a.example/1", "text": STORY},
             {"url": "not a url", "text": STORY},
             {"url": "https://b.example/1", "text": STORY + "图为会议现场"},
             {"url": "https://c.example/1"},
             "not an object",
             {"url": "https://d.example/1", "text": "？？！！"},
             {"url": "https://e.example/1", "text": OTHER, "colour": "red"}]
    r = client.post("/v1/articles:batch", json={"articles": items})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["index"] for x in results] == list(range(len(items)))
    assert [x["status"] for x in results] == [201, 422, 201, 422, 422, 422, 201]  # an unknown field is ignored
    assert results[2]["result"]["duplicate_of"] == "https://a.example/1"
    assert "url" in results[1]["error"]["message"]
    assert results[4]["error"]["fields"] == ["articles[4]"]
    assert results[5]["error"]["code"] == "empty_text"
    assert results[6]["result"]["status"] == "created"
    assert client.get("/v1/articles", params={"url": "https://b.example/1"}).status_code == 200


def test_batch_limit(backend):
    settings = backend.model_copy(update={"max_batch": 2})
    with TestClient(create_app(settings)) as c:
        items = [{"url": f"https://a.example/{i}", "text": STORY} for i in range(3)]
        r = c.post("/v1/articles:batch", json={"articles": items})
        assert r.status_code == 422 and "articles" in r.json()["error"]["message"]


def test_read_and_delete(client):
    a = post(client, "https://a.example/1", STORY, title="国务院常务会议", published_at="2026-03-13",
              source="央视网").json()
    b = post(client, "https://b.example/1", STORY + "责任编辑：王五").json()
    got = client.get(f"/v1/articles/{a['id']}").json()
    assert got["url"] == "https://a.example/1" and got["title"] == "国务院常务会议"
    assert got["published_at"] == "2026-03-13" and got["source"] == "央视网" and got["cluster_id"] == a["id"]
    assert client.get("/v1/articles", params={"url": "https://b.example/1"}).json()["id"] == b["id"]

    assert client.delete(f"/v1/articles/{a['id']}").status_code == 204
    assert client.get(f"/v1/articles/{a['id']}").status_code == 404
    cluster = client.get(f"/v1/clusters/{a['id']}").json()
    assert [m["id"] for m in cluster["members"]] == [b["id"]]
    assert client.delete(f"/v1/articles/{b['id']}").status_code == 204
    assert client.get(f"/v1/clusters/{a['id']}").status_code == 404
    assert client.post("/v1/duplicates/search", json={"text": STORY}).json()["matches"] == []
    assert client.delete(f"/v1/articles/{b['id']}").status_code == 404


def test_duplicates_by_url_and_search_without_storing(client):
    a = post(client, "https://a.example/1", STORY).json()
    post(client, "https://b.example/1", STORY + "会议还研究了其他事项。")
    post(client, "https://c.example/1", OTHER)
    dups = client.get("/v1/duplicates", params={"url": "https://a.example/1"}).json()
    assert dups["id"] == a["id"] and [m["url"] for m in dups["matches"]] == ["https://b.example/1"]

    found = client.post("/v1/duplicates/search", json={"html": f"<html><body><p>{STORY}</p></body></html>"})
    assert found.status_code == 200
    assert {m["url"] for m in found.json()["matches"]} == {"https://a.example/1", "https://b.example/1"}
    strict = client.post("/v1/duplicates/search", json={"text": STORY, "threshold": 1.0}).json()["matches"]
    assert [m["url"] for m in strict] == ["https://a.example/1"]
    assert client.get("/metrics").text.count("dedup_articles 3.0") == 1
    assert client.get("/v1/duplicates", params={"url": "https://nowhere.example/"}).status_code == 404


def test_clusters_newest_first_paginated(client):
    for i, text in enumerate((STORY, OTHER, THIRD)):
        post(client, f"https://a.example/{i}", text)
        post(client, f"https://b.example/{i}", text + "（责任编辑：李四）")
    post(client, "https://lonely.example/1", "一篇没有转载的独家报道，讲述山区学校的孩子们第一次参加全国科技创新大赛并获得二等奖的经历和感受。")
    first = client.get("/v1/clusters", params={"min_size": 2, "limit": 2}).json()
    assert [c["representative"]["url"] for c in first["clusters"]] == ["https://a.example/2", "https://a.example/1"]
    assert all(c["size"] == 2 and c["first_seen"] <= c["last_seen"] for c in first["clusters"])
    second = client.get("/v1/clusters", params={"min_size": 2, "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [c["representative"]["url"] for c in second["clusters"]] == ["https://a.example/0"]
    assert second["next_cursor"] is None
    assert len(client.get("/v1/clusters", params={"min_size": 1}).json()["clusters"]) == 4
    assert client.get("/v1/clusters", params={"cursor": "garbage!"}).status_code == 422


def test_cluster_detail_and_explain(client):
    a = post(client, "https://a.example/1", STORY, published_at="2026-03-13").json()
    b = post(client, "https://b.example/1", "图为会议现场。" + STORY).json()
    c = post(client, "https://c.example/1", OTHER).json()
    detail = client.get(f"/v1/clusters/{b['cluster_id']}").json()
    assert detail["size"] == 2 and detail["representative"]["id"] == a["id"]
    members = {m["id"]: m for m in detail["members"]}
    assert members[a["id"]]["is_representative"] and members[b["id"]]["containment"] > 0.75
    assert "国务院" in detail["keywords"] or "常务会议" in detail["keywords"]

    why = client.get("/v1/explain", params={"a": a["id"], "b": b["id"]}).json()
    assert why["decision"] == "duplicate" and why["is_duplicate"] and why["reason"]
    assert why["shared"] and why["differing"][0]["kind"] in ("only_b", "changed")
    not_dup = client.get("/v1/explain", params={"a": a["id"], "b": c["id"]}).json()
    assert not_dup["decision"] == "distinct" and not_dup["jaccard"] < 0.2
    assert client.get("/v1/explain", params={"a": a["id"], "b": 999999}).status_code == 404


def test_health_ready_metrics(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and set(health["accelerator"]) == {"compiled", "parts"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok" and ready.json()["index"] == "ok"
    post(client, "https://a.example/1", STORY)
    text = client.get("/metrics").text
    assert 'dedup_http_requests_total{method="POST",route="/v1/articles",status="201"} 1.0' in text
    assert "dedup_http_request_seconds_bucket" in text
    assert "dedup_articles 1.0" in text and "dedup_clusters 1.0" in text and "dedup_index_size 1.0" in text


def test_seeds_through_http(client, seed_files):
    for p in seed_files:
        r = post(client, f"https://example.com/{p.stem}", p.read_text(encoding="utf-8"))
        assert r.status_code == 201, r.text
    clusters = client.get("/v1/clusters", params={"min_size": 2}).json()["clusters"]
    assert len(clusters) == 1
    members = client.get(f"/v1/clusters/{clusters[0]['id']}").json()["members"]
    assert sorted(m["url"].rsplit("/", 1)[-1][:3] for m in members) == ["000", "001"]


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/articles", "/v1/articles:batch", "/v1/clusters/{cluster_id}", "/v1/explain"} <= set(paths)


def test_engine_work_stays_off_the_event_loop():
    """Routes are plain functions, so Starlette runs them in its thread pool, never in the event loop."""
    import inspect

    from fastapi.routing import APIRoute

    from app.routes import articles, clusters, duplicates, explain, ops

    routes = [r for m in (articles, clusters, duplicates, explain, ops) for r in m.router.routes
              if isinstance(r, APIRoute)]
    assert len(routes) >= 12 and not [r.path for r in routes if inspect.iscoroutinefunction(r.endpoint)]

"""Corrections, deletes by URL and bulk deletes over HTTP, on SQLite and on PostgreSQL + Redis."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

REPOST = STORY + "（来源：人民网）"
KEY = {"X-API-Key": "s3cret"}


@pytest.fixture(params=["sqlite", "services"])
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings:
        settings = settings.model_copy(update={"api_key": "s3cret"})
        with TestClient(create_app(settings)) as c:
            yield c


def put(client: TestClient, url: str, text: str, **fields: str) -> dict:
    response = client.post("/v1/articles", json={"url": url, "text": text, **fields}, headers=KEY)
    assert response.status_code == 201, response.text
    return response.json()


def test_cannot_link_over_http_splits_and_is_listed_with_who_and_note(client):
    a = put(client, "https://a.example/1", STORY, published_at="2026-03-01")
    b = put(client, "https://b.example/1", REPOST, published_at="2026-03-02")
    assert b["cluster_id"] == a["id"]

    body = {"kind": "cannot_link", "article_id": b["id"], "other_article_id": a["id"], "note": "two bulletins"}
    assert client.post("/v1/corrections", json=body).status_code == 401  # the key is required
    created = client.post("/v1/corrections", json=body, headers=KEY)
    assert created.status_code == 201, created.text
    result = created.json()
    assert result["created"] and result["clusters"] == [b["id"], a["id"]]
    correction = result["correction"]
    assert correction["created_by"] == "api-key" and correction["note"] == "two bulletins" and correction["active"]
    assert client.get(f"/v1/clusters/{a['id']}").json()["size"] == 1

    again = client.post("/v1/corrections", json=body, headers=KEY)
    assert again.status_code == 200 and not again.json()["created"]
    listed = client.get("/v1/corrections").json()
    assert [c["id"] for c in listed["corrections"]] == [correction["id"]] and listed["next_before"] is None
    assert client.get(f"/v1/corrections/{correction['id']}").json()["url_a"] == "https://b.example/1"
    assert len(client.get("/v1/corrections", params={"article_id": a["id"]}).json()["corrections"]) == 1
    assert client.get("/v1/corrections", params={"article_id": 424242}).json()["corrections"] == []

    # a later repost of the story joins one side, and no ingest merges the two again
    third = put(client, "https://c.example/1", STORY + "（责任编辑：王明）", published_at="2026-03-03")
    assert third["cluster_id"] in (a["id"], b["id"])
    assert client.get(f"/v1/articles/{a['id']}").json()["cluster_id"] != \
        client.get(f"/v1/articles/{b['id']}").json()["cluster_id"]

    withdrawn = client.delete(f"/v1/corrections/{correction['id']}", headers=KEY)
    assert withdrawn.status_code == 200 and withdrawn.json()["active"] is False
    assert client.get("/v1/corrections").json()["corrections"] == []
    assert len(client.get("/v1/corrections", params={"include_withdrawn": "true"}).json()["corrections"]) == 1


def test_must_link_to_a_cluster_merges_with_an_alias_and_a_conflict_is_409_naming_both(client):
    a = put(client, "https://a.example/2", STORY, published_at="2026-03-01")
    b = put(client, "https://b.example/2", REPOST, published_at="2026-03-02")
    d = put(client, "https://d.example/2", OTHER, published_at="2026-03-03")
    must = client.post("/v1/corrections", headers=KEY, json={"kind": "must_link", "article_id": d["id"],
                                                             "other_article_id": b["id"]})
    assert must.status_code == 201, must.text
    assert must.json()["clusters"] == [a["id"], a["id"]]
    assert client.get(f"/v1/clusters/{d['id']}").json()["id"] == a["id"]  # d's old id resolves (an alias)

    conflict = client.post("/v1/corrections", headers=KEY, json={"kind": "cannot_link", "article_id": b["id"],
                                                                 "cluster_id": a["id"]})
    assert conflict.status_code == 409
    error = conflict.json()["error"]
    must_id = must.json()["correction"]["id"]
    assert error["code"] == "correction_conflict"
    assert "cannot-link of article" in error["message"] and f"correction {must_id} (must-link" in error["message"]
    assert client.get(f"/v1/clusters/{a['id']}").json()["size"] == 3  # nothing changed

    apart = client.post("/v1/corrections", headers=KEY, json={"kind": "cannot_link", "article_id": a["id"],
                                                              "other_article_id": d["id"]})
    assert apart.status_code == 201  # no must-link joins a and d: d leaves, with its must-link partner b
    page = client.get("/v1/corrections", params={"limit": 1}).json()
    assert [c["id"] for c in page["corrections"]] == [apart.json()["correction"]["id"]]
    rest = client.get("/v1/corrections", params={"limit": 1, "before": page["next_before"]}).json()
    assert [c["id"] for c in rest["corrections"]] == [must_id] and rest["next_before"] is None


@pytest.mark.parametrize(("body", "status"), [
    ({"kind": "cannot_link", "article_id": 1}, 422),
    ({"kind": "cannot_link", "article_id": 1, "other_article_id": 2, "cluster_id": 3}, 422),
    ({"kind": "sometimes", "article_id": 1, "other_article_id": 2}, 422),
    ({"kind": "must_link", "article_id": 1, "other_article_id": 1}, 422),
    ({"kind": "must_link", "article_id": 1, "other_article_id": 99999}, 404),
    ({"kind": "must_link", "article_id": 1, "cluster_id": 99999}, 404),
])
def test_bad_corrections_get_a_clear_4xx(client, body, status):
    put(client, "https://a.example/3", STORY)
    response = client.post("/v1/corrections", json=body, headers=KEY)
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert client.get("/v1/corrections/1").status_code == 404


def test_delete_by_url_and_bulk_delete_keep_clusters_right(client):
    a = put(client, "https://a.example/4", STORY, published_at="2024-01-10", source="wire")
    b = put(client, "https://b.example/4", REPOST, published_at="2024-02-10", source="wire")
    c = put(client, "https://c.example/4", THIRD, published_at="2024-01-20", source="paper")
    assert b["cluster_id"] == a["id"]

    assert client.delete("/v1/articles", params={"url": "https://a.example/4"}).status_code == 401
    assert client.delete("/v1/articles", params={"url": "https://a.example/4"}, headers=KEY).status_code == 204
    assert client.delete("/v1/articles", params={"url": "https://a.example/4"}, headers=KEY).status_code == 404
    survivor = client.get(f"/v1/clusters/{a['id']}").json()  # the cluster lives on with b as representative
    assert survivor["size"] == 1 and survivor["representative"]["id"] == b["id"]

    assert client.post("/v1/articles:delete", json={}, headers=KEY).status_code == 422
    assert client.post("/v1/articles:delete", json={"published_until": "soon"}, headers=KEY).status_code == 422
    dry = client.post("/v1/articles:delete", headers=KEY,
                      json={"published_from": "2024-01-01", "published_until": "2024-01-31", "dry_run": True})
    assert dry.json() == {"matched": 1, "deleted": 0, "dry_run": True}
    assert client.get(f"/v1/articles/{c['id']}").status_code == 200
    done = client.post("/v1/articles:delete", json={"source": "wire", "published_until": "2024-02-10"}, headers=KEY)
    assert done.json() == {"matched": 1, "deleted": 1, "dry_run": False}
    assert client.get(f"/v1/articles/{b['id']}").status_code == 404
    assert client.get(f"/v1/clusters/{a['id']}").status_code == 404  # emptied: gone
    assert client.get(f"/v1/articles/{c['id']}").status_code == 200
    # the deleted article's text is no longer found by a query
    assert client.post("/v1/duplicates/search", json={"text": REPOST}).json()["matches"] == []


def test_a_nul_in_a_note_or_a_bulk_delete_source_is_read_as_ingest_reads_it_on_every_store(client):
    """Ingest drops NUL characters from titles and sources (PostgreSQL refuses them in text); a correction's note
    and a bulk delete's source get the same treatment, so both stores answer alike (no 422 'cannot be stored'
    on PostgreSQL, no NUL stored on SQLite, and the source matches the articles ingested with it)."""
    a = put(client, "https://a.example/6", STORY, source="wi\x00re")
    b = put(client, "https://b.example/6", OTHER, source="paper")
    made = client.post("/v1/corrections", headers=KEY, json={"kind": "must_link", "article_id": a["id"],
                                                             "other_article_id": b["id"], "note": "same\x00 day "})
    assert made.status_code == 201, made.text
    assert made.json()["correction"]["note"] == "same day"
    dry = client.post("/v1/articles:delete", headers=KEY, json={"source": "wi\x00re", "dry_run": True})
    assert dry.status_code == 200, dry.text
    assert dry.json() == {"matched": 1, "deleted": 0, "dry_run": True}
    blank = client.post("/v1/articles:delete", headers=KEY, json={"source": "\x00 "})
    assert blank.status_code == 422 and "without a condition" in blank.json()["error"]["message"]
    backwards = client.post("/v1/articles:delete", headers=KEY,
                            json={"published_from": "2024-02-01", "published_until": "2024-01-01"})
    assert backwards.status_code == 422
    assert "published_from 2024-02-01 is after published_until 2024-01-01" in backwards.json()["error"]["message"]

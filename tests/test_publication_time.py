"""Clusters are dated by their articles' publication time (ingestion time for an article without one): after a
backfill in November of June's articles, "June" lists them, and `/v1/clusters?since=&until=` filters by it (it
was silently ignored). The re-cluster's write-back and `dedup check` agree with ingest on these dates."""

from __future__ import annotations

import sqlite3

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.recluster.run import run_recluster
from dedup.settings import Settings
from tests.api_backends import OTHER, STORY, THIRD, backend_settings


@pytest.fixture(params=["sqlite", "services"])
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings, TestClient(create_app(settings)) as c:
        yield c


def _backfill(client) -> None:  # type: ignore[no-untyped-def]
    articles = [{"url": "https://a.example/1", "text": STORY, "published_at": "2026-06-03T08:00:00+08:00"},
                {"url": "https://b.example/1", "text": STORY, "published_at": "2026-06-05"},
                {"url": "https://c.example/1", "text": OTHER, "published_at": "2026-05-20"},
                {"url": "https://d.example/1", "text": OTHER},  # no date: seen when ingested (now)
                {"url": "https://e.example/1", "text": THIRD, "published_at": "2026-07-01"}]
    assert all(r["status"] == 201 for r in
               client.post("/v1/articles:batch", json={"articles": articles}).json()["results"])


def _ids(client, **params) -> list[str]:  # type: ignore[no-untyped-def]
    response = client.get("/v1/clusters", params={"min_size": 1, **params})
    assert response.status_code == 200, response.text
    return [c["representative"]["url"] for c in response.json()["clusters"]]


def test_a_backfill_is_dated_by_publication(client):
    _backfill(client)
    june = client.get("/v1/clusters", params={"min_size": 1, "since": "2026-06-01", "until": "2026-06-30"}).json()
    assert [(c["representative"]["url"], c["first_seen"], c["last_seen"]) for c in june["clusters"]] == [
        ("https://a.example/1", "2026-06-03T00:00:00", "2026-06-05")]
    # newest last activity first: the undated article makes its cluster active now
    assert _ids(client) == ["https://c.example/1", "https://e.example/1", "https://a.example/1"]
    assert _ids(client, since="2026-07-01") == ["https://c.example/1", "https://e.example/1"]
    assert _ids(client, until="2026-06-30T23:59:59Z") == ["https://a.example/1"]
    page = client.get("/", params={"min_size": 1, "since": "2026-06-01", "until": "2026-06-30"}).text
    assert page.count("data-cluster-id") == 1 and "a.example" in page


@pytest.mark.parametrize("params", [{"since": "yesterday"}, {"until": "2026-13-01"}, {"since": "x" * 41}])
def test_a_bad_date_is_a_422_naming_it(client, params):
    response = client.get("/v1/clusters", params=params)
    assert response.status_code == 422, response.text
    assert next(iter(params)) in response.json()["error"]["message"]


def test_since_and_until_are_in_the_openapi_schema(client):
    params = {p["name"]: p for p in client.get("/openapi.json").json()["paths"]["/v1/clusters"]["get"]["parameters"]}
    assert {"since", "until"} <= set(params) and "publication" in params["since"]["description"]


def test_the_recluster_write_back_and_check_keep_publication_dates(engine, settings):
    engine.ingest_many([ArticleIn(url="https://a.example/1", text=STORY, published_at="2026-06-03"),
                        ArticleIn(url="https://b.example/1", text=STORY, published_at="2026-06-05"),
                        ArticleIn(url="https://c.example/1", text=OTHER)])
    before = {c.id: (c.first_seen, c.last_seen) for c in engine.list_clusters()}
    assert ("2026-06-03", "2026-06-05") in before.values()
    run_recluster(engine, settings)
    assert {c.id: (c.first_seen, c.last_seen) for c in engine.list_clusters()} == before
    report = engine.check(repair=False)
    assert report["wrong_times"] == 0 and report["repaired"] == 0


def test_an_older_sqlite_file_gets_publication_dates_when_opened(tmp_path):
    db = tmp_path / "old.db"
    settings = Settings(database_url=str(db), redis_url=None)
    engine = Engine(settings)
    engine.ingest_many([ArticleIn(url="https://a.example/1", text=STORY, published_at="2026-06-03"),
                        ArticleIn(url="https://b.example/1", text=STORY, published_at="2026-06-05")])
    engine.close()
    with sqlite3.connect(db) as conn:  # as a file written before: ingestion times, no change log
        conn.execute("UPDATE clusters SET first_seen = '2026-11-01T00:00:00+00:00', "
                     "last_seen = '2026-11-02T00:00:00+00:00'")
        conn.execute("DROP TABLE index_changes")
    engine = Engine(settings)
    try:
        assert [(c.first_seen, c.last_seen) for c in engine.list_clusters()] == [("2026-06-03", "2026-06-05")]
        assert engine.check(repair=False)["wrong_times"] == 0
    finally:
        engine.close()

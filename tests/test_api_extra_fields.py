"""Fields the API does not know (a crawler's `label`, `lang`) are ignored, as `dedup ingest` ignores them in JSONL;
a known field of the wrong type still fails its own item with a message naming it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api_backends import OTHER, STORY, backend_settings


@pytest.fixture(params=["sqlite", "services"])
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings, TestClient(create_app(settings)) as c:
        yield c


def test_a_batch_with_extra_fields_is_stored_item_by_item(client):
    items = [{"url": "https://a.example/1", "text": STORY, "label": "original", "lang": "zh"},
             {"url": "https://b.example/1", "text": STORY, "label": "repost"},
             {"url": "https://c.example/1", "text": OTHER, "title": 42, "label": "other"}]
    response = client.post("/v1/articles:batch", json={"articles": items})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 201, 422]
    assert results[1]["result"]["duplicate_of"] == "https://a.example/1"
    error = results[2]["error"]
    assert error["code"] == "validation_error" and "title" in error["message"], error
    assert error["fields"] == ["articles[2].title"], error
    assert client.get("/v1/articles", params={"url": "https://c.example/1"}).status_code == 404


def test_the_single_route_ignores_extra_fields_too(client):
    response = client.post("/v1/articles", json={"url": "https://a.example/2", "text": STORY, "label": "x"})
    assert response.status_code == 201, response.text
    stored = client.get("/v1/articles", params={"url": "https://a.example/2"}).json()
    assert "label" not in stored
    wrong = client.post("/v1/articles", json={"url": "https://a.example/3", "text": STORY, "published_at": 5})
    assert wrong.status_code == 422 and "published_at" in wrong.json()["error"]["message"], wrong.text

"""Bad input and protection: every error is JSON {"error": {"code", "message"}}, never a 500."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.settings import Settings
from tests.api_backends import STORY, backend_settings

KEY = "s3cret-key"


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=str(tmp_path / "e.db"), redis_url=None, api_key=None, max_article_bytes=10_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def keyed(tmp_path):
    settings = Settings(database_url=str(tmp_path / "k.db"), redis_url=None, api_key=KEY)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def error_of(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_api_key_guards_writes_and_admin(keyed):
    article = {"url": "https://a.example/1", "text": STORY}
    error_of(keyed.post("/v1/articles", json=article), 401, "unauthorized")
    error_of(keyed.post("/v1/articles", json=article, headers={"X-API-Key": "wrong"}), 401)
    error_of(keyed.post("/v1/articles", json=article, headers={"Authorization": "Bearer wrong"}), 401)
    error_of(keyed.post("/v1/articles:batch", json={"articles": [article]}), 401)
    error_of(keyed.post("/v1/admin/check"), 401)
    created = keyed.post("/v1/articles", json=article, headers={"Authorization": f"Bearer {KEY}"})
    assert created.status_code == 201
    error_of(keyed.delete(f"/v1/articles/{created.json()['id']}"), 401)
    assert keyed.get(f"/v1/articles/{created.json()['id']}").status_code == 200
    assert keyed.post("/v1/duplicates/search", json={"text": STORY}).status_code == 200
    assert keyed.post("/v1/admin/check", headers={"X-API-Key": KEY}).json()["indexed"] == 1
    assert keyed.delete(f"/v1/articles/{created.json()['id']}", headers={"X-API-Key": KEY}).status_code == 204


def test_body_too_large(client):
    big = {"url": "https://a.example/1", "text": "新闻" * 40_000}
    error_of(client.post("/v1/articles", json=big), 413, "payload_too_large")

    def chunks():  # no Content-Length: the limit applies to the bytes actually read
        yield b'{"url": "https://a.example/1", "text": "'
        for _ in range(100):
            yield ("新闻" * 500).encode()
        yield b'"}'

    error_of(client.post("/v1/articles", content=chunks(), headers={"content-type": "application/json"}), 413)
    item = {"url": "https://b.example/1", "text": "新闻" * 2_000}  # 12 kB of text, under the body limit
    error_of(client.post("/v1/articles", json=item), 413)
    batch = client.post("/v1/articles:batch", json={"articles": [item, {"url": "https://c.example/1", "text": STORY}]})
    assert [r["status"] for r in batch.json()["results"]] == [413, 201]


def test_invalid_json_and_fields_name_the_field(client):
    error_of(client.post("/v1/articles", content=b'{"url": ', headers={"content-type": "application/json"}),
             422, "invalid_json")
    err = error_of(client.post("/v1/articles", json={"text": STORY}), 422, "validation_error")
    assert err["fields"] == ["url"] and "url" in err["message"]
    err = error_of(client.post("/v1/articles", json={"url": "https://a.example/1", "text": 5}), 422)
    assert err["fields"] == ["text"]
    err = error_of(client.post("/v1/articles", json={"url": "ftp://a.example/1", "text": STORY}), 422,
                   "invalid_article")
    assert "url" in err["message"]
    err = error_of(client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY,
                                                     "published_at": "someday"}), 422)
    assert "published_at" in err["message"]
    error_of(client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY, "html": "<p>x</p>"}), 422)
    error_of(client.post("/v1/articles", json=[1, 2]), 422)
    error_of(client.get("/v1/articles/abc"), 422)
    err = error_of(client.get("/v1/clusters", params={"limit": 0}), 422)
    assert err["fields"] == ["limit"]
    error_of(client.post("/v1/duplicates/search", json={}), 422)
    error_of(client.post("/v1/duplicates/search", json={"text": STORY, "threshold": 2}), 422)


def test_empty_text_is_422(client):
    error_of(client.post("/v1/articles", json={"url": "https://a.example/1", "text": "   "}), 422, "empty_text")
    error_of(client.post("/v1/articles", json={"url": "https://a.example/1", "html": "<p>！！。。</p>"}), 422,
             "empty_text")
    error_of(client.post("/v1/duplicates/search", json={"text": "……"}), 422, "empty_text")


def test_undecodable_bytes_are_400(client):
    body = b'{"url": "https://a.example/1", "text": "\xff\xfe\xb0"}'
    error_of(client.post("/v1/articles", content=body, headers={"content-type": "application/json"}), 400,
             "undecodable_body")
    gbk = json.dumps({"url": "https://a.example/1", "text": STORY}, ensure_ascii=False).encode("gbk")
    error_of(client.post("/v1/articles", content=gbk, headers={"content-type": "application/json"}), 400)


def test_unknown_ids_routes_and_methods(client):
    error_of(client.get("/v1/articles/12345"), 404, "not_found")
    error_of(client.get("/v1/articles", params={"url": "https://none.example/"}), 404)
    error_of(client.delete("/v1/articles/12345"), 404)
    error_of(client.get("/v1/clusters/12345"), 404)
    error_of(client.get("/v1/nothing-here"), 404, "not_found")
    error_of(client.put("/v1/articles"), 405, "method_not_allowed")
    error_of(client.get("/v1/explain", params={"a": 1}), 422)


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_no_500_on_odd_input(kind, tmp_path):
    odd = [{"url": "https://a.example/\u0000", "text": STORY}, {"url": "https://a.example/1", "text": "\ud800" * 3},
           {"url": "https://a.example/2", "text": STORY + "\ud800"}, {"url": "https://a.example/3", "text": STORY,
                                                                       "title": "标题\udfff"},
           {"url": "h" * 5000, "text": STORY}, {"url": "https://a.example/1", "text": STORY, "title": "t" * 5000},
           {"url": "https://a.example/1", "text": STORY, "published_at": "2024-13-45"}, {"url": None, "text": STORY}]
    with backend_settings(kind, tmp_path) as settings, \
            TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for item in odd:
            r = client.post("/v1/articles", content=json.dumps(item).encode(),
                            headers={"content-type": "application/json"})
            assert r.status_code < 500, (item, r.status_code, r.text)
        for path in ("/v1/articles/99999999999999999999", "/v1/articles/0", "/v1/clusters/99999999999",
                     "/v1/articles?url=%00", "/v1/duplicates?url=https://a.example/%01",
                     "/v1/explain?a=1&b=99999999999", "/v1/clusters?min_size=99999999999999"):
            r = client.get(path)
            assert 400 <= r.status_code < 500 and "error" in r.json(), (path, r.status_code, r.text)


def test_unreachable_backends_are_503(client, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError
    from sqlalchemy.exc import OperationalError

    engine = client.app.state.engine

    def down(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(engine.store, "ping", down)
    err = error_of(client.get("/readyz"), 503, "unavailable")
    assert "database" in err["message"]
    assert client.get("/healthz").status_code == 200
    monkeypatch.setattr(engine.store, "get_article", down)
    error_of(client.get("/v1/articles/1"), 503, "unavailable")

    def redis_down(*_args, **_kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(engine.index, "query", redis_down)
    error_of(client.post("/v1/duplicates/search", json={"text": STORY}), 503, "unavailable")


def test_non_json_content_type_is_422(client):
    r = client.post("/v1/articles", content=b"url=https://a.example/1", headers={"content-type": "text/plain"})
    assert r.status_code == 422 and "error" in r.json()

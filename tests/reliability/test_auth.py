"""Auth: every write and admin route (taken from the OpenAPI schema, so a new route cannot be forgotten) refuses
a missing or wrong key; reads and search stay open as documented; keys go through a constant-time compare and
never reach a log line or a response."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

import app.deps
from app.main import create_app
from dedup.settings import Settings
from tests.api_backends import STORY

KEY = "k3y-Ab9f0c1d2e3f4a5b6c7d8e9f"
OPEN_POSTS = {"/v1/duplicates/search"}  # documented: reads and search stay open
# Documented exception: watches name webhook targets, so even their reads need the key.
KEYED_READS = {"/v1/watches", "/v1/watches/{watch_id}", "/v1/watches/{watch_id}/deliveries"}
WRONG = [None, {"X-API-Key": ""}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"},
         {"Authorization": f"Bearer {KEY[:-1]}"}, {"X-API-Key": KEY + "x"}, {"Authorization": KEY},
         {"Authorization": f"Basic {KEY}"}, {"X-API-Key": KEY.upper()}]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory):
    settings = Settings(database_url=str(tmp_path_factory.mktemp("auth") / "a.db"), redis_url=None, api_key=KEY)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_write_and_admin_route_refuses_missing_or_wrong_keys(keyed):
    guarded = [(m, p) for m, p in _routes(keyed) if m in ("POST", "PUT", "PATCH", "DELETE") and p not in OPEN_POSTS]
    assert {("POST", "/v1/articles"), ("POST", "/v1/articles:batch"), ("DELETE", "/v1/articles/{article_id}"),
            ("POST", "/v1/admin/check")} <= set(guarded)
    for method, path in guarded:
        for headers in WRONG:
            r = keyed.request(method, _concrete(path), headers=headers, json={"url": "https://a.example/1",
                                                                            "text": STORY, "articles": []})
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert r.json()["error"]["code"] == "unauthorized" and r.headers["www-authenticate"] == "Bearer"
            assert KEY not in r.text
    assert keyed.get("/metrics").text.count('dedup_articles 0.0') == 1, "a refused write stored something"


def test_reads_follow_the_documented_policy(keyed):
    created = keyed.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY},
                         headers={"Authorization": f"Bearer {KEY}"})
    assert created.status_code == 201
    assert keyed.post("/v1/articles", json={"url": "https://a.example/2", "text": STORY},
                      headers={"X-API-Key": KEY}).status_code == 201
    reads = [(m, p) for m, p in _routes(keyed) if m == "GET"]
    assert KEYED_READS <= {p for _, p in reads}
    for method, path in reads:
        r = keyed.request(method, _concrete(path), params={"url": "https://a.example/1", "a": 1, "b": 2})
        if path in KEYED_READS:
            assert r.status_code == 401, (path, r.status_code)
            continue
        assert r.status_code != 401 and r.status_code < 500, (path, r.status_code, r.text[:200])
    assert keyed.post("/v1/duplicates/search", json={"text": STORY}).status_code == 200


def test_keys_are_compared_in_constant_time(keyed, monkeypatch):
    """Every presented key goes through hmac.compare_digest, never `==` (whose time leaks the common prefix)."""
    seen: list[tuple[bytes, bytes]] = []
    real = app.deps.hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app.deps.hmac, "compare_digest", recording)
    for headers in WRONG[2:] + [{"X-API-Key": KEY}]:
        keyed.post("/v1/admin/check", headers=headers)
    presented = [h.get("X-API-Key") or h["Authorization"].split(" ", 1)[-1] for h in WRONG[2:] + [{"X-API-Key": KEY}]
                 if not h.get("Authorization", "").startswith("Basic") and h.get("Authorization") != KEY]
    assert [a.decode() for a, _ in seen][-len(presented):] == presented
    assert all(b == KEY.encode() for _, b in seen)


def test_keys_never_reach_the_logs(tmp_path, caplog):
    """With every logger at DEBUG, right and wrong keys on every kind of request: the key is in no log record."""
    settings = Settings(database_url=str(tmp_path / "l.db"), redis_url=None, api_key=KEY)
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for headers in ({"Authorization": f"Bearer {KEY}"}, {"X-API-Key": KEY}, {"X-API-Key": KEY + "-wrong"}):
            client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY}, headers=headers)
            client.post("/v1/articles", content=b"{bad json", headers={**headers, "content-type": "application/json"})
            client.post("/v1/admin/check", headers=headers)
            client.delete("/v1/articles/999", headers=headers)
        metrics = client.get("/metrics").text
    assert caplog.records, "nothing was logged at all: the check would be empty"
    assert KEY not in caplog.text and KEY not in metrics
    assert all(KEY not in str(record.__dict__) for record in caplog.records)


def _asgi_post(application, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, dict, int]:
    """Drive the ASGI app directly with a body stream that fails if it is read past `chunks`: (status, error,
    body messages read)."""
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        if reads >= len(chunks):
            raise AssertionError("the body was read although the request was to be refused first")
        reads += 1
        return {"type": "http.request", "body": chunks[reads - 1], "more_body": reads < len(chunks)}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    length = sum(map(len, chunks)) if chunks else 30_000_000  # an unread body: declared as a 30 MB batch
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "state": {},
             "server": ("test", 80), "client": ("127.0.0.1", 1234),
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(length).encode()),
                         *((k.lower().encode(), v.encode()) for k, v in headers.items())]}
    asyncio.run(application(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(body)["error"], reads


@pytest.mark.parametrize("path", ["/v1/articles:batch", "/v1/articles"])
def test_the_key_is_checked_before_the_body_is_read(tmp_path, path):
    """A 30 MB unauthenticated batch used to be read and parsed before its 401: now not one byte is read."""
    application = create_app(Settings(database_url=str(tmp_path / "b.db"), redis_url=None, api_key=KEY))
    for headers in WRONG[1:4]:
        status, error, reads = _asgi_post(application, path, headers, [])
        assert (status, error["code"], reads) == (401, "unauthorized", 0), (headers, status, error)
    # With the right key the same request is read (the stream is observable) and judged on its body.
    status, error, reads = _asgi_post(application, path, {"X-API-Key": KEY}, [b'{"url": ', b'"x'])
    assert (status, error["code"], reads) == (422, "invalid_json", 2), error


def test_invalid_json_or_a_huge_body_without_a_key_is_401_not_422(keyed):
    for body in (b"{bad json", b'{"articles": [' + b'{"url": "https://a.example/x", "text": "x"},' * 10, b"x" * 30_000_000):
        r = keyed.post("/v1/articles:batch", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text[:200]
    r = keyed.post("/v1/articles", content=b"{bad json", headers={"content-type": "application/json", "X-API-Key": KEY})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_json"
    assert keyed.post("/v1/duplicates/search", content=b"{bad", headers={"content-type": "application/json"}
                      ).status_code == 422  # open routes: judged on the body, as documented

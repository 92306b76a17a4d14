"""A write lock held by another process (a backup, a `sqlite3` shell, a stuck job) once made every write wait 30 s
and then answer 500. Now the wait is DEDUP_DB_BUSY_TIMEOUT and the answer a 503 with Retry-After, nothing
changed; the same for PostgreSQL's lock_timeout on the writers' lock."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.store.sql import database_url
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

BUSY = 0.5


@contextmanager
def held_write_lock(url: str) -> Iterator[None]:
    """Another connection that holds the writers' lock: SQLite's RESERVED lock, or the PostgreSQL advisory lock
    every ingest takes first (same schema, so the same key)."""
    if not url.startswith("postgresql"):
        other = sqlite3.connect(url, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = sa.create_engine(database_url(url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('dedup-write:' || "
                                 "coalesce(current_schema(), 'public')))"))
            yield
    finally:
        engine.dispose()


def _busy(response, started: float) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 503, response.text[:500]
    assert response.headers["retry-after"] == "2"
    error = response.json()["error"]
    assert error["code"] == "busy" and "locked by another writer" in error["message"], error
    assert "nothing was stored" in error["message"] and "DEDUP_DB_BUSY_TIMEOUT" in error["message"], error
    assert time.monotonic() - started < 10 * BUSY + 5  # the setting, not the 30 s default


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_a_write_lock_held_elsewhere_gives_503_with_retry_after(kind, tmp_path):
    with backend_settings(kind, tmp_path, db_busy_timeout=BUSY) as settings, \
            TestClient(create_app(settings), raise_server_exceptions=False) as client:
        first = client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY})
        assert first.status_code == 201
        with held_write_lock(settings.database_url):
            for method, path, body in (("POST", "/v1/articles", {"url": "https://b.example/1", "text": OTHER}),
                                       ("POST", "/v1/articles:batch",
                                        {"articles": [{"url": "https://c.example/1", "text": THIRD}]}),
                                       ("POST", "/v1/articles", {"url": "https://a.example/1", "text": THIRD}),
                                       ("DELETE", f"/v1/articles/{first.json()['id']}", None)):
                started = time.monotonic()
                _busy(client.request(method, path, json=body), started)
            assert client.get(f"/v1/articles/{first.json()['id']}").json()["text"] == STORY  # reads go on
        assert client.get("/v1/articles", params={"url": "https://b.example/1"}).status_code == 404
        assert client.get(f"/v1/articles/{first.json()['id']}").json()["text"] == STORY
        retried = client.post("/v1/articles", json={"url": "https://b.example/1", "text": OTHER})
        assert retried.status_code == 201, retried.text

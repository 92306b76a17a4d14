"""A server's in-process index sees what other processes write to the same database (`dedup ingest` beside
`dedup serve` on one SQLite file; two servers on one PostgreSQL): new articles, updates and deletes reach it
before it answers, incrementally from the store's change log. Once the server said ready while indexing 4 of 8
articles, and a repost of one of the other 4 was stored as a new story."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.main import create_app
from dedup.cli.commands import app as cli
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.settings import Settings
from tests.api_backends import OTHER, STORY, THIRD, pg_schema
from tests.conftest import ROOT, service_url


@contextmanager
def _database(kind: str, tmp_path):  # type: ignore[no-untyped-def]
    if kind == "sqlite":
        yield str(tmp_path / "shared.db")
        return
    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def two_engines(request, tmp_path):
    """Two engines with their own in-process index on one database, as two processes would have."""
    with _database(request.param, tmp_path) as url:
        settings = Settings(database_url=url, redis_url=None)
        server, other = Engine(settings), Engine(settings)
        yield server, other
        server.close()
        other.close()


def test_articles_written_elsewhere_are_found_and_joined(two_engines):
    server, other = two_engines
    original = other.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    assert [m.url for m in server.query_text(STORY)] == ["https://a.example/1"]
    repost = server.ingest(ArticleIn(url="https://b.example/1", text=STORY))
    assert repost.is_duplicate and repost.cluster_id == original.cluster_id
    assert server.index_size() == 2


def test_updates_and_deletes_written_elsewhere_leave_the_index(two_engines):
    server, other = two_engines
    other.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    server.ingest(ArticleIn(url="https://a.example/2", text=OTHER))
    other.ingest(ArticleIn(url="https://a.example/1", text=THIRD))  # updated elsewhere: no longer STORY
    assert server.query_text(STORY) == []
    assert [m.url for m in server.query_text(THIRD)] == ["https://a.example/1"]
    other.delete_article_by_url("https://a.example/2")
    assert server.query_text(OTHER) == []
    twin = server.ingest(ArticleIn(url="https://b.example/1", text=THIRD))
    assert twin.duplicate_of == "https://a.example/1"
    assert server.index_size() == 2


def test_catching_up_reads_only_what_changed(two_engines):
    server, other = two_engines
    other.ingest_many([ArticleIn(url=f"https://a.example/{i}", text=f"{STORY}第{i}条。") for i in range(5)])
    assert server.catch_up() == 5
    assert server.catch_up() == 0  # nothing new: one query, nothing re-read
    other.ingest(ArticleIn(url="https://a.example/9", text=OTHER))
    assert server.catch_up() == 1


def test_the_server_reports_and_uses_what_another_process_ingested(tmp_path):
    db = str(tmp_path / "serve.db")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text(STORY, encoding="utf-8")
    (tmp_path / "in" / "b.txt").write_text(OTHER, encoding="utf-8")
    settings = Settings(database_url=db, redis_url=None, api_key=None)
    with TestClient(create_app(settings)) as client:
        client.post("/v1/articles", json={"url": "https://s.example/0", "text": THIRD})
        # another process, as `dedup ingest` in a second terminal
        result = subprocess.run([sys.executable, "-c", "from dedup.cli.commands import main; main()", "ingest",
                                 str(tmp_path / "in"), "--db", db], capture_output=True, text=True, timeout=300,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 0, result.stderr
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
        articles = re.search(r"^dedup_articles (\S+)", metrics, re.M).group(1)
        indexed = re.search(r"^dedup_index_size (\S+)", metrics, re.M).group(1)
        assert float(articles) == float(indexed) == 3
        repost = client.post("/v1/articles", json={"url": "https://r.example/1", "text": STORY}).json()
        assert repost["is_duplicate"] and repost["duplicate_of"].endswith("a.txt"), repost


def test_dedup_check_on_sqlite_reports_signatures_that_do_not_match_their_text(tmp_path):
    """`dedup check` on SQLite printed zeros whatever was wrong: the in-process index it compared with was just
    rebuilt from the very signatures it checked. It now checks the signatures against the stored texts."""
    db = str(tmp_path / "check.db")
    settings = Settings(database_url=db, redis_url=None, api_key=None)
    writer = Engine(settings)
    ids = [writer.ingest(ArticleIn(url=f"https://a.example/{i}", text=text)).id
           for i, text in enumerate((STORY, OTHER, THIRD))]
    writer.close()
    with sqlite3.connect(db) as conn:  # one signature is another text's, one was made under other parameters
        conn.execute("UPDATE signatures SET hashvalues = (SELECT hashvalues FROM signatures WHERE article_id = ?) "
                     "WHERE article_id = ?", (ids[1], ids[0]))
        conn.execute("UPDATE signatures SET version = 'old' WHERE article_id = ?", (ids[2],))
    server = Engine(settings)
    try:
        found = CliRunner().invoke(cli, ["check", "--no-repair", "--db", db])
        assert found.exit_code == 1, found.output  # something is wrong: a monitoring job sees it
        report = json.loads(found.output)
        assert (report["wrong_signatures"], report["stale_signatures"], report["repaired"]) == (1, 1, 0), report
        fixed = json.loads(CliRunner().invoke(cli, ["check", "--db", db]).output)
        assert fixed["wrong_signatures"] == 1 and fixed["repaired"] == 1, fixed
        again = json.loads(CliRunner().invoke(cli, ["check", "--db", db]).output)
        assert (again["wrong_signatures"], again["stale_signatures"], again["repaired"]) == (0, 1, 0), again
        clean = CliRunner().invoke(cli, ["check", "--no-repair", "--db", db])
        assert clean.exit_code == 0, clean.output  # a stale signature is not wrong: the re-cluster re-signs it
        # the running server re-indexes the repaired article without a restart
        assert server.catch_up() == 1
        assert [m.url for m in server.query_text(STORY)] == ["https://a.example/0"]
    finally:
        server.close()

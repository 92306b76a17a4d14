"""Exports: every article with its cluster, representative and score, or only representatives (the deduplicated
dataset), as JSONL, CSV (CLI and streamed over HTTP) and Parquet (CLI); SQLite and PostgreSQL + Redis."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.main import create_app
from dedup.cli.commands import app as cli
from dedup.ops import export as export_module
from tests.api_backends import OTHER, STORY, backend_settings

BACKENDS = ["sqlite", "services"]
TITLE = 'Budget, "final" version'


@pytest.fixture(params=BACKENDS)
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings, TestClient(create_app(settings)) as c:
        c.post("/v1/articles", json={"url": "https://late.example/1", "text": STORY, "title": TITLE,
                                     "published_at": "2026-03-14T08:00:00", "source": "late"})
        c.post("/v1/articles", json={"url": "https://early.example/1", "text": STORY + "另据了解，相关部门将于下周公布具体实施细则。",
                                     "published_at": "2026-03-13T08:00:00", "source": "early"})
        c.post("/v1/articles", json={"url": "https://other.example/1", "text": OTHER})
        yield c


def _jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_export_names_each_articles_representative_and_score(client, monkeypatch):
    monkeypatch.setattr(export_module, "_PAGE", 1)  # one cluster per read: paging must not lose or repeat rows
    answer = client.get("/v1/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/x-ndjson"
    rows = {r["url"]: r for r in _jsonl(answer.text)}
    assert len(rows) == 3
    late, early = rows["https://late.example/1"], rows["https://early.example/1"]
    assert late["cluster_id"] == early["cluster_id"] != rows["https://other.example/1"]["cluster_id"]
    assert early["is_representative"] and not late["is_representative"]  # the earliest published represents
    assert late["representative_url"] == "https://early.example/1" and 0.5 < late["score"] < 1.0
    assert early["score"] == 1.0 and late["title"] == TITLE and late["source"] == "late"
    assert late["published_at"].startswith("2026-03-14")


def test_one_per_cluster_keeps_only_representatives_as_csv(client):
    answer = client.get("/v1/export", params={"format": "csv", "keep": "one-per-cluster"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["url"] for r in rows) == ["https://early.example/1", "https://other.example/1"]
    assert {r["is_representative"] for r in rows} == {"True"}
    bad = client.get("/v1/export", params={"format": "xml"})
    assert bad.status_code == 422 and "format" in bad.json()["error"]["message"]


def test_cli_exports_parquet_csv_and_jsonl(tmp_path):
    db = str(tmp_path / "cli.db")
    runner = CliRunner()
    (tmp_path / "a.txt").write_text(STORY, encoding="utf-8")
    (tmp_path / "b.txt").write_text(STORY + "另据了解，相关部门将于下周公布具体实施细则。", encoding="utf-8")
    (tmp_path / "c.txt").write_text(OTHER, encoding="utf-8")
    assert runner.invoke(cli, ["ingest", str(tmp_path), "--db", db]).exit_code == 0
    target = tmp_path / "out.parquet"
    made = runner.invoke(cli, ["export", "--format", "parquet", "-o", str(target), "--db", db])
    assert made.exit_code == 0, made.output
    table = pq.read_table(target).to_pylist()
    assert len(table) == 3 and sum(r["is_representative"] for r in table) == 2
    assert {r["cluster_id"] for r in table if not r["is_representative"]} <= {r["cluster_id"] for r in table}
    reps = runner.invoke(cli, ["export", "--keep", "one-per-cluster", "--db", db])
    assert reps.exit_code == 0 and len(_jsonl(reps.stdout)) == 2
    as_csv = runner.invoke(cli, ["export", "--format", "csv", "--db", db])
    assert len(list(csv.DictReader(io.StringIO(as_csv.stdout)))) == 3
    for args, message in [(["--format", "xml"], "unknown format"), (["--keep", "some"], "unknown --keep"),
                          (["--format", "parquet"], "--output")]:
        failed = runner.invoke(cli, ["export", *args, "--db", db])
        assert failed.exit_code == 2 and message in failed.output

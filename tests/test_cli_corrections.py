"""Corrections, deletes and retention from the command line, and the retention policy run by the scheduler
(recorded like re-cluster runs), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from dedup.cli.commands import app
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.ops.retention import apply_retention
from dedup.ops.scheduler import run_once
from dedup.quality.judged_pairs import load_pairs
from dedup.recluster.run_log import list_runs
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

runner = CliRunner()
REPOST = STORY + "（来源：人民网）"


def invoke(*args: str):
    return runner.invoke(app, list(args))


def write(tmp_path, rows: list[dict]) -> str:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_correct_list_withdraw_and_export_from_the_cli(tmp_path):
    db = str(tmp_path / "x.db")
    rows = [{"url": "https://a.example/1", "text": STORY, "published_at": "2026-03-01"},
            {"url": "https://b.example/1", "text": REPOST, "published_at": "2026-03-02"}]
    assert invoke("ingest", write(tmp_path, rows), "--db", db, "-q").exit_code == 0

    bad = invoke("correct", "maybe-link", "1", "2", "--db", db)
    assert bad.exit_code == 2 and "must-link or cannot-link" in bad.output
    missing = invoke("correct", "cannot-link", "https://nowhere.example/x", "1", "--db", db)
    assert missing.exit_code == 1 and "no article with url" in missing.output

    done = invoke("correct", "cannot-link", "https://b.example/1", "https://a.example/1", "--note", "two days",
                  "--db", db)
    assert done.exit_code == 0, done.output
    assert "recorded: #1 cannot-link of article 2 and article 1" in done.output and "clusters now 2 and 1" in done.output
    listed = invoke("corrections", "--db", db)
    assert "#1 cannot-link" in listed.output and "by cli" in listed.output and "two days" in listed.output

    conflict = invoke("correct", "must-link", "1", "2", "--db", db)
    assert conflict.exit_code == 1 and "contradicts correction 1 (cannot-link" in conflict.output

    pairs = tmp_path / "pairs.jsonl"
    exported = invoke("eval", "--export-corrections", str(pairs), "--db", db)
    assert exported.exit_code == 0 and "1 judged pairs" in exported.output
    assert [(p["url_a"], p["url_b"], p["label"]) for p in load_pairs(pairs)] == [
        ("https://b.example/1", "https://a.example/1", "not_duplicate")]

    assert invoke("withdraw", "1", "--db", db).exit_code == 0
    assert "no corrections" in invoke("corrections", "--db", db).output
    assert "withdrawn" in invoke("corrections", "--all", "--db", db).output
    assert invoke("withdraw", "7", "--db", db).exit_code == 1


def test_delete_by_url_and_in_bulk_from_the_cli(tmp_path):
    db = str(tmp_path / "x.db")
    rows = [{"url": "https://a.example/2", "text": STORY, "published_at": "2024-01-10", "source": "wire"},
            {"url": "https://b.example/2", "text": OTHER, "published_at": "2024-02-10", "source": "wire"},
            {"url": "https://c.example/2", "text": THIRD, "published_at": "2024-01-20", "source": "paper"}]
    assert invoke("ingest", write(tmp_path, rows), "--db", db, "-q").exit_code == 0
    assert invoke("delete", "--db", db).exit_code == 1  # no condition: refused, nothing deleted
    dry = invoke("delete", "--source", "wire", "--dry-run", "--db", db)
    assert "2 matched, 0 deleted (dry run)" in dry.output
    bulk = invoke("delete", "--published-from", "2024-01-15", "--published-until", "2024-01-31", "--db", db)
    assert "1 matched, 1 deleted" in bulk.output
    one = invoke("delete", "--url", "https://a.example/2", "--db", db)
    assert one.exit_code == 0 and "deleted article 1" in one.output
    gone = invoke("delete", "--url", "https://a.example/2", "--db", db)
    assert gone.exit_code == 1 and "no article with url" in gone.output
    exported = invoke("export", "--db", db)
    assert [json.loads(line)["url"] for line in exported.output.splitlines()] == ["https://b.example/2"]


@pytest.fixture(params=["sqlite", "services"])
def settings(request, tmp_path):
    with backend_settings(request.param, tmp_path) as base:
        yield base


def test_retention_deletes_by_publication_else_ingest_time_and_is_recorded(settings):
    engine = Engine(settings)
    try:
        today = datetime.now(UTC)
        old = engine.ingest(ArticleIn(url="https://a.example/3", text=STORY,
                                      published_at=(today - timedelta(days=40)).date().isoformat())).id
        kept = engine.ingest(ArticleIn(url="https://b.example/3", text=REPOST,
                                       published_at=(today - timedelta(days=5)).date().isoformat())).id
        undated = engine.ingest(ArticleIn(url="https://c.example/3", text=OTHER)).id  # ingested now
        assert engine.get_article(kept).cluster_id == old

        dry = apply_retention(engine, 30, dry_run=True)
        assert (dry["matched"], dry["deleted"]) == (1, 0)
        report = apply_retention(engine, 30)
        assert (report["matched"], report["deleted"]) == (1, 1)
        assert {a.id for a in engine.store.iter_articles()} == {kept, undated}
        assert engine.get_cluster(old)[0].representative_id == kept  # the cluster lives on without it
        assert engine.query_text(STORY)[0].id == kept  # the deleted one left the index

        later = apply_retention(engine, 30, today=today + timedelta(days=31))  # no date: its ingest time counts
        assert later["deleted"] == 2
        runs = list_runs(engine.store)
        assert [(r["engine"], r["status"]) for r in runs[:3]] == [
            ("retention", "succeeded"), ("retention", "succeeded"), ("retention", "dry_run")]
        assert runs[0]["report"]["cutoff"] and runs[0]["report"]["deleted"] == 2
    finally:
        engine.close()


def test_the_scheduler_applies_retention_before_the_recluster_only_when_set(settings):
    engine = Engine(settings)
    old = (datetime.now(UTC) - timedelta(days=400)).date().isoformat()
    engine.ingest(ArticleIn(url="https://a.example/4", text=STORY, published_at=old))
    engine.close()
    run_once(settings)  # off by default: nothing deleted
    run_once(settings.model_copy(update={"retention_days": 365}))
    engine = Engine(settings)
    try:
        assert engine.store.counts()["articles"] == 0
        assert [r["engine"] for r in list_runs(engine.store)] == ["local", "retention", "local"]
    finally:
        engine.close()

"""CLI behaviour users see: verdicts, summaries, and clear errors with non-zero exits."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from dedup.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_jsonl_errors_name_the_line_and_exit_non_zero(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join([
        json.dumps({"url": "https://a.example/1", "text": "今年以来双鸭山市在抗击疫情的同时全力抓住招商引资"}),
        "{not json",
        json.dumps({"text": "没有网址的文章内容在这里"}),
        json.dumps({"url": "https://a.example/2", "text": "   "}),
        json.dumps({"url": "https://a.example/3", "text": "，。！？"}),
    ]), encoding="utf-8")
    result = invoke("ingest", str(path), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1
    assert "invalid JSON on line 2" in result.output
    assert "line 3: missing url" in result.output
    assert "text is empty" in result.output
    assert "empty after normalization" in result.output
    assert "1 new stories" in result.output and "3 failed" in result.output or "4 failed" in result.output


def test_unreadable_and_missing_files(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa invalid")
    result = invoke("ingest", str(bad), str(tmp_path / "missing.txt"), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1
    assert "not valid UTF-8" in result.output
    assert "does not exist" in result.output


def test_query_explain_and_export(tmp_path, seed_files):
    db = str(tmp_path / "x.db")
    assert invoke("ingest", str(seed_files[0].parent), "--db", db).exit_code == 0
    result = invoke("query", "--file", str(seed_files[1]), "--db", db, "--json")
    assert result.exit_code == 0, result.output
    matches = json.loads(result.output)
    found = sorted(m["url"].rsplit("/", 1)[-1][:3] for m in matches)
    assert found == ["000", "001"]

    url_a, url_b = seed_files[0].resolve().as_uri(), seed_files[1].resolve().as_uri()
    result = invoke("explain", url_a, url_b, "--db", db)
    assert result.exit_code == 0 and "DUPLICATE" in result.output

    result = invoke("explain", url_a, seed_files[2].resolve().as_uri(), "--db", db)
    assert "not a duplicate" in result.output

    result = invoke("export", "--format", "jsonl", "--db", db)
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert len(lines) == 5 and lines[0]["cluster_id"] == lines[1]["cluster_id"]


def test_query_needs_exactly_one_input_and_unknown_url_fails(tmp_path):
    assert invoke("query", "--db", str(tmp_path / "x.db")).exit_code == 2
    result = invoke("query", "--url", "https://nowhere.example/x", "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1 and "no article with url" in result.output


def test_invalid_settings_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("DEDUP_LSH_THRESHOLD", "0.9")
    result = invoke("clusters", "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1 and "lsh_threshold" in result.output


def test_global_options_override_settings_and_are_validated(tmp_path, seed_files):
    db = str(tmp_path / "x.db")
    result = invoke("--ngram", "4", "ingest", str(seed_files[0]), "--db", db)
    assert result.exit_code == 0, result.output
    result = invoke("--lsh-threshold", "0.95", "clusters", "--db", db)
    assert result.exit_code == 1 and "lsh_threshold" in result.output
    result = invoke("--num-perm", "3", "clusters", "--db", db)
    assert result.exit_code == 1 and "num_perm" in result.output


def _serve_with(monkeypatch, tmp_path, workers: int, redis_url: str | None):  # type: ignore[no-untyped-def]
    """`dedup serve --workers N` with uvicorn replaced by a recorder: what would have been started, if anything."""
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    monkeypatch.setenv("DEDUP_DATABASE_URL", str(tmp_path / "w.db"))  # serve writes it; restored afterwards
    monkeypatch.setenv("DEDUP_METRICS_DIR", str(tmp_path / "metrics"))
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    if redis_url:
        monkeypatch.setenv("DEDUP_REDIS_URL", redis_url)
    else:
        monkeypatch.delenv("DEDUP_REDIS_URL", raising=False)
    return invoke("serve", "--workers", str(workers), "--db", str(tmp_path / "w.db")), started


def test_serve_refuses_several_workers_with_in_process_indexes(monkeypatch, tmp_path):
    result, started = _serve_with(monkeypatch, tmp_path, 3, None)
    assert result.exit_code == 2 and started == []
    message = " ".join(result.output.split())
    assert "--workers 3 on SQLite with an in-process index" in message and "DEDUP_REDIS_URL" in message


def test_serve_starts_one_worker_or_several_sharing_redis(monkeypatch, tmp_path):
    result, started = _serve_with(monkeypatch, tmp_path, 1, None)
    assert result.exit_code == 0 and started[0]["workers"] == 1
    result, started = _serve_with(monkeypatch, tmp_path, 2, "redis://127.0.0.1:6379/0")
    assert result.exit_code == 0 and started[0]["workers"] == 2

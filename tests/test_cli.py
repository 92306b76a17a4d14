"""CLI behaviour users see: verdicts, summaries, and clear errors with non-zero exits."""

from __future__ import annotations

import json
import os
import signal

from typer.testing import CliRunner

from dedup.cli.commands import app

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


def test_a_jsonl_line_that_is_not_utf8_fails_alone(tmp_path):
    """JSONL is read line by line: a bad line is that line's error, the lines around it are stored."""
    path = tmp_path / "in.jsonl"
    good = [json.dumps({"url": f"https://a.example/{i}", "text": text}, ensure_ascii=False).encode()
            for i, text in enumerate(["今年以来双鸭山市在抗击疫情的同时全力抓住招商引资", "国务院新闻办公室今天举行发布会介绍经济运行情况"])]
    path.write_bytes(b"\xef\xbb\xbf" + good[0] + b"\r\n" + b'{"url": "https://a.example/x", "text": "\xff"}\n' + good[1])
    result = invoke("ingest", str(path), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1
    assert f"{path}:2: line 2 is not valid UTF-8 (byte 40)" in result.output.replace("\n", "")
    assert "3 inputs: 2 new stories" in result.output and "1 failed" in result.output


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
    assert result.exit_code == 1 and "DEDUP_LSH_THRESHOLD" in result.output


def test_global_options_override_settings_and_are_validated(tmp_path, seed_files):
    db = str(tmp_path / "x.db")
    result = invoke("--ngram", "4", "ingest", str(seed_files[0]), "--db", db)
    assert result.exit_code == 0, result.output
    result = invoke("--lsh-threshold", "0.95", "clusters", "--db", db)
    assert result.exit_code == 1 and "DEDUP_LSH_THRESHOLD" in result.output
    result = invoke("--num-perm", "3", "clusters", "--db", db)
    assert result.exit_code == 1 and "DEDUP_NUM_PERM" in result.output


def test_scheduler_takes_its_cron_option_and_refuses_a_bad_one(tmp_path):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    result = invoke("scheduler", "--db", str(tmp_path / "s.db"), "--cron", "not a cron")
    assert result.exit_code == 1
    assert "'not a cron' is not a cron expression" in result.output  # refused when the settings are built
    # The refused start leaves the process's own stop handlers in place (forked workers inherit them).
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_a_scheduler_run_gives_the_stop_handlers_back(tmp_path):
    from datetime import UTC, datetime

    from dedup.ops.scheduler import serve
    from dedup.settings import Settings

    before = signal.getsignal(signal.SIGTERM)
    times = iter([datetime(2026, 1, 1, 2, 59, tzinfo=UTC)] * 2 + [datetime(2026, 1, 1, 3, 0, 1, tzinfo=UTC)] * 9)
    runs = serve(Settings(database_url=str(tmp_path / "s.db")), once=True, clock=lambda: next(times),
                 job=lambda _settings: None)
    assert runs == 1 and signal.getsignal(signal.SIGTERM) == before


_STORY = ("市气象台今天发布暴雨橙色预警信号，预计未来六小时内城区和东部山区将出现五十毫米以上的强降雨，"
          "局地伴有雷电和短时大风，请市民减少外出，注意防范城市内涝、山洪和地质灾害，相关部门已进入应急状态。")


def _clusters(db: str) -> dict[str, int]:
    result = invoke("export", "--format", "jsonl", "--db", db)
    return {row["url"]: row["cluster_id"] for row in map(json.loads, result.output.splitlines())}


def test_csv_rows_are_articles_and_extra_columns_are_ignored(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text("url,title,text,label\n"
                    f"https://a.example/1,暴雨预警,\"{_STORY}\",x\n"
                    f"https://b.example/2,转载,\"原标题：暴雨预警\n{_STORY}\",x\n"
                    ",没有网址,正文,y\n", encoding="utf-8")
    db = str(tmp_path / "x.db")
    result = invoke("ingest", str(path), "--db", db)
    # the quoted text of row 3 spans two lines, so the row without a url ends on line 5
    assert result.exit_code == 1 and "row 5: missing url" in result.output
    clusters = _clusters(db)
    assert set(clusters) == {"https://a.example/1", "https://b.example/2"}
    assert clusters["https://a.example/1"] == clusters["https://b.example/2"]


def test_ingest_help_names_csv_and_json_arrays():
    words = " ".join(w for w in invoke("ingest", "--help").output.split() if w != "│")
    assert "JSONL, JSON arrays (.json) or CSV with a header row" in words


def test_csv_without_a_url_and_text_header_is_refused(tmp_path):
    path = tmp_path / "feed.csv"
    path.write_text("link,body\nhttps://a.example/1,正文\n", encoding="utf-8")
    result = invoke("ingest", str(path), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1 and "must name a url column and a text or html column" in result.output


def test_json_array_items_are_articles(tmp_path):
    path = tmp_path / "feed.json"
    path.write_text(json.dumps([{"url": "https://a.example/1", "text": _STORY, "label": 3},
                                {"url": "https://b.example/2", "text": _STORY + "（编辑：王明）"},
                                {"text": "没有网址"}], ensure_ascii=False), encoding="utf-8")
    db = str(tmp_path / "x.db")
    result = invoke("ingest", str(path), "--db", db)
    assert result.exit_code == 1 and "item 3: missing url" in result.output
    clusters = _clusters(db)
    assert len(clusters) == 2 and len(set(clusters.values())) == 1


def test_unknown_file_types_are_refused_and_txt_headlines_become_titles(tmp_path):
    odd = tmp_path / "story.docx"
    odd.write_bytes(b"PK\x03\x04")
    result = invoke("ingest", str(odd), "--db", str(tmp_path / "x.db"))
    assert result.exit_code == 1 and "unsupported file type .docx" in result.output
    story = tmp_path / "story.txt"
    story.write_text("暴雨橙色预警发布\n" + _STORY, encoding="utf-8")
    caption = tmp_path / "caption.txt"
    caption.write_text("图为市区积水的街道。\n" + _STORY.replace("今天", "昨天"), encoding="utf-8")
    db = str(tmp_path / "y.db")
    assert invoke("ingest", str(story), str(caption), "--db", db).exit_code == 0
    listed = json.loads(invoke("clusters", "--json", "--db", db).output)
    titles = {m["url"].rsplit("/", 1)[-1]: m.get("title") for c in listed for m in c["members"]}
    assert titles["story.txt"] == "暴雨橙色预警发布"
    assert titles["caption.txt"] != "图为市区积水的街道。"


def test_a_txt_file_with_front_matter_takes_its_title_from_there_not_from_the_fence(tmp_path):
    post = tmp_path / "post.txt"
    post.write_text('---\nlayout: post\ntitle: "暴雨橙色预警发布"\n---\n' + _STORY, encoding="utf-8")
    repost = tmp_path / "repost.txt"
    repost.write_text('---\ntitle: 暴雨预警\n---\n' + _STORY + "（来源：人民网）", encoding="utf-8")
    db = str(tmp_path / "f.db")
    assert invoke("ingest", str(post), str(repost), "--db", db).exit_code == 0
    listed = json.loads(invoke("clusters", "--json", "--db", db).output)
    assert sorted(m.get("title") for c in listed for m in c["members"]) == ["暴雨橙色预警发布", "暴雨预警"]


def _serve_with(monkeypatch, tmp_path, workers: int, redis_url: str | None):  # type: ignore[no-untyped-def]
    """`dedup serve --workers N` with uvicorn replaced by a recorder: what would have been started, if anything."""
    import uvicorn

    started: list[dict] = []
    monkeypatch.setattr(os, "environ", os.environ.copy())  # serve exports every setting to its workers
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: started.append(kwargs))
    # several workers: `serve` becomes `python -m uvicorn ... --workers N` (tests/test_serve.py runs it for real)
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append({"workers": int(argv[argv.index(
        "--workers") + 1])}))
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


def test_a_command_loads_jiebas_dictionaries_only_when_it_needs_them(tmp_path):
    """A query with nothing to compare needs no segmentation: the command answers without loading jieba's
    dictionaries (about a second of its start); a server loads them before its first request."""
    import subprocess
    import sys

    probe = (
        "import sys, jieba\n"
        "from dedup.cli.commands import app\n"
        "from dedup.decide import names\n"
        "try:\n"
        f"    app(['query', '--text', '国务院新闻办公室今天举行发布会介绍经济运行情况', '--db', {str(tmp_path / 'x.db')!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('loaded', jieba.dt.initialized, names._word_tags.cache_info().currsize, file=sys.stderr)\n"
        "from dedup.engine import Engine\n"
        "from dedup.settings import Settings\n"
        f"Engine(Settings(database_url={str(tmp_path / 'y.db')!r}, redis_url=None))\n"
        "print('preloaded', jieba.dt.initialized, names._word_tags.cache_info().currsize, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert "loaded False 0" in done.stderr, done.stderr
    assert "preloaded True 1" in done.stderr, done.stderr

"""Hostile and malformed input, as a table: each request with the status, error code and message users get.

Nothing here may produce a 5xx; each row says exactly what the caller is told instead.
"""

from __future__ import annotations

import json
import random
import time
import tracemalloc

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.config import NormalizationConfig, SignatureConfig
from dedup.settings import Settings
from dedup.sketch.shingle import shingle_hashes
from dedup.text.normalize import normalize_text
from tests.api_backends import STORY, backend_settings
from tests.reliability.harness import full, record

JSON = {"content-type": "application/json"}
SQL = "'; DROP TABLE articles; --"
PATH = "../../../../etc/passwd"


def body(**fields: object) -> bytes:
    return json.dumps({"url": "https://a.example/1", "text": STORY, **fields}, ensure_ascii=False).encode()


# (name, method, path, raw body or None, expected status, expected code, a fragment of the message)
TABLE = [
    ("empty body", "POST", "/v1/articles", b"", 422, "validation_error", "body: Field required"),
    ("invalid JSON", "POST", "/v1/articles", b'{"url": "https://a.example/1", "text": ', 422, "invalid_json",
     "not valid JSON"),
    ("JSON array instead of object", "POST", "/v1/articles", b"[1, 2]", 422, "validation_error", "body"),
    ("url is a number", "POST", "/v1/articles", b'{"url": 5, "text": "x"}', 422, "validation_error", "url"),
    ("text is an object", "POST", "/v1/articles", body(text={"a": 1}), 422, "validation_error", "text"),
    # An unknown field is ignored, as `dedup ingest` ignores it (tests/test_api_extra_fields.py), not refused.
    ("batch articles not a list", "POST", "/v1/articles:batch", b'{"articles": "x"}', 422, "validation_error",
     "articles"),
    ("50 MB body", "POST", "/v1/articles:batch", b"x" * 50_000_000, 413, "payload_too_large", "larger than"),
    ("50 MB body to a single-article route", "POST", "/v1/articles", b"x" * 50_000_000, 413, "payload_too_large",
     "larger than"),
    ("invalid UTF-8", "POST", "/v1/articles", b'{"url": "https://a.example/1", "text": "\xff\xfe"}', 400,
     "undecodable_body", "not UTF-8"),
    ("NUL byte in url", "POST", "/v1/articles", body(url="https://a.example/\u0000x"), 422, "invalid_article",
     "control characters"),
    ("only punctuation", "POST", "/v1/articles", body(text="，。！？……——《》" * 100), 422, "empty_text",
     "empty after normalization"),
    ("only whitespace", "POST", "/v1/articles", body(text=" \t\n\u3000" * 100), 422, "empty_text", "empty"),
    ("HTML bomb of repeated tags", "POST", "/v1/articles", body(text=None, html="<b><i>" * 150_000), 422,
     "empty_text", "empty after normalization"),
    ("javascript: URL", "POST", "/v1/articles", body(url="javascript:alert(1)"), 422, "invalid_article",
     "absolute http(s)"),
    ("host that NFKC-folds into a colon", "POST", "/v1/articles", body(url="https://a\uff1ab.example/1"), 422,
     "invalid_article", "url is not a valid URL"),
    ("data: URL", "POST", "/v1/articles", body(url="data:text/html,<script>x</script>"), 422, "invalid_article",
     "absolute http(s)"),
    ("SQL in published_at", "POST", "/v1/articles", body(published_at="2024-01-01" + SQL), 422, "invalid_article",
     "published_at"),
    ("batch of 100k tiny articles", "POST", "/v1/articles:batch",
     json.dumps({"articles": [{"url": f"https://t.example/{i}", "text": f"快讯{i}"} for i in range(100_000)]}).encode(),
     422, "validation_error", "at most 1000 items"),
    ("search threshold out of range", "POST", "/v1/duplicates/search", b'{"text": "x", "threshold": 7}', 422,
     "validation_error", "threshold"),
    ("unknown article id", "GET", "/v1/articles/424242", None, 404, "not_found", "no article with id 424242"),
    ("unknown cluster id", "GET", "/v1/clusters/424242", None, 404, "not_found", "no cluster"),
    ("unknown URL", "GET", "/v1/articles?url=https://none.example/", None, 404, "not_found", "no article with url"),
    ("id beyond any row", "GET", "/v1/articles/99999999999999999999", None, 422, "validation_error", "article_id"),
    ("negative id", "GET", "/v1/articles/-1", None, 422, "validation_error", "article_id"),
    ("path injection as id", "GET", "/v1/articles/..%2F..%2Fetc%2Fpasswd", None, 404, "not_found", "Not Found"),
    ("path traversal route", "GET", "/v1/../../etc/passwd", None, 404, "not_found", "Not Found"),
    ("SQL as id", "GET", "/v1/articles/1%20OR%201=1", None, 422, "validation_error", "article_id"),
    ("negative limit", "GET", "/v1/clusters?limit=-1", None, 422, "validation_error", "limit"),
    ("huge limit", "GET", "/v1/clusters?limit=1000000000000", None, 422, "validation_error", "limit"),
    ("negative min_size", "GET", "/v1/clusters?min_size=-5", None, 422, "validation_error", "min_size"),
    ("huge min_size", "GET", "/v1/clusters?min_size=99999999999999999999", None, 422, "validation_error",
     "min_size"),
    ("forged cursor", "GET", "/v1/clusters?cursor=" + SQL, None, 422, "validation_error", "cursor"),
    ("SQL in explain ids", "GET", "/v1/explain?a=1;DROP&b=2", None, 422, "validation_error", "a"),
    ("NUL in url query", "GET", "/v1/duplicates?url=%00", None, 422, "validation_error", "url"),
    ("wrong method", "PUT", "/v1/articles/1", None, 405, "method_not_allowed", "Method Not Allowed"),
]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(database_url=str(tmp_path_factory.mktemp("bad") / "bad.db"), redis_url=None, api_key=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("name,method,path,raw,status,code,message", TABLE, ids=[row[0] for row in TABLE])
def test_bad_input_table(client, name, method, path, raw, status, code, message):
    response = client.request(method, path, content=raw, headers=JSON if raw is not None else None)
    assert response.status_code == status, (name, response.status_code, response.text[:500])
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"], (name, error)


ACCEPTED = [
    ("1 MB single line", {"text": "央视网消息国务院常务会议" * 29_000}),
    ("deeply nested HTML", {"text": None, "html": "<div>" * 100_000 + STORY + "</div>" * 100_000}),
    ("NUL bytes in text and title", {"text": "\u0000".join(STORY), "title": "标\u0000题"}),
    ("SQL in every string field", {"url": "https://a.example/x?q=" + SQL.replace(" ", "%20"), "title": SQL,
                                   "source": SQL, "text": STORY + SQL}),
    ("path injection in every string field", {"url": "https://a.example/" + PATH, "title": PATH, "source": PATH,
                                              "text": PATH + STORY}),
]


@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_hostile_but_valid_input_is_stored_verbatim(kind, tmp_path):
    """Accepted as data, never executed: stored, found again by its URL, the tables still there."""
    with backend_settings(kind, tmp_path) as settings, \
            TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for n, (name, fields) in enumerate(ACCEPTED):
            item = {"url": f"https://a.example/{n}", "text": STORY, **fields}
            r = client.post("/v1/articles", content=json.dumps(item, ensure_ascii=False).encode(), headers=JSON)
            assert r.status_code in (200, 201), (name, r.status_code, r.text[:300])
            got = client.get("/v1/articles", params={"url": item["url"]})
            assert got.status_code == 200 and got.json()["id"] == r.json()["id"], name
            if "title" in fields:
                assert got.json()["title"] == fields["title"].replace("\u0000", ""), name
        assert client.get("/v1/clusters", params={"min_size": 1}).status_code == 200
        assert f"dedup_articles {float(len(ACCEPTED))}" in client.get("/metrics").text


def test_many_distinct_tiny_articles(tmp_path):
    """100k distinct tiny articles (2,000 in CI) in batches of 1,000: all stored, none merged with another."""
    count = full(2_000, 100_000)
    rng = random.Random(7)
    pool = [chr(c) for c in range(0x4E00, 0x9FA5)]
    settings = Settings(database_url=str(tmp_path / "tiny.db"), redis_url=None, api_key=None)
    started = time.monotonic()
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for start in range(0, count, 1000):
            batch = [{"url": f"https://t.example/{i}", "text": "".join(rng.choice(pool) for _ in range(8))}
                     for i in range(start, min(count, start + 1000))]
            r = client.post("/v1/articles:batch", json={"articles": batch})
            assert r.status_code == 200, r.text[:300]
            assert {item["status"] for item in r.json()["results"]} == {201}
        metrics = client.get("/metrics").text
        assert f"dedup_articles {float(count)}" in metrics
        assert "dedup_clusters_with_duplicates 0.0" in metrics
    record("tiny_articles", articles=count, seconds=round(time.monotonic() - started, 1))


ADVERSARIAL = {
    "unclosed markdown links": lambda n: "](" + "[" * n,
    "unclosed markdown images": lambda n: "![" * n + "](",
    "unclosed autolinks": lambda n: "<http:" * n + "](",
    "link targets without end": lambda n: "](" * n,
    "nested tags": lambda n: "<div><span>" * n + "新闻" + "</span></div>" * n,
    "repeated tags": lambda n: "<b>" * n,
    "pinyin-like notes": lambda n: "建(shè)(" * n,
    "front matter without end": lambda n: "---\n" + "key: value\n" * n,
    "entities": lambda n: "&amp;&#x4e2d;&" * n,
    "boilerplate words": lambda n: "来源：转自责任编辑" * n,
    "mixed scripts": lambda n: "a1中б٣" * n,
}


def _work(text: str) -> tuple[float, int]:
    """CPU seconds of this process (not wall time: other processes do not count) and peak bytes allocated,
    for normalizing and shingling `text`; the least of three runs."""
    norm, sig = NormalizationConfig(), SignatureConfig()
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        shingle_hashes(normalize_text(text, norm).text, sig)
        best = min(best, time.process_time() - start)
    tracemalloc.start()
    shingle_hashes(normalize_text(text, norm).text, sig)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak


@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_normalization_work_is_linear(name):
    """Four times the input may cost at most eight times the CPU work (linear is 4x, quadratic 16x), and
    memory stays within 64 bytes per input character."""
    small, large = ADVERSARIAL[name](2_000), ADVERSARIAL[name](8_000)
    cpu_small, _ = _work(small)
    cpu_large, peak = _work(large)
    assert cpu_large <= 8 * max(cpu_small, 0.002), (name, cpu_small, cpu_large)
    assert peak <= 64 * len(large) + 1_000_000, (name, peak, len(large))

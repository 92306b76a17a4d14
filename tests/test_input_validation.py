"""Content rules checked item by item: lone surrogates and URLs (only public http(s) URLs are identities)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from app.main import create_app
from dedup.cli.commands import app as cli
from dedup.errors import InvalidArticle
from dedup.settings import Settings
from tests.api_backends import STORY

JSON = {"content-type": "application/json"}
OTHER = "双鸭山市在抗击疫情的同时全力抓住招商引资的有利时机推动一批重点项目落地开工建设"


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=str(tmp_path / "v.db"), redis_url=None, api_key=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def _post(client: TestClient, route: str, raw_json: str):  # type: ignore[no-untyped-def]
    """Send JSON text as written: `\\ud800` escapes reach the server as JSON allows them."""
    return client.post(route, content=raw_json.encode("ascii"), headers=JSON)


def test_a_lone_surrogate_fails_only_its_own_batch_item(client):
    items = [
        {"url": "https://a.example/good-1", "text": STORY},
        {"url": "https://a.example/bad-text", "text": OTHER + "\ud800"},
        {"url": "https://a.example/bad-title", "text": OTHER, "title": "标题\udfff"},
        {"url": "https://a.example/good-2", "text": OTHER},
    ]
    response = _post(client, "/v1/articles:batch", json.dumps({"articles": items}))  # ensure_ascii: \ud800 escapes
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 422, 422, 201]
    assert results[1]["error"]["code"] == "invalid_article"
    assert results[1]["error"]["message"] == (f"text contains a lone surrogate (U+D800 at character {len(OTHER)}); "
                                              "send valid Unicode")
    assert results[2]["error"]["message"].startswith("title contains a lone surrogate (U+DFFF at character 2)")
    for item, stored in zip(items, (True, False, False, True)):
        found = client.get("/v1/articles", params={"url": item["url"]})
        assert found.status_code == (200 if stored else 404), item["url"]


@pytest.mark.parametrize("field", ["url", "title", "source", "published_at", "text", "html"])
def test_a_lone_surrogate_in_any_field_is_422_naming_the_field(client, field):
    item = {"url": "https://a.example/1", "text": STORY}
    if field == "html":
        item = {"url": item["url"], "html": f"<p>{STORY}</p>"}
    item[field] = (item.get(field) or "2024-05-27") + "\ud83d"
    response = _post(client, "/v1/articles", json.dumps(item))
    assert response.status_code == 422, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "invalid_article"
    assert error["message"].startswith(f"{field} contains a lone surrogate (U+D83D")
    assert client.get("/v1/clusters", params={"min_size": 1}).json()["clusters"] == []


def test_a_lone_surrogate_in_a_search_is_422(client):
    response = _post(client, "/v1/duplicates/search", json.dumps({"text": STORY + "\udc00"}))
    assert response.status_code == 422
    assert "text contains a lone surrogate" in response.json()["error"]["message"]


@pytest.mark.parametrize("url,message", [
    ("file:///etc/passwd", "url must be an absolute http(s) URL with a host"),
    ("FILE://localhost/etc/passwd", "url must be an absolute http(s) URL with a host"),
    ("ftp://a.example/1", "url must be an absolute http(s) URL with a host"),
    ("javascript:alert(1)", "url must be an absolute http(s) URL with a host"),
    ("http:///no-host", "url must be an absolute http(s) URL with a host"),
    ("https://:443/no-host", "url must be an absolute http(s) URL with a host"),
    ("http://user:secret-pw@a.example/1", "url must not contain a user name or password"),
    ("https://user@a.example/1", "url must not contain a user name or password"),
    ("https://:secret-pw@a.example/1", "url must not contain a user name or password"),
])
def test_only_public_http_urls_are_accepted(client, url, message):
    response = client.post("/v1/articles", json={"url": url, "text": STORY})
    assert response.status_code == 422, (url, response.text[:300])
    error = response.json()["error"]
    assert error["code"] == "invalid_article" and error["message"].startswith(message), error
    assert "secret-pw" not in response.text
    batch = client.post("/v1/articles:batch", json={"articles": [{"url": url, "text": STORY}]})
    assert batch.json()["results"][0]["status"] == 422
    assert client.get("/v1/clusters", params={"min_size": 1}).json()["clusters"] == []


def test_an_at_sign_outside_the_host_part_is_fine(client):
    url = "https://a.example/people/@someone?mail=a@b.example"
    assert client.post("/v1/articles", json={"url": url, "text": STORY}).status_code == 201


def test_cli_ingest_refuses_file_and_credential_urls_but_names_local_files(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in [
        {"url": "file:///etc/passwd", "text": STORY},
        {"url": "http://user:secret-pw@a.example/1", "text": STORY},
        {"url": "https://a.example/surrogate", "text": OTHER + "\ud800"},
        {"url": "https://a.example/ok", "text": OTHER},
    ]), encoding="utf-8")
    story = tmp_path / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    db = str(tmp_path / "c.db")
    result = CliRunner().invoke(cli, ["ingest", str(path), str(story), "--db", db])
    assert result.exit_code == 1, result.output
    assert f"{path}:1: url must be an absolute http(s) URL with a host" in result.output
    assert f"{path}:2: url must not contain a user name or password" in result.output
    assert f"{path}:3: text contains a lone surrogate" in result.output
    assert "secret-pw" not in result.output
    assert "3 failed" in result.output and "2 new stories" in result.output
    exported = CliRunner().invoke(cli, ["export", "--db", db])
    urls = {json.loads(line)["url"] for line in exported.output.splitlines()}
    assert urls == {"https://a.example/ok", story.resolve().as_uri()}


def test_pages_link_only_public_http_urls(tmp_path):
    """A URL stored before the rule, or a local file's own `file://` URL, shows as text, never as a link."""
    story = tmp_path / "story.txt"
    story.write_text(STORY, encoding="utf-8")
    db = str(tmp_path / "p.db")
    assert CliRunner().invoke(cli, ["ingest", str(story), "--db", db]).exit_code == 0
    settings = Settings(database_url=db, redis_url=None, api_key=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        repost = c.post("/v1/articles", json={"url": "https://a.example/repost", "text": STORY + "（责任编辑：王五）"})
        cluster = repost.json()["cluster_id"]
        page = c.get(f"/clusters/{cluster}").text
        search = c.get("/search", params={"q": STORY}).text
    local = story.resolve().as_uri()
    assert repost.json()["is_duplicate"] and local in page and local in search
    assert f'href="{local}"' not in page and f'href="{local}"' not in search
    assert 'href="https://a.example/repost"' in page


_URL_PARTS = st.sampled_from(["http", "https", "HTTPS", "ftp", "file", "", "://", ":", "//", "/", "@", "user",
                              "a.example", "b-c.example", "..", "[::1]", "443", "?q=1", "#top", "%20", " ", "\t",
                              "\x01", "\x7f", "新闻", "\ud800", "ａ", "：", "\\"])


@given(st.lists(_URL_PARTS, max_size=10).map("".join))
def test_the_plain_url_shortcut_decides_as_the_full_check(value):
    """Most URLs skip parsing: whatever the shortcut accepts, the full check accepts as the same value."""
    from dedup import validate

    def outcome(check):  # type: ignore[no-untyped-def]
        try:
            return check()
        except InvalidArticle as exc:
            return str(exc)

    stripped = (value or "").strip()
    full = outcome(lambda: validate._parsed_url(stripped, False)) if stripped else "url is required"
    assert outcome(lambda: validate.url(value)) == full

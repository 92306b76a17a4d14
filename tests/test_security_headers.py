"""Security headers on pages and API answers, the docs served from this server under their own CSP, route
labels in /metrics for the docs and the schema, and a 405's `Allow` header naming every method of the path.

The real-browser check that the docs render under their CSP is in test_browser.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.security import PAGE_POLICY
from dedup.settings import Settings
from tests.api_backends import STORY

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    db = tmp_path_factory.mktemp("headers") / "h.db"
    settings = Settings(database_url=str(db), redis_url=None, api_key=None, max_article_bytes=10_000)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        r = c.post("/v1/articles", json={"url": "https://a.example/1", "title": "t", "text": STORY})
        assert r.status_code == 201, r.text
        yield c


def _policy(response) -> dict[str, str]:
    """`default-src 'none'; img-src 'self' data:` -> {"default-src": "'none'", "img-src": "'self' data:"}."""
    parts = (p.strip().split(None, 1) for p in response.headers["content-security-policy"].split(";"))
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts if p}


def _assert_hardened(response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    policy = _policy(response)
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert policy["default-src"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/clusters/1", "/search?q=https://a.example/1", "/compare?a=1&b=1",
                                  "/clusters/999999", "/?min_size=zero"])
def test_pages_forbid_every_script_and_framing(client, path):
    r = client.get(path)
    assert r.headers["content-type"].startswith("text/html")
    _assert_hardened(r)
    policy = _policy(r)
    assert "script-src" not in policy  # falls back to default-src 'none': no script runs, inline or not
    assert policy["style-src"] == "'self'"


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/v1/articles/1", 200), ("GET", "/v1/articles/424242", 404), ("GET", "/healthz", 200),
    ("GET", "/metrics", 200), ("GET", "/openapi.json", 200), ("GET", "/static/style.css", 200),
    ("PUT", "/v1/articles", 405), ("GET", "/v1/explain?a=x", 422)])
def test_api_answers_carry_the_same_headers(client, method, path, status):
    r = client.request(method, path)
    assert r.status_code == status
    _assert_hardened(r)
    assert r.headers["content-security-policy"] == PAGE_POLICY


def test_the_body_guards_refusals_carry_the_headers_too(client):
    """413 and 400 are answered before routing, by a middleware inside the headers' one."""
    _assert_hardened(client.post("/v1/articles", content=b"x" * 200_000, headers={"content-type": "application/json"}))
    _assert_hardened(client.post("/v1/articles", content=b'{"url": "\xff"}', headers={"content-type": "application/json"}))


class _Refs(HTMLParser):
    """Every URL the page makes the browser load, and the nonces of its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "spec-url"):
            if found.get(name):
                self.urls.append(found[name])  # type: ignore[arg-type]
        if tag == "script":
            self.scripts.append(found)


def _refs(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_load_only_local_assets_that_answer(client, path):
    r = client.get(path)
    assert r.status_code == 200
    refs = _refs(r.text)
    assert refs.urls, "the page loads nothing?"
    for url in refs.urls:
        assert url.startswith("/") and not url.startswith("//"), f"{path} loads {url} from another host"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url
    assert "spec-url" in r.text or "url: '/openapi.json'" in r.text
    assert "cdn." not in r.text and "googleapis" not in r.text and "https://" not in r.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_policy_allows_only_this_server_and_the_pages_own_nonce(client, path):
    first, second = client.get(path), client.get(path)
    _assert_hardened(first)
    policy = _policy(first)
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9_-]{22})'", policy["script-src"]).group(1)
    scripts = _refs(first.text).scripts
    assert scripts and all(s.get("nonce") == nonce for s in scripts)
    assert policy["connect-src"] == "'self'" and "unsafe-eval" not in first.headers["content-security-policy"]
    assert _policy(second)["script-src"] != policy["script-src"]  # a fresh nonce per response


def test_templates_need_no_inline_script_or_style():
    """The pages' policy forbids inline scripts and styles: a template that adds one would break silently."""
    for template in TEMPLATES.glob("*.html"):
        html = template.read_text()
        assert "<script" not in html and "<style" not in html, template.name
        assert not re.search(r"\s(style|on[a-z]+)\s*=", html), template.name


def test_metrics_label_the_docs_and_the_schema_by_their_route(client):
    for path in ("/docs", "/redoc", "/openapi.json", "/static/style.css", "/no/such/page"):
        client.get(path)
    text = client.get("/metrics").text
    for route in ("/docs", "/redoc", "/openapi.json", "/static"):
        assert re.search(rf'dedup_http_requests_total{{method="GET",route="{re.escape(route)}",status="200"}}', text), route
    assert 'route="unmatched",status="404"' in text


def test_a_request_the_key_guard_refuses_is_counted_under_its_route(tmp_path):
    """The guard answers 401 before routing; the metrics and the access log still name the route it asked for."""
    settings = Settings(database_url=str(tmp_path / "k.db"), redis_url=None, api_key="k" * 24)
    with TestClient(create_app(settings)) as keyed:
        assert keyed.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY}).status_code == 401
        assert keyed.delete("/v1/articles/1").status_code == 401
        text = keyed.get("/metrics").text
    assert re.search(r'dedup_http_requests_total\{method="POST",route="/v1/articles",status="401"\}', text)
    assert re.search(r'dedup_http_requests_total\{method="DELETE",route="/v1/articles/\{article_id\}",status="401"\}',
                     text)
    assert 'route="unmatched",status="401"' not in text


@pytest.mark.parametrize("method, path, allow", [
    ("PUT", "/v1/articles", "DELETE, GET, POST"), ("PATCH", "/v1/articles", "DELETE, GET, POST"),
    ("POST", "/v1/articles/1", "DELETE, GET"), ("PATCH", "/v1/articles/1", "DELETE, GET"),
    ("GET", "/v1/articles:batch", "POST"), ("POST", "/openapi.json", "GET, HEAD"),
    ("POST", "/static/style.css", "GET, HEAD"), ("DELETE", "/metrics", "GET")])
def test_405_allow_names_every_method_the_path_serves(client, method, path, allow):
    r = client.request(method, path)
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == allow
    for other in allow.split(", "):  # and each named method is really served (not 405)
        assert client.request(other, path.replace("/1", "/424242")).status_code != 405, other

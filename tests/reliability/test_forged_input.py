"""Forged cursors and out-of-range dates: a clear 4xx with a message on the API and on the HTML pages, never a 500.

A cursor is opaque to well-behaved clients but is plain base64 JSON anyone can forge; an id beyond the
database's integer range or a JSON boolean once reached the driver and came back as an overflow (500).
"""

from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.settings import Settings
from tests.api_backends import OTHER, STORY


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


FORGED = {
    "id 10**30": forge(["2026", 10**30]),
    "id 2**63": forge(["2026", 2**63]),
    "id true": forge(["2026", True]),
    "id 0": forge(["2026", 0]),
    "id a float": forge(["2026", 1.5]),
    "timestamp a number": forge([2026, 1]),
    "NUL in timestamp": forge(["2026\u0000", 1]),
    "three fields": forge(["2026", 1, 2]),
    "very long": forge(["2026" + "0" * 5000, 1]),
}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(database_url=str(tmp_path_factory.mktemp("forged") / "f.db"), redis_url=None, api_key=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        for i, text in enumerate((STORY, OTHER, STORY + "（来源：人民网）")):
            assert c.post("/v1/articles", json={"url": f"https://f{i}.example/", "text": text}).status_code == 201
        yield c


@pytest.mark.parametrize("cursor", FORGED.values(), ids=FORGED.keys())
def test_forged_cursor_is_a_422_on_the_api(client, cursor):
    r = client.get("/v1/clusters", params={"cursor": cursor, "min_size": 1})
    assert r.status_code == 422, r.text[:300]
    error = r.json()["error"]
    assert error["code"] == "validation_error" and error["message"].startswith("cursor: "), error


@pytest.mark.parametrize("cursor", FORGED.values(), ids=FORGED.keys())
def test_forged_cursor_is_an_html_400_on_the_index_page(client, cursor):
    r = client.get("/", params={"cursor": cursor})
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), r.text[:300]
    assert "not a cursor returned by this API" in r.text


def test_real_cursors_still_page_through_everything(client):
    seen, cursor = [], None
    for _ in range(5):
        page = client.get("/v1/clusters", params={"min_size": 1, "limit": 1, **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200
        seen += [c["id"] for c in page.json()["clusters"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 2  # the repost joined the first story's cluster


@pytest.mark.parametrize("until", ["9999-12-31", "9999-12-30"])
def test_the_last_representable_days_filter_without_error(client, until):
    r = client.get("/", params={"until": until, "min_size": 1})
    assert r.status_code == 200 and r.text.count("data-cluster-id=") == 2


@pytest.mark.parametrize("query", ["until=10000-01-01", "since=2026-02-30", "min_size=²", "min_size=" + "9" * 5000,
                                   "cursor=" + "A" * 600])
def test_out_of_range_page_parameters_are_an_html_400(client, query):
    r = client.get(f"/?{query}")
    assert r.status_code == 400 and 'id="error-message"' in r.text, r.text[:300]


@pytest.mark.parametrize("path", ["/clusters/²", "/compare?a=²&b=1", "/compare?a=1&b=" + "9" * 5000])
def test_unicode_digits_and_huge_numbers_in_page_ids_are_an_html_400(client, path):
    r = client.get(path)
    assert r.status_code == 400 and 'id="error-message"' in r.text, r.text[:300]


@pytest.mark.parametrize("when", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_published_at_beyond_the_utc_range_is_a_422(client, when):
    r = client.post("/v1/articles", json={"url": "https://edge.example/1", "text": STORY, "published_at": when})
    assert r.status_code == 422, r.text[:300]
    assert r.json()["error"] == {"code": "invalid_article", "message": f"published_at {when!r} is out of range in UTC"}

"""The compare page's correction buttons: a plain form (no script), asking for the API key when one is set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api_backends import STORY, backend_settings

REPOST = STORY + "（来源：人民网）"


@pytest.fixture(params=["sqlite", "services"])
def make_client(request, tmp_path):
    def make(api_key: str | None) -> TestClient:
        return TestClient(create_app(settings.model_copy(update={"api_key": api_key})))
    with backend_settings(request.param, tmp_path) as settings:
        yield make


def _pair(client: TestClient, headers: dict) -> tuple[int, int]:
    a = client.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY,
                                          "published_at": "2026-03-01"}, headers=headers).json()
    b = client.post("/v1/articles", json={"url": "https://b.example/1", "text": REPOST,
                                          "published_at": "2026-03-02"}, headers=headers).json()
    assert a["cluster_id"] == b["cluster_id"]
    return a["id"], b["id"]


def test_not_the_same_story_button_splits_the_pair(make_client):
    with make_client(None) as client:
        a, b = _pair(client, {})
        page = client.get("/compare", params={"a": a, "b": b})
        assert 'action="/compare/correct"' in page.text and 'name="api_key"' not in page.text
        assert "<script" not in page.text
        done = client.post("/compare/correct", data={"a": a, "b": b, "kind": "cannot_link", "note": "two days"})
        assert done.status_code == 201 and "text/html" in done.headers["content-type"]
        assert "Correction 1 recorded" in done.text and "by anonymous: two days" in done.text
        assert client.get(f"/v1/articles/{a}").json()["cluster_id"] != client.get(f"/v1/articles/{b}").json()[
            "cluster_id"]
        conflict = client.post("/compare/correct", data={"a": a, "b": b, "kind": "must_link"})
        assert conflict.status_code == 409 and "contradicts correction 1" in conflict.text
        bad = client.post("/compare/correct", data={"a": a, "b": "x", "kind": "must_link"})
        assert bad.status_code == 400 and "<h1>400</h1>" in bad.text


def test_the_form_asks_for_the_key_when_one_is_set(make_client):
    key = {"X-API-Key": "s3cret"}
    with make_client("s3cret") as client:
        a, b = _pair(client, key)
        page = client.get("/compare", params={"a": a, "b": b})
        assert 'name="api_key"' in page.text
        refused = client.post("/compare/correct", data={"a": a, "b": b, "kind": "cannot_link", "api_key": "guess"})
        assert refused.status_code == 401 and "API key" in refused.text
        assert client.get("/v1/corrections").json()["corrections"] == []
        done = client.post("/compare/correct", data={"a": a, "b": b, "kind": "cannot_link", "api_key": "s3cret"})
        assert done.status_code == 201 and "by api-key" in done.text


def test_the_cluster_page_lists_its_corrections_and_withdraws_one(make_client):
    """The corrections naming a cluster's articles are listed on its page (also the cannot-link that took one out),
    each with who/when/note, its comparison and a Withdraw button that asks for the key when one is set."""
    key = {"X-API-Key": "s3cret"}
    with make_client("s3cret") as client:
        a, b = _pair(client, key)
        cluster = client.get(f"/v1/articles/{a}").json()["cluster_id"]
        assert 'id="corrections"' in client.get(f"/clusters/{cluster}").text
        assert "data-correction-id" not in client.get(f"/clusters/{cluster}").text
        made = client.post("/compare/correct", data={"a": a, "b": b, "kind": "cannot_link", "api_key": "s3cret",
                                                     "note": "two bulletins"})
        assert made.status_code == 201
        page = client.get(f"/clusters/{cluster}").text
        listed = page.split('id="corrections"', 1)[1]
        assert 'data-correction-id="1"' in listed
        assert f"cannot-link of article {a} and article {b}" in listed and "two bulletins" in listed
        assert "by api-key" in listed and f'href="/compare?a={a}&amp;b={b}"' in listed
        assert 'action="/corrections/1/withdraw"' in listed and 'name="api_key"' in listed
        refused = client.post("/corrections/1/withdraw", data={"cluster": cluster, "api_key": "guess"})
        assert refused.status_code == 401 and "API key" in refused.text
        assert client.get("/v1/corrections").json()["corrections"][0]["active"] is True
        done = client.post("/corrections/1/withdraw", data={"cluster": cluster, "api_key": "s3cret"})
        assert done.status_code == 200 and "Correction 1 withdrawn" in done.text
        assert f'href="/clusters/{cluster}"' in done.text
        assert client.get("/v1/corrections").json()["corrections"] == []
        after = client.get(f"/clusters/{cluster}").text
        assert "data-correction-id" not in after and '<span class="size">1 article</span>' in after  # split
        assert client.post("/corrections/99/withdraw", data={"api_key": "s3cret"}).status_code == 404
        assert client.post("/corrections/x/withdraw", data={"api_key": "s3cret"}).status_code == 400

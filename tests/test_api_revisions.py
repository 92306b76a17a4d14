"""Lost updates: every article carries a revision (ETag header, `revision` field) and writes accept If-Match, so two
clients that read the same revision cannot both overwrite it (9 of 20 racing rounds once kept a text other than
the last acknowledged). On SQLite and, when configured, on PostgreSQL + Redis."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api_backends import OTHER, STORY, THIRD, backend_settings

URL = "https://a.example/1"


@pytest.fixture(params=["sqlite", "services"])
def client(request, tmp_path):
    with backend_settings(request.param, tmp_path) as settings, TestClient(create_app(settings)) as c:
        yield c


def _put(client, text: str, if_match: str | None = None, url: str = URL):  # type: ignore[no-untyped-def]
    return client.post("/v1/articles", json={"url": url, "text": text},
                       headers={"If-Match": if_match} if if_match is not None else None)


def test_every_read_and_write_names_the_revision(client):
    created = _put(client, STORY)
    assert created.status_code == 201
    tag = created.headers["etag"]
    assert tag == f'"{created.json()["revision"]}"' and len(tag) > 10
    by_id = client.get(f"/v1/articles/{created.json()['id']}")
    by_url = client.get("/v1/articles", params={"url": URL})
    assert by_id.headers["etag"] == by_url.headers["etag"] == tag and by_id.json()["revision"] == tag.strip('"')
    again = _put(client, STORY)
    assert again.json()["status"] == "unchanged" and again.headers["etag"] == tag  # no write, same revision
    batch = client.post("/v1/articles:batch", json={"articles": [{"url": URL, "text": STORY}]}).json()
    assert batch["results"][0]["result"]["revision"] == tag.strip('"')


def test_the_second_of_two_updates_from_the_same_revision_gets_412(client):
    tag = _put(client, STORY).headers["etag"]
    first = _put(client, OTHER, if_match=tag)
    assert first.status_code == 200 and first.json()["status"] == "updated"
    assert first.headers["etag"] != tag
    second = _put(client, THIRD, if_match=tag)
    assert second.status_code == 412, second.text
    error = second.json()["error"]
    assert error["code"] == "revision_mismatch" and "changed since it was read" in error["message"], error
    assert first.headers["etag"].strip('"') in error["message"]
    stored = client.get("/v1/articles", params={"url": URL})
    assert stored.json()["text"] == OTHER and stored.headers["etag"] == first.headers["etag"]
    assert _put(client, THIRD, if_match=first.headers["etag"]).status_code == 200  # read again, then it works


def test_racing_updates_from_one_revision_keep_exactly_one(client):
    tag = _put(client, STORY).headers["etag"]
    texts = [f"{OTHER}第{i}版。" for i in range(6)]
    answers: dict[str, int] = {}

    def update(text: str) -> None:
        answers[text] = _put(client, text, if_match=tag).status_code

    threads = [threading.Thread(target=update, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [text for text, status in answers.items() if status == 200]
    assert len(winners) == 1 and sorted(answers.values()) == [200] + [412] * 5, answers
    assert client.get("/v1/articles", params={"url": URL}).json()["text"] == winners[0]


def test_a_text_changed_and_changed_back_has_a_new_revision(client):
    tag = _put(client, STORY).headers["etag"]
    _put(client, OTHER)
    assert _put(client, STORY).headers["etag"] != tag
    assert _put(client, THIRD, if_match=tag).status_code == 412


def test_conditional_delete(client):
    created = _put(client, STORY)
    stale = created.headers["etag"]
    _put(client, OTHER)
    path = f"/v1/articles/{created.json()['id']}"
    refused = client.delete(path, headers={"If-Match": stale})
    assert refused.status_code == 412 and refused.json()["error"]["code"] == "revision_mismatch"
    assert client.get(path).status_code == 200
    assert client.delete(path, headers={"If-Match": client.get(path).headers["etag"]}).status_code == 204
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(("header", "status"), [("*", 200), ('W/"x", *', 200), ('W/"x"', 412), ('"nope"', 412),
                                                 (" , ", 400)])
def test_if_match_forms(client, header, status):
    tag = _put(client, STORY).headers["etag"]
    assert _put(client, OTHER, if_match=header).status_code == status
    assert _put(client, THIRD, if_match=f'"nope", {tag}').status_code == (412 if status == 200 else 200)


def test_if_match_on_an_article_never_stored_is_412_and_stores_nothing(client):
    r = _put(client, STORY, if_match="*", url="https://new.example/1")
    assert r.status_code == 412 and "no stored article" in r.json()["error"]["message"]
    assert client.get("/v1/articles", params={"url": "https://new.example/1"}).status_code == 404


def test_if_match_on_a_batch_is_refused_not_ignored(client):
    tag = _put(client, STORY).headers["etag"]
    r = client.post("/v1/articles:batch", json={"articles": [{"url": URL, "text": OTHER}]}, headers={"If-Match": tag})
    assert r.status_code == 400 and "POST /v1/articles" in r.json()["error"]["message"]
    assert client.get("/v1/articles", params={"url": URL}).json()["text"] == STORY

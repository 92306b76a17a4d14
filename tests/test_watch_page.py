"""The delivery log page of a watch: the reposts posted and what the target answered; behind the API key when
one is set (asked for in a password field, no script)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from app.main import create_app
from dedup.settings import Settings
from tests.alert_receiver import receiver
from tests.api_backends import STORY

KEY = "page-key-0123456789"


def _setup(client: TestClient, target_url: str, headers: dict | None = None) -> int:
    headers = headers or {}
    original = client.post("/v1/articles", json={"url": "https://mine.example/1", "text": STORY}, headers=headers)
    watch = client.post("/v1/watches", headers=headers, json={"kind": "article", "value": str(original.json()["id"]),
                                                              "target_url": target_url, "note": "our scoop"})
    client.post("/v1/articles", json={"url": "https://copy.example/1", "text": STORY + "（转载）"}, headers=headers)
    return watch.json()["id"]


def test_the_page_lists_deliveries_with_the_repost_and_the_answer(tmp_path):
    settings = Settings(database_url=str(tmp_path / "p.db"), alerts_allow_private=True, alert_poll_interval=0.1)
    with receiver(status=500) as target, TestClient(create_app(settings)) as client:
        watch_id = _setup(client, target.url)
        target.wait_for(1)
        page = client.get(f"/watches/{watch_id}")
        assert page.status_code == 200 and 'id="deliveries"' in page.text
        assert "https://copy.example/1" in page.text and "https://mine.example/1" in page.text
        assert "our scoop" in page.text and ">500<" in page.text.replace(" ", "")
        assert client.get(f"/watches/{watch_id}", params={"status": "delivered"}).text.count('class="delivery') == 0
        assert client.get(f"/watches/{watch_id}", params={"status": "bogus"}).status_code == 400
        missing = client.get("/watches/999")
        assert missing.status_code == 404 and "no watch with id 999" in missing.text


def test_with_an_api_key_the_page_asks_for_it(tmp_path):
    settings = Settings(database_url=str(tmp_path / "k.db"), alerts_allow_private=True, api_key=KEY)
    with receiver() as target, TestClient(create_app(settings)) as client:
        watch_id = _setup(client, target.url, {"X-API-Key": KEY})
        asked = client.get(f"/watches/{watch_id}")
        assert asked.status_code == 200 and 'id="key-form"' in asked.text and target.url not in asked.text
        wrong = client.post(f"/watches/{watch_id}", data={"key": "nope"})
        assert wrong.status_code == 401 and target.url not in wrong.text
        shown = client.post(f"/watches/{watch_id}", data={"key": KEY})
        assert shown.status_code == 200 and "https://copy.example/1" in shown.text
        assert shown.headers["cache-control"] == "no-store"


def test_the_watches_page_lists_every_watch_with_its_log_behind_the_key(tmp_path):
    settings = Settings(database_url=str(tmp_path / "w.db"), alerts_allow_private=True, api_key=KEY)
    headers = {"X-API-Key": KEY}
    with receiver() as target, TestClient(create_app(settings)) as client:
        watch_id = _setup(client, target.url, headers)
        cluster = client.get("/v1/articles/1", headers=headers).json()["cluster_id"]
        by_cluster = client.post("/v1/watches", headers=headers, json={"kind": "cluster", "value": str(cluster),
                                                                       "target_url": target.url}).json()["id"]
        by_source = client.post("/v1/watches", headers=headers, json={"kind": "source", "value": "抄报",
                                                                      "target_url": target.url}).json()["id"]
        assert 'href="/watches"' in client.get("/").text  # in the navigation of every page
        asked = client.get("/watches")
        assert 'id="key-form"' in asked.text and target.url not in asked.text
        wrong = client.post("/watches", data={"key": "nope"})
        assert wrong.status_code == 401 and target.url not in wrong.text
        shown = client.post("/watches", data={"key": KEY})
        assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
        rows = re.findall(r'data-watch-id="(\d+)"', shown.text)
        assert rows == [str(watch_id), str(by_cluster), str(by_source)]
        assert "our scoop" in shown.text and target.url in shown.text
        assert f'action="/watches/{watch_id}"' in shown.text  # its delivery log, the key carried along
        assert f'href="/clusters/{cluster}">#{cluster}</a>' in shown.text
        assert 'href="/sources/%E6%8A%84%E6%8A%A5">抄报</a>' in shown.text
        assert client.post("/watches", data={"key": KEY, "after": "x"}).status_code == 400


def test_without_a_key_the_watches_page_links_each_delivery_log(tmp_path):
    settings = Settings(database_url=str(tmp_path / "o.db"), alerts_allow_private=True)
    with receiver() as target, TestClient(create_app(settings)) as client:
        assert "No watches yet" in client.get("/watches").text
        watch_id = _setup(client, target.url)
        page = client.get("/watches")
        assert page.status_code == 200 and f'href="/watches/{watch_id}"' in page.text
        assert 'href="/watches">watches</a>' in client.get(f"/watches/{watch_id}").text

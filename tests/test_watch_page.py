"""The delivery log page of a watch: the reposts posted and what the target answered; behind the API key when
one is set (asked for in a password field, no script)."""

from __future__ import annotations

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

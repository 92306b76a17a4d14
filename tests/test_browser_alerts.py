"""Operator pages behind an API key in a real headless Chromium (reuses tests/test_browser.py's browser): the
delivery log asks for the key in a password field, then shows the reposts posted to a webhook target on 127.0.0.1
with their status; the compare page's correction buttons ask for the key too."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests import test_browser as shared
from tests.alert_receiver import Receiver, receiver
from tests.api_backends import OTHER, STORY, THIRD
from tests.test_browser import _by_css, _require_browser, _screenshot, _wait_for, app_server

browser = shared.browser  # the same headless Chromium fixture, over this module's `server`

KEY = "browser-key-0123456789"


@pytest.fixture(scope="module")
def target() -> Iterator[Receiver]:
    with receiver() as got:
        yield got


@pytest.fixture(scope="module")
def server(tmp_path_factory, target) -> Iterator[str]:
    """The app in its own process with an API key; a watched article and one repost of it."""
    _require_browser()
    with app_server(tmp_path_factory.mktemp("browser-alerts"), headers={"X-API-Key": KEY}, api_key=KEY,
                    alerts_allow_private="true", alert_poll_interval="0.2") as client:
        original = client.post("/v1/articles", json={"url": "https://mine.example/1", "text": STORY}).json()
        client.post("/v1/watches", json={"kind": "article", "value": str(original["id"]),
                                         "target_url": target.url, "note": "our scoop"})
        client.post("/v1/articles", json={"url": "https://copy.example/1", "text": STORY + "（转载）"})
        target.wait_for(1)
        yield str(client.base_url).rstrip("/")


def test_the_delivery_log_asks_for_the_key_then_shows_the_posted_repost(server, browser, target):
    browser.set_window_size(1280, 900)
    browser.get(server + "/watches/1")
    field = _wait_for(browser, "#key-form input[name=key]")
    assert field.get_attribute("type") == "password" and target.url not in browser.page_source
    field.send_keys(KEY)
    _by_css(browser, "#key-form button")[0].click()
    _wait_for(browser, "#deliveries")
    rows = _by_css(browser, "#deliveries tr.delivery")
    assert len(rows) == 1 and "https://copy.example/1" in rows[0].text and "https://mine.example/1" in rows[0].text
    assert "delivered" in rows[0].text and "204" in rows[0].text
    assert "our scoop" in browser.page_source
    violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
    assert violations == [], violations
    _screenshot(browser, "watch-deliveries", 1280)


def test_the_same_story_button_asks_for_the_key_then_merges(server, browser):
    """With a key set, the form will not send without it (a required password field) and records the
    correction as by `api-key` once it is given."""
    with httpx.Client(base_url=server, headers={"X-API-Key": KEY}, timeout=30) as client:
        a = client.post("/v1/articles", json={"url": "https://keyed.example/a", "text": OTHER}).json()
        b = client.post("/v1/articles", json={"url": "https://keyed.example/b", "text": THIRD}).json()
        assert a["cluster_id"] != b["cluster_id"]
        browser.set_window_size(1280, 1000)
        browser.get(f"{server}/compare?a={a['id']}&b={b['id']}")
        field = _wait_for(browser, "#correction-key")
        assert field.get_attribute("type") == "password"
        _by_css(browser, "#correct-same")[0].click()  # no key typed: the browser keeps the form
        assert "/compare" in browser.current_url and not _by_css(browser, "#correction-message")
        field.send_keys(KEY)
        _by_css(browser, "#correction-form input[name=note]")[0].send_keys("one story, two angles")
        _by_css(browser, "#correct-same")[0].click()
        message = _wait_for(browser, "#correction-message").text
        assert "Must-link of article" in message and "by api-key: one story, two angles" in message
        violations = [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]
        assert violations == [], violations
        assert client.get(f"/v1/articles/{b['id']}").json()["cluster_id"] == \
            client.get(f"/v1/articles/{a['id']}").json()["cluster_id"]
        assert [c["created_by"] for c in client.get("/v1/corrections").json()["corrections"]] == ["api-key"]

"""The delivery log page in a real headless Chromium: the API key asked for in a password field, then the
reposts posted to a webhook target on 127.0.0.1 with their status (reuses tests/test_browser.py's browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import test_browser as shared
from tests.alert_receiver import Receiver, receiver
from tests.api_backends import STORY
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

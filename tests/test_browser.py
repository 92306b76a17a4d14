"""The cluster browser in a real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium).

The app runs in a uvicorn subprocess on a loopback port with a temporary SQLite file; the seeds go in through
the HTTP API with a made-up story (original, repost, excerpt, template twin), then the browser walks the list, the
clusters, their timelines, the comparisons and the sources. Screenshots land in test-artifacts/; with
DEDUP_UPDATE_SCREENSHOTS=1 the README's ones (1280 and 390 px wide) also replace theirs in docs/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import REQUIRE_SERVICES, ROOT, SEEDS
from tests.servers import stop, wait_ready
from tests.test_pages import REPORT_POSTS

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-extensions", "--lang=zh-CN")
# Draws two different CJK characters; identical pixels mean both fell back to the same missing-glyph box.
CJK_GLYPHS_JS = """
const draw = ch => { const c = document.createElement('canvas'); c.width = c.height = 40;
  const x = c.getContext('2d'); x.font = '32px sans-serif'; x.fillText(ch, 2, 32); return c.toDataURL(); };
return draw('双') !== draw('鸭') && draw('雙') !== draw('鴨');
"""


def _require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if not missing:
        return
    reason = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver; .ci/run does it)"
    if REQUIRE_SERVICES:
        pytest.fail(f"CI requires the browser tests: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(tmp: Path, headers: dict[str, str] | None = None, **settings: str) -> Iterator[httpx.Client]:
    """The app in its own uvicorn process, as deployed, on a SQLite file in `tmp`, with these DEDUP_ settings
    (`database_url="…"` and so on); yields a client on it once it answers, and stops it at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEDUP_")}
    env.update({"DEDUP_DATABASE_URL": str(tmp / "app.db"), **{f"DEDUP_{k.upper()}": v for k, v in settings.items()}})
    log = tmp / "server.log"
    port = _free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host",
                                 "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, headers=headers) as client:
            wait_ready(client, proc, log)
            yield client
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """The app in its own process, as deployed; seeds ingested through the API."""
    _require_browser()
    with app_server(tmp_path_factory.mktemp("browser")) as client:
        for path in sorted(SEEDS.glob("*.txt")):
            r = client.post("/v1/articles", json={"url": f"https://site{path.stem[:3]}.example/{path.stem}",
                                                  "text": path.read_text(), "source": f"site{path.stem[:3]}"})
            assert r.status_code == 201, r.text
        for post in REPORT_POSTS:  # a made-up story: original, repost, excerpt, template twin (ids 6-9)
            r = client.post("/v1/articles", json=post)
            assert r.status_code == 201, r.text
        yield str(client.base_url).rstrip("/")


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=1280,1000")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # console errors, CSP violations among them
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _screenshot(driver, name: str, width: int, max_height: int = 2400) -> Path:
    """Whole page up to max_height: headless Chromium captures the window, so size the window to the page."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, min(max(height, 600), max_height))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def _wait_for(driver, selector: str, timeout: float = 30):
    """Clicks return before the next page has loaded; wait for an element of the page we expect."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, selector)))


def _by_css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def test_browse_from_the_cluster_list_to_the_comparison(server, browser):
    browser.set_window_size(1280, 1000)
    browser.get(server + "/")
    assert browser.execute_script(CJK_GLYPHS_JS), "CJK characters render as missing-glyph boxes: no CJK font"
    clusters = _by_css(browser, "li.cluster[data-cluster-id='1']")
    assert len(_by_css(browser, "li.cluster")) == 2 and "2 clusters" in _by_css(browser, "#total")[0].text
    assert "双鸭山组建招商" in clusters[0].text and "2 articles" in clusters[0].text
    assert "site000.example" not in clusters[0].text and "site001" in clusters[0].text
    _screenshot(browser, "index", 1280)

    _by_css(browser, "li.cluster[data-cluster-id='1'] a.title")[0].click()
    _wait_for(browser, "#members")
    assert browser.current_url.endswith("/clusters/1")
    rows = _by_css(browser, "#members tbody tr")
    assert [r.get_attribute("data-article-id") for r in rows] == ["1", "2"]
    assert "representative" in rows[0].text and "0.86" in rows[1].text and "duplicate" in rows[1].text
    _screenshot(browser, "cluster", 1280)

    _by_css(browser, "#members a.compare")[0].click()
    _wait_for(browser, "#verdict")
    assert "/compare?a=1&b=2" in browser.current_url
    _by_css(browser, "#normalized-view")[0].click()  # the toggle: the texts as compared
    _wait_for(browser, "#verdict")
    assert "view=normalized" in browser.current_url
    _assert_comparison(browser)
    _screenshot(browser, "compare-normalized", 1280, max_height=1500)


def _publish(shot: Path) -> None:
    """With DEDUP_UPDATE_SCREENSHOTS=1, a screenshot also replaces its copy in docs/screenshots/ (the README's)."""
    if os.environ.get("DEDUP_UPDATE_SCREENSHOTS") == "1":
        target = ROOT / "docs" / "screenshots" / shot.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def _assert_comparison(browser) -> None:
    verdict = _by_css(browser, "#verdict")[0].text
    assert "Duplicate" in verdict and "0.86" in verdict and "0.99" in verdict
    shared = _by_css(browser, "#side-a mark.shared")
    assert shared and any("今年以来双鸭山市在抗击疫情的同时" in m.text for m in shared)
    background = shared[0].value_of_css_property("background-color")
    assert background in ("rgba(215, 245, 220, 1)", "rgb(215, 245, 220)"), background
    # The repost's captions: differing passages of B's compared text.
    diffs = "".join(d.text for d in _by_css(browser, "#side-b .diff"))
    assert "新竣工通车的宝" in diffs and "宝清高速公路" in diffs
    # The section the repost cut (the reporter's note at the end of the original) is marked on A's side.
    assert any("创新让难事变易" in d.text for d in _by_css(browser, "#side-a .diff.only"))
    # The copyright footer and the source line: removed by normalization, struck out with the reason.
    notices = _by_css(browser, "#side-b li.dropped.notice")
    assert any("版權(quán)及免責聲明" in n.text for n in notices)
    assert all("copyright" in n.find_element("css selector", ".why").text for n in notices)
    struck = notices[0].find_element("css selector", "del")
    assert "line-through" in struck.value_of_css_property("text-decoration")
    assert any("轉(zhuǎn)自" in s.text for s in _by_css(browser, "#side-b li.dropped.source"))
    assert not _by_css(browser, "#side-a li.dropped.notice")  # the original has no footer


def test_comparison_is_usable_at_phone_width(server, browser):
    browser.set_window_size(390, 844)
    browser.get(server + "/compare?a=1&b=2&view=normalized")
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    a, b = _by_css(browser, "#side-a")[0], _by_css(browser, "#side-b")[0]
    assert b.rect["y"] >= a.rect["y"] + a.rect["height"], "the two sides should stack on a phone"
    assert a.rect["width"] <= width
    _screenshot(browser, "compare-phone", 390, max_height=1600)
    for path, name in (("/", "index-phone"), ("/clusters/1", "cluster-phone"), ("/clusters/6", "story-phone"),
                       ("/compare?a=6&b=9", "compare-original-phone"), ("/sources", "sources-phone"),
                       ("/sources/daily.example", "source-phone")):
        browser.get(server + path)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= browser.execute_script(
            "return window.innerWidth"), f"{path} scrolls sideways on a phone"
        shot = _screenshot(browser, name, 390)
        if name in ("story-phone", "compare-original-phone", "source-phone"):
            _publish(shot)


def _point_tip(browser, point) -> str:
    return browser.execute_script("return arguments[0].querySelector('title').textContent", point)


def test_story_timeline_comparison_in_the_original_text_and_source_page(server, browser):
    """The story: a point per member on the timeline, the earliest marked original; its comparison with the template
    twin shows the changed figure, punctuation included, highlighted in the published text; the source's counts."""
    browser.set_window_size(1280, 1000)
    browser.get(server + "/clusters/6")
    _wait_for(browser, "#timeline")
    rows = _by_css(browser, "#members tbody tr")
    points = _by_css(browser, "#timeline .point")
    assert sorted(p.get_attribute("data-article-id") for p in points) == sorted(
        r.get_attribute("data-article-id") for r in rows) == ["6", "7", "8"]
    original = _by_css(browser, "#timeline .point.original")
    assert [p.get_attribute("data-article-id") for p in original] == ["6"]  # the earliest published
    assert original[0].rect["x"] == min(p.rect["x"] for p in points), "the original is the leftmost point"
    assert "daily.example" in _point_tip(browser, original[0]) and "original" in _point_tip(browser, original[0])
    excerpt = _by_css(browser, "#timeline a.point.excerpt")[0]
    assert "Jaccard" in _point_tip(browser, excerpt) and "containment" in _point_tip(browser, excerpt)
    labels = [t.text for t in _by_css(browser, "#timeline .source-label")]
    assert labels == ["daily.example", "抄报", "短讯网"]
    _publish(_screenshot(browser, "story", 1280))
    excerpt.click()  # each point opens its comparison with the original
    _wait_for(browser, "#verdict")
    assert browser.current_url.endswith("/compare?a=6&b=8")

    browser.get(server + "/compare?a=6&b=9")  # the template twin: one figure changed
    _wait_for(browser, "#verdict")
    assert "Distinct" in _by_css(browser, "#verdict")[0].text
    changed = _by_css(browser, "#side-a .text.original .diff.changed strong.num")
    assert [c.text for c in changed] == ["1,200"] and changed[0].is_displayed()
    assert changed[0].value_of_css_property("background-color") in ("rgba(255, 241, 168, 1)", "rgb(255, 241, 168)")
    assert [c.text for c in _by_css(browser, "#side-b .diff.changed strong.num")] == ["1,250"]
    text = _by_css(browser, "#side-a .text.original")[0].text
    assert "今年前三季度，全市新建道路1,200公里，比去年同期增长3.5%，" in text and "全市经济平稳增长\n今年" in text
    assert "来源：本地日报" in "".join(d.text for d in _by_css(browser, "#side-a del.removed"))
    _publish(_screenshot(browser, "compare", 1280, max_height=1500))

    browser.get(server + "/sources")
    _by_css(browser, "#sources a[href='/sources/daily.example']")[0].click()
    _wait_for(browser, "#counts")
    counts = {d.get_attribute("data-count"): d.find_element("css selector", "dd").text
              for d in _by_css(browser, "#counts > div")}
    assert counts == {"articles": "1", "stories_first": "1", "reposts_made": "0", "reposted_by_others": "2"}
    assert len(_by_css(browser, "#chart rect.bar")) == 6 and _by_css(browser, "#top-stories a[href='/clusters/6']")
    _publish(_screenshot(browser, "source", 1280))
    browser.get(server + "/sources")
    _screenshot(browser, "sources", 1280)
    browser.get(server + "/?min_size=1&sort=size")
    _publish(_screenshot(browser, "index", 1280))


def test_pages_load_nothing_from_other_hosts_and_break_no_policy(server, browser):
    """Offline: every page's resources come from this server, and the CSP refuses nothing (no inline script or
    style sneaked in)."""
    host = server.split("/", 3)[2]
    browser.set_window_size(1280, 1000)
    browser.get_log("browser")
    for path in ("/", "/?sort=size&source=daily.example&min_size=1", "/clusters/6", "/compare?a=6&b=9",
                 "/compare?a=1&b=2&view=normalized", "/sources", "/sources/daily.example", "/search?q=test", "/watches"):
        browser.get(server + path)
        assert _loaded_from(browser) == {host}, path
        assert browser.execute_script("return document.styleSheets[0].cssRules.length") > 50, path
        assert not _csp_violations(browser), (path, _csp_violations(browser))


def test_search_by_pasted_text_in_the_browser(server, browser):
    browser.set_window_size(1280, 1000)
    browser.get(server + "/")
    _by_css(browser, "details.paste summary")[0].click()
    box = _by_css(browser, "#paste-form textarea")[0]
    text = (SEEDS / "001_378b6d9d75648ce9.txt").read_text()[:600]
    browser.execute_script("arguments[0].value = arguments[1]", box, text)
    _by_css(browser, "#paste-form button")[0].click()
    _wait_for(browser, "#matches")
    urls = [e.text for e in _by_css(browser, "#matches small")]
    assert sorted(u.rsplit("/", 1)[-1][:3] for u in urls) == ["000", "001"]
    _screenshot(browser, "search", 1280)


def _csp_violations(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if "Content Security Policy" in e["message"]]


def _loaded_from(browser) -> set[str]:
    """Origins of everything the page loaded (scripts, styles, the schema, images)."""
    urls = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return {u.split("/", 3)[2] for u in urls if u.startswith("http")}


def test_api_docs_render_offline_under_their_csp(server, browser):
    """Swagger UI and ReDoc run from the vendored assets, under the docs' policy, with nothing from elsewhere."""
    operations = sum(len(ops) for ops in httpx.get(server + "/openapi.json").json()["paths"].values())
    host = server.split("/", 3)[2]
    browser.set_window_size(1280, 1000)
    browser.get_log("browser")  # drop earlier pages' messages
    browser.get(server + "/docs")
    _wait_for(browser, ".opblock")
    assert len(_by_css(browser, ".opblock")) == operations
    assert "/v1/articles" in _by_css(browser, ".opblock-summary-path")[0].text + browser.page_source
    assert _loaded_from(browser) == {host}
    _screenshot(browser, "docs", 1280)
    browser.get(server + "/redoc")
    _wait_for(browser, "[data-section-id]")
    assert "dedup" in _by_css(browser, "h1")[0].text
    assert len(_by_css(browser, "[data-section-id^='operation/']")) >= operations
    # ReDoc's menu footer shows Redocly's logo from its CDN; the policy refuses it (ReDoc then hides the image),
    # so nothing leaves this machine. Any other refusal would be an asset the docs need.
    refused = _csp_violations(browser)
    assert all("https://cdn.redoc.ly/redoc/logo-mini.svg" in message for message in refused), refused
    assert _loaded_from(browser) - {host} <= {"cdn.redoc.ly"}
    _screenshot(browser, "redoc", 1280)


def test_the_not_the_same_story_button_on_the_compare_page(server, browser):
    """A plain form under the pages' CSP: it works without script, records the correction, splits the pair."""
    from tests.api_backends import STORY

    with httpx.Client(base_url=server, timeout=30) as client:
        a = client.post("/v1/articles", json={"url": "https://browser.example/a", "text": STORY,
                                              "published_at": "2026-03-01"}).json()
        b = client.post("/v1/articles", json={"url": "https://browser.example/b", "text": STORY + "（来源：人民网）",
                                              "published_at": "2026-03-02"}).json()
        assert a["cluster_id"] == b["cluster_id"]
        browser.set_window_size(1280, 1000)
        browser.get_log("browser")  # drop earlier pages' messages
        browser.get(f"{server}/compare?a={a['id']}&b={b['id']}")
        assert not _by_css(browser, "#correction-key")  # no key set on this server: the form does not ask
        _by_css(browser, "#correction-form input[name=note]")[0].send_keys("two different bulletins")
        _by_css(browser, "#correct-different")[0].click()
        message = _wait_for(browser, "#correction-message").text
        assert "Cannot-link of article" in message and "two different bulletins" in message
        assert _csp_violations(browser) == []
        _screenshot(browser, "correction", 1280)
        assert client.get(f"/v1/articles/{b['id']}").json()["cluster_id"] != a["cluster_id"]
        assert [c["kind"] for c in client.get("/v1/corrections").json()["corrections"]] == ["cannot_link"]
        # The cluster page lists it, with a Withdraw button (a plain form too).
        browser.get(f"{server}/clusters/{a['cluster_id']}")
        listed = _wait_for(browser, "#corrections li[data-correction-id]")
        assert "not the same story" in listed.text and "two different bulletins" in listed.text
        _screenshot(browser, "cluster-corrections", 1280)
        listed.find_element("css selector", "form.withdraw button").click()
        assert "withdrawn" in _wait_for(browser, "#correction-message").text
        assert _csp_violations(browser) == []
        assert client.get("/v1/corrections").json()["corrections"] == []


def test_phone_comparison_keeps_the_legend_on_screen_and_jumps_to_the_next_difference(server, browser):
    """At 390 px the original-text comparison stacks A over B; the legend (with the view toggle and the jumps)
    stays at the top while reading, and each difference's `›` scrolls to the next one."""
    browser.set_window_size(390, 844)
    browser.get(server + "/compare?a=6&b=8")  # the excerpt: A has a long passage B lacks, and B's end
    _wait_for(browser, "#legend")
    a, b = _by_css(browser, "#side-a")[0], _by_css(browser, "#side-b")[0]
    assert b.rect["y"] >= a.rect["y"] + a.rect["height"], "the two texts should stack on a phone"
    first = _by_css(browser, "#side-a .text.original .diff")[0]
    jump = _by_css(browser, "#legend .jump a[href='#a-d1']")[0]
    assert jump.is_displayed() and _by_css(browser, "#side-a a.next-diff")[0].is_displayed()
    jump.click()
    assert browser.current_url.endswith("#a-d1")
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", first)
    legend = browser.execute_script("return arguments[0].getBoundingClientRect()", _by_css(browser, "#legend")[0])
    assert browser.execute_script("return window.scrollY") > 0 and abs(legend["top"]) < 1, legend
    assert legend["bottom"] <= top < 844, (legend, top)  # the difference is on screen, below the sticky legend
    _by_css(browser, "#side-a a.next-diff")[0].click()
    assert browser.current_url.endswith("#a-d2")
    target = _by_css(browser, "#a-d2")[0]
    assert 0 <= browser.execute_script("return arguments[0].getBoundingClientRect().top", target) < 844
    assert abs(browser.execute_script("return arguments[0].getBoundingClientRect().top",
                                      _by_css(browser, "#legend")[0])) < 1, "the legend scrolled away"

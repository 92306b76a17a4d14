"""The cluster browser's pages at the HTTP level (the real-browser tests are in test_browser.py), and the JSON
access log."""

from __future__ import annotations

import json
import logging
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from dedup.config import NormalizationConfig
from dedup.decide.explain_removed import removed_lines
from dedup.settings import Settings
from dedup.text.normalize import normalize_text

COPYRIGHT = "版權(quán)及免責聲明"
CAPTION = "新竣工通車的寶山至寶清高速公路"


@pytest.fixture(scope="module")
def client(tmp_path_factory, seed_files):
    db = tmp_path_factory.mktemp("pages") / "pages.db"
    with TestClient(create_app(Settings(database_url=str(db), redis_url=None, api_key=None))) as c:
        for path in seed_files:
            r = c.post("/v1/articles", json={"url": f"https://site{path.stem[:3]}.example/news/{path.stem}",
                                             "text": path.read_text(), "source": f"source {path.stem[:3]}"})
            assert r.status_code == 201, r.text
        yield c


def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_index_lists_the_shuangyashan_cluster_with_sources_and_keywords(client):
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'charset="utf-8"' in r.text and 'name="viewport"' in r.text
    clusters = re.findall(r'data-cluster-id="(\d+)"', r.text)
    assert clusters == ["1"]  # min size 2 by default: only the repost pair
    assert "双鸭山组建招商" in r.text and "2 articles" in r.text
    assert "source 000" in r.text and "source 001" in r.text
    assert re.search(r'class="kw">[^<]*招商', r.text)
    everything = client.get("/", params={"min_size": 1}).text
    assert len(re.findall(r"data-cluster-id=", everything)) == 4


def test_index_date_filters(client):
    assert 'data-cluster-id="1"' in client.get("/", params={"until": "2999-01-01"}).text
    assert "data-cluster-id" not in client.get("/", params={"since": "2999-01-01"}).text
    assert "data-cluster-id" not in client.get("/", params={"until": "2000-01-01"}).text


@pytest.mark.parametrize("query", ["min_size=0", "min_size=abc", "since=yesterday", "cursor=%%%"])
def test_index_bad_filters_give_an_html_400(client, query):
    r = client.get(f"/?{query}")
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/html")
    assert 'id="error-message"' in r.text


def test_cluster_page_has_members_with_source_date_url_and_scores(client):
    r = client.get("/clusters/1")
    assert r.status_code == 200
    assert re.findall(r'data-article-id="(\d+)"', r.text.split('id="members"', 1)[1]) == ["1", "2"]
    assert "https://site001.example/news/001_378b6d9d75648ce9" in r.text
    assert "source 001" in r.text and "representative" in r.text
    assert '<td class="num" data-label="Jaccard">1.00</td>' in r.text and '<td class="num" data-label="Jaccard">0.86</td>' in r.text
    assert 'href="/compare?a=1&amp;b=2"' in r.text


@pytest.mark.parametrize(("path", "status"), [("/clusters/999", 404), ("/clusters/0", 400), ("/clusters/x", 400)])
def test_cluster_page_errors_are_html(client, path, status):
    r = client.get(path)
    assert r.status_code == status and "text/html" in r.headers["content-type"]


def test_compare_page_highlights_shared_and_marks_differences(client):
    r = client.get("/compare", params={"a": 1, "b": 2, "view": "normalized"})
    assert r.status_code == 200
    assert 'class="decision">Duplicate<' in r.text and "0.86" in r.text and "0.99" in r.text
    shared = [_text(m) for m in re.findall(r'<mark class="shared">(.*?)</mark>', r.text, re.S)]
    assert any("今年以来双鸭山市在抗击疫情的同时" in s for s in shared)
    # The captions the repost added are marked as differing passages of B's text.
    b_side = r.text.split('id="side-b"', 1)[1]
    diffs = _text("".join(re.findall(r'<span class="diff[^"]*"[^>]*>(.*?)</span>', b_side, re.S)))
    assert "新竣工通车的宝" in diffs and "宝清高速公路" in diffs
    # The copyright footer and the source line normalization removed are shown, struck out, with why.
    removed = re.findall(r'<li class="dropped (\w+)">.*?<del lang="zh">(.*?)</del>', b_side, re.S)
    assert ("notice", ) == tuple({k for k, line in removed if COPYRIGHT in unescape(line)})
    assert any(kind == "source" and "黑龍江日報" in line for kind, line in removed)
    assert any(kind == "note" and "記者任志勇" in line for kind, line in removed)


def test_compare_of_distinct_articles_says_distinct(client):
    r = client.get("/compare", params={"a": 3, "b": 5})
    assert r.status_code == 200 and 'class="decision">Distinct<' in r.text


@pytest.mark.parametrize(("query", "status"), [("a=1", 400), ("a=1&b=x", 400), ("a=1&b=99", 404)])
def test_compare_errors_are_html(client, query, status):
    r = client.get(f"/compare?{query}")
    assert r.status_code == status and 'id="error-message"' in r.text


def test_search_by_url_shows_the_duplicates(client):
    r = client.get("/search", params={"q": "https://site000.example/news/000_989723cdbefbd512"})
    assert r.status_code == 200
    assert "https://site001.example/news/001_378b6d9d75648ce9" in r.text and "/compare?a=1&amp;b=2" in r.text
    missing = client.get("/search", params={"q": "https://nowhere.example/x"})
    assert missing.status_code == 200 and "No stored article has this URL" in missing.text


def test_search_by_pasted_text_shows_the_matches_without_storing(client, seed_files):
    text = seed_files[1].read_text()[:1500]
    r = client.post("/search", data={"q": text})
    assert r.status_code == 200
    urls = re.findall(r"<small>(.*?)</small>", r.text)
    assert sorted(u.rsplit("/", 1)[-1][:3] for u in urls) == ["000", "001"]
    assert client.get("/v1/clusters", params={"min_size": 1}).json()["clusters"].__len__() == 4
    assert client.post("/search", data={"q": "   "}).status_code == 400


def test_removed_lines_explain_what_normalization_dropped(seed_files):
    raw = seed_files[1].read_text()
    norm = normalize_text(raw, NormalizationConfig()).text
    kinds = [(r.kind, r.line[:8]) for r in removed_lines(raw, norm)]
    assert kinds[0] == ("note", "(國林岳楊軍記者")
    assert ("source", "轉(zhuǎn)") in kinds
    assert [k for k, _ in kinds].count("notice") == 2
    story = seed_files[4].read_text()
    assert removed_lines(story, normalize_text(story, NormalizationConfig()).text) == []


def test_access_log_is_one_json_line_per_request_with_the_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="dedup.access"):
        r = client.get("/v1/articles/1", headers={"X-Request-ID": "abc-123", "X-API-Key": "secret-key"})
        bad = client.get("/clusters/1", headers={"X-Request-ID": "has space\"quote"})
    assert r.headers["x-request-id"] == "abc-123"
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["x-request-id"])
    records = [rec for rec in caplog.records if rec.name == "dedup.access"]
    line = json.loads(logging.getLogger("dedup").handlers[0].format(records[0]))
    assert {k: line[k] for k in ("request_id", "method", "route", "path", "status")} == {
        "request_id": "abc-123", "method": "GET", "route": "/v1/articles/{article_id}", "path": "/v1/articles/1",
        "status": 200}
    assert isinstance(line["duration_ms"], float) and line["level"] == "info"
    assert "secret-key" not in json.dumps(line)
    assert records[1].route == "/clusters/{cluster_id}"


def test_compare_of_a_template_twin_shows_the_numbers_that_differ(tmp_path):
    from tests.api_backends import STORY

    twin = STORY.replace("3月13日", "3月20日")
    with TestClient(create_app(Settings(database_url=str(tmp_path / "twin.db"), redis_url=None))) as c:
        a = c.post("/v1/articles", json={"url": "https://a.example/1", "text": STORY, "title": "<b>原稿</b>"}).json()
        b = c.post("/v1/articles", json={"url": "https://b.example/1", "text": twin}).json()
        assert a["cluster_id"] != b["cluster_id"]
        r = c.get("/compare", params={"a": a["id"], "b": b["id"]})
    assert 'class="decision">Distinct<' in r.text and "template twin" in r.text
    assert 'number: <strong class="num">13</strong> ≠ <strong class="num">20</strong>' in r.text
    left, right = r.text.split('id="side-b"', 1)
    assert re.search(r'<span class="diff changed" id="a-d\d+"><strong class="num">13</strong></span>', left)
    assert re.search(r'<span class="diff changed" id="b-d\d+"><strong class="num">20</strong></span>', right)
    assert "&lt;b&gt;原稿&lt;/b&gt;" in left and "<b>原稿</b>" not in r.text  # titles are escaped


def test_json_formatter_keeps_extras_and_drops_ansi_duplicates():
    from app.access_log import JsonFormatter

    record = logging.makeLogRecord({"name": "uvicorn.error", "levelname": "INFO", "msg": "Started %d", "args": (7,),
                                    "color_message": "Started \x1b[36m%d\x1b[0m", "worker": 2})
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Started 7" and line["worker"] == 2 and "color_message" not in line


# -- the original text, the timeline, the sources, the list (issue 14) --------------------------------------------
REPORT = ("全市经济平稳增长\n"
          "今年前三季度，全市新建道路1,200公里，比去年同期增长3.5%，城乡交通条件明显改善。"
          "交通部门表示，明年还将继续加大投入，重点建设连接各区县的快速通道。\n"
          "与此同时，全市公交线路新增四十条，市民出行更加方便，早晚高峰的拥堵情况也有所缓解。\n"
          "在农村地区，新修的乡村公路让农产品运输时间缩短了一半，不少村民开起了网店，把特产卖到全国各地。\n"
          "专家认为，交通网络的完善将为下一阶段的产业布局打下基础，也会吸引更多企业到本地投资兴业。\n"
          "来源：本地日报\n")


# One made-up story: the original, a repost, an excerpt on another site, and a template twin (one figure changed:
# a different story, kept apart). The browser tests post them too.
REPORT_POSTS = [
    {"url": "https://daily.example/1", "text": REPORT, "published_at": "2026-03-01T08:00:00+08:00"},
    {"url": "https://copy.example/9", "text": REPORT + "（编辑：王五）", "published_at": "2026-03-01T10:30:00+08:00",
     "source": "抄报"},
    {"url": "https://short.example/5", "text": REPORT.split("与此同时")[0], "published_at": "2026-03-02T09:00:00+08:00",
     "source": "短讯网"},
    {"url": "https://twin.example/7", "text": REPORT.replace("1,200", "1,250"),
     "published_at": "2026-03-02T12:00:00+08:00", "source": "数字报"},
]


@pytest.fixture(scope="module")
def report_client(tmp_path_factory):
    db = tmp_path_factory.mktemp("report") / "report.db"
    with TestClient(create_app(Settings(database_url=str(db), redis_url=None))) as c:
        for post in REPORT_POSTS:
            r = c.post("/v1/articles", json=post)
            assert r.status_code == 201, r.text
        yield c


def test_compare_shows_the_original_text_with_the_changed_number_and_its_punctuation(report_client):
    r = report_client.get("/compare", params={"a": 1, "b": 4})
    assert r.status_code == 200 and 'class="decision">Distinct<' in r.text
    left, right = r.text.split('id="side-b"', 1)
    assert re.search(r'<span class="diff changed" id="a-d1"><strong class="num">1,200</strong></span>', left)
    assert re.search(r'<span class="diff changed" id="b-d1"><strong class="num">1,250</strong></span>', right)
    shared = "".join(re.findall(r'<mark class="shared">(.*?)</mark>', left, re.S))
    assert "公里，比去年同期增长3.5%，城乡交通条件明显改善。" in unescape(shared)  # punctuation kept
    assert "全市经济平稳增长\n今年前三季度" in _text(left)  # paragraphs kept
    assert '<del class="removed" title="removed by normalization">来源：本地日报</del>' in left
    assert 'href="#a-d2"' in left and 'id="normalized-view"' in r.text
    normalized = report_client.get("/compare", params={"a": 1, "b": 4, "view": "normalized"}).text
    assert "1/200公里比去年同期增长3.5" in _text(normalized) and "公里，" not in _text(normalized.split("legend")[-1])
    assert report_client.get("/compare", params={"a": 1, "b": 2, "view": "x"}).status_code == 400


def test_cluster_timeline_has_a_point_per_member_with_the_original_marked(report_client):
    r = report_client.get("/clusters/1")
    assert r.status_code == 200
    svg = r.text.split('id="timeline"', 1)[1].split("</svg>", 1)[0]
    points = re.findall(r'class="point (\w+)"(?: href="([^"]*)")? data-article-id="(\d+)"', svg)
    assert sorted((aid, kind) for kind, _href, aid in points) == [("1", "original"), ("2", "repost"),
                                                                  ("3", "excerpt")]
    assert {aid: unescape(href) for _kind, href, aid in points} == {"1": "", "2": "/compare?a=1&b=2",
                                                                    "3": "/compare?a=1&b=3"}
    rows = re.findall(r'class="source-label"[^>]*>([^<]+)<', svg)
    assert rows == ["daily.example", "抄报", "短讯网"]  # one row per source, in order of first appearance
    tips = re.findall(r"<title>(.*?)</title>", svg, re.S)
    assert any("Jaccard" in t and "containment" in t and "抄报" in t for t in tips)
    assert "2026-03-01" in svg and "<script" not in r.text


def test_sources_pages_count_originals_and_reposts(report_client):
    r = report_client.get("/sources")
    assert r.status_code == 200
    rows = {name: [int(n) for n in nums] for name, *nums in re.findall(
        r'<tr data-source="([^"]+)">.*?>(\d+)</td>.*?>(\d+)</td>.*?>(\d+)</td>.*?>(\d+)</td>', r.text, re.S)}
    assert rows == {"daily.example": [1, 1, 0, 2], "抄报": [1, 0, 1, 0], "短讯网": [1, 0, 1, 0], "数字报": [1, 1, 0, 0]}
    page = report_client.get("/sources/daily.example")
    counts = dict(re.findall(r'data-count="(\w+)"><dt>[^<]*</dt><dd>(\d+)</dd>', page.text))
    assert counts == {"articles": "1", "stories_first": "1", "reposts_made": "0", "reposted_by_others": "2"}
    assert 'href="/clusters/1">全市经济平稳增长</a>' in page.text and "2 reposts by others" in page.text
    assert page.text.count('class="bar ') == 3 * 2  # two days, three series
    assert report_client.get("/sources/nobody.example").status_code == 404


def test_clusters_list_total_sort_source_filter_and_titles(report_client):
    other = "另一条新闻：今天上午，市图书馆新馆正式开放，首日接待读者五千余人次，馆内藏书超过一百万册。"
    report_client.post("/v1/articles", json={"url": "https://Lib.Example:8443/1", "text": other})
    assert re.search(r'id="total">1 cluster<', report_client.get("/").text)
    r = report_client.get("/?min_size=1")
    assert re.search(r'id="total">3 clusters<', r.text)
    titles = re.findall(r'class="title" href="/clusters/(\d+)">([^<]*)<', r.text)
    assert titles == [("5", "另一条新闻：今天上午，市图书馆新馆正式开放，首日接待读者五千余人次，馆内藏书超过一百万册。"),
                      ("4", "全市经济平稳增长"), ("1", "全市经济平稳增长")]  # the text as written, not normalized
    by_size = re.findall(r'class="title" href="/clusters/(\d+)"', report_client.get("/?sort=size&min_size=1").text)
    assert by_size == ["1", "5", "4"]
    only = report_client.get("/", params={"source": "短讯网", "min_size": 1}).text
    assert re.findall(r'class="title" href="/clusters/(\d+)"', only) == ["1"] and 'id="total">1 cluster<' in only
    assert 'id="total">0 clusters<' in report_client.get("/", params={"source": "nobody"}).text
    for host, cluster in (("daily.example", "1"), ("lib.example", "5")):  # undeclared: named by the URL's host
        page = report_client.get("/", params={"source": host, "min_size": 1}).text
        assert re.findall(r'class="title" href="/clusters/(\d+)"', page) == [cluster], host
        assert f'href="/sources/{host}">{host}</a>' in page
    assert report_client.get("/?sort=oldest").status_code == 400
    assert report_client.get("/?sort=size&cursor=abc").status_code == 400


def test_titles_come_from_the_title_given_and_an_undated_member_is_placed_by_arrival(tmp_path):
    """The list and the cluster page show the title given at ingest; a member without a publication time sits on
    the timeline at its arrival, and its tooltip says so."""
    with TestClient(create_app(Settings(database_url=str(tmp_path / "t.db"), redis_url=None))) as c:
        c.post("/v1/articles", json={"url": "https://daily.example/1", "text": REPORT, "title": "交通建设成绩单",
                                     "published_at": "2026-03-01T08:00:00+08:00"})
        c.post("/v1/articles", json={"url": "https://copy.example/2", "text": REPORT + "（编辑：王五）"})  # undated
        assert re.findall(r'class="title" href="/clusters/(\d+)">([^<]*)<', c.get("/").text) == [("1", "交通建设成绩单")]
        page = c.get("/clusters/1").text
        assert "<h1>交通建设成绩单</h1>" in page
        svg = page.split('id="timeline"', 1)[1].split("</svg>", 1)[0]
        tips = dict(re.findall(r'data-article-id="(\d+)">\s*<title>(.*?)</title>', svg, re.S))
        assert "(arrival)" in tips["2"] and "(arrival)" not in tips["1"] and "repost" in tips["2"]
        original_x = float(re.search(r'<rect x="([\d.]+)"', svg).group(1)) + 7
        repost_x = float(re.search(r'<circle cx="([\d.]+)"', svg).group(1))
        assert original_x < repost_x  # published in March, arrived today: later on the axis

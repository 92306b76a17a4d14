"""Bodies of boilerplate only never merge different stories: page script is not text, and lines a site repeats
under many unrelated headlines are learned (per source) and removed before comparing; real reposts still match."""

from __future__ import annotations

import json
import sqlite3

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.main import create_app
from dedup.cli.commands import app as cli_app
from dedup.engine import Engine
from dedup.errors import BoilerplateOnly
from dedup.models import ArticleIn
from dedup.settings import Settings
from dedup.text.pagecode import drop_code_lines, is_code_line

# Made-up stories, one event each, with headlines that share no words with one another or with the promo.
STORIES = [
    ("江北新区图书馆周末开放夜间阅览", "江北新区图书馆宣布自本月起周六和周日晚间延长开放至十点，读者可凭证借阅新到的地方志。"),
    ("青石镇茶农喜迎秋茶丰收", "青石镇的茶农今年秋季采摘茶叶八百多担，合作社统一收购，价格比去年略有上涨。"),
    ("滨海大桥夜间封闭检修三天", "滨海大桥将从周二起连续三个夜晚封闭检修伸缩缝，过往车辆请绕行环城北路通行。"),
    ("山区小学迎来新校车", "云岭山区的六所小学收到二十辆新校车，孩子们上学路上的时间缩短了一半左右。"),
    ("老城区菜市场完成改造重新营业", "老城区东门菜市场改造完工后重新营业，新增冷链摊位和电子秤，摊主数量达到一百二十家。"),
    ("湿地公园观测到候鸟群", "西郊湿地公园的志愿者连续观测到上千只白鹭和苍鹭在此停歇，护鸟队增加了巡护频次。"),
    ("铁路货运站扩建工程开工", "南岗铁路货运站扩建工程正式开工，建成后年吞吐能力将提高到三百万吨，预计两年完工。"),
]
# A site's promo block: longer than any story, so without learning it alone makes every pair look alike.
PROMO = "\n".join([
    "关注本站官方公众号，每天推送最新最全的本地资讯和便民服务信息，回复关键词即可查询公交线路与天气预报。",
    "招聘启事：本站长期招聘记者、编辑、摄影和视频剪辑人员，欢迎有志于新闻事业的朋友投递简历加入我们的团队。",
    "下载本站客户端，注册即送会员积分，积分可兑换电影票、购物券和精美礼品，活动期间每日签到还有额外奖励。",
])
SOURCE = "example-news"
SCRIPT_BODY = "\n".join([
    "var ua = navigator.userAgent.toLowerCase();",
    "var isMobile = /iphone|android/.test(ua);",
    "if (isMobile) { location.replace('https://m.example.com/page?id=' + pageId); }",
    "window.__config__ = { channel: 'news', slide: true };",
    ".slide-wrap .title{color:#333;font-size:14px;line-height:20px;}",
    ".slide-wrap a:hover{text-decoration:underline;}",
    "function track(e){ return e && e.target ? e.target.id : null; }",
])


def article(n: int, text: str, title: str) -> ArticleIn:
    return ArticleIn(url=f"https://news.example/{n}", title=title, text=text, source=SOURCE)


def ingest_stories(engine: Engine) -> list:
    return [engine.ingest(article(n, f"{body}\n{PROMO}", title)) for n, (title, body) in enumerate(STORIES)]


def test_stories_sharing_a_long_promo_are_not_merged_once_it_is_learned(engine):
    results = ingest_stories(engine)
    later = results[engine.settings.boilerplate_min_titles:]
    assert later and not any(r.is_duplicate for r in later)
    # The early ones (stored before the promo was known) were re-signed and moved out as well.
    clusters = {engine.get_article(r.id).cluster_id for r in results}
    assert len(clusters) == len(STORIES)
    assert all("招聘启事" not in engine.get_article(r.id).norm_text for r in results)


def test_a_repost_is_still_found_after_the_promo_is_learned(engine):
    results = ingest_stories(engine)
    title, body = STORIES[2]
    repost = engine.ingest(ArticleIn(url="https://other.example/bridge", title="大桥检修期间车辆绕行",
                                     text=f"原标题：{title}\n{body}\n{PROMO}", source="other-site"))
    assert repost.is_duplicate and repost.cluster_id == engine.get_article(results[2].id).cluster_id


def test_a_page_whose_body_is_script_is_refused(engine):
    with pytest.raises(BoilerplateOnly, match="boilerplate"):
        engine.ingest(ArticleIn(url="https://video.example/1", title="视频页面", text=SCRIPT_BODY))
    text, dropped = drop_code_lines(SCRIPT_BODY)
    assert dropped == len(SCRIPT_BODY.splitlines()) and not text.strip()


def test_a_body_of_learned_lines_only_is_refused_and_never_merged(engine):
    ingest_stories(engine)
    with pytest.raises(BoilerplateOnly):
        engine.ingest(article(99, PROMO, "另一个视频页面的标题"))


@pytest.mark.parametrize("line", [
    "The central bank (RBA) raised rates on Thursday; markets fell, citing inflation worries.",
    "Apple's iPhone and iPad sales rose 5%; Mac sales fell = a mixed quarter.",
    "新华社北京电（记者王某）国务院常务会议{本次}研究部署了促进消费的政策措施；会议指出要稳定大宗消费。",
])
def test_prose_is_not_code(line):
    assert not is_code_line(line)


@pytest.mark.parametrize("line", [
    "var isIOS = /\\(iPad/i.test(ua);",
    "a:hover{color:#f00;text-decoration:underline;}",
    "body,.wrap{margin:0;}",
    "    location.replace('http://m.example.com/' + location.hash);",
    "/* footer */",
])
def test_script_and_style_are_code(line):
    assert is_code_line(line)


def test_learned_lines_persist_and_are_shared_by_workers(settings):
    first = Engine(settings)
    ingest_stories(first)
    # A second worker (another process on the same store) reads what the first learned.
    second = Engine(settings.model_copy(update={"boilerplate_refresh_seconds": 0}))
    try:
        with pytest.raises(BoilerplateOnly):
            second.ingest(article(100, PROMO, "第三个互不相关的页面标题"))
        assert second.store.learned_boilerplate_lines()
    finally:
        first.close()
        second.close()


def test_learning_off_keeps_the_old_behaviour(settings):
    engine = Engine(settings.model_copy(update={"boilerplate_min_titles": 0}))
    try:
        results = ingest_stories(engine)
        assert any(r.is_duplicate for r in results)  # the promo alone merges them: what learning prevents
    finally:
        engine.close()


def test_boilerplate_only_is_422_over_http_and_a_message_in_the_cli(tmp_path):
    settings = Settings(database_url=str(tmp_path / "h.db"), redis_url=None, api_key=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post("/v1/articles", json={"url": "https://video.example/2", "text": SCRIPT_BODY})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "boilerplate_only"
        assert "boilerplate" in response.json()["error"]["message"]
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"url": "https://video.example/3", "text": SCRIPT_BODY}), encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["ingest", str(path), "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 1 and "boilerplate" in result.output


def test_the_cli_lists_what_was_learned(tmp_path):
    path = tmp_path / "stories.jsonl"
    path.write_text("\n".join(json.dumps({"url": f"https://news.example/{n}", "title": title, "source": SOURCE,
                                          "text": f"{body}\n{PROMO}"}, ensure_ascii=False)
                               for n, (title, body) in enumerate(STORIES)), encoding="utf-8")
    db = str(tmp_path / "l.db")
    assert CliRunner().invoke(cli_app, ["ingest", "-q", str(path), "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli_app, ["boilerplate", "--db", db])
    assert result.exit_code == 0 and "招聘启事" in result.output and SOURCE in result.output


def test_two_workers_on_postgresql_learn_together():
    from dedup.store.migrate import upgrade
    from tests.api_backends import pg_schema
    from tests.conftest import service_url

    with pg_schema(service_url("DEDUP_TEST_DATABASE_URL")) as url:
        upgrade(url)
        settings = Settings(database_url=url, redis_url=None, boilerplate_refresh_seconds=0)
        workers = [Engine(settings), Engine(settings)]
        try:
            # Alternate the stories between the workers: each sees only half the evidence, the store all of it.
            results = [workers[n % 2].ingest(article(n, f"{body}\n{PROMO}", title))
                       for n, (title, body) in enumerate(STORIES)]
            assert len({workers[0].get_article(r.id).cluster_id for r in results}) == len(STORIES)
            for worker in workers:
                with pytest.raises(BoilerplateOnly):
                    worker.ingest(article(200, PROMO, "又一个没有正文的页面"))
        finally:
            for worker in workers:
                worker.close()


def test_a_story_reposted_under_many_headlines_is_not_learned(engine):
    body = ("市气象台今天发布寒潮蓝色预警，受强冷空气影响，未来三天全市气温将下降八到十度，"
            "最低气温降至零下五度，并伴有六级左右偏北大风，请市民注意防寒保暖。")
    headlines = ["寒潮蓝色预警发布 气温将降八到十度", "强冷空气来袭 全市最低气温零下五度", "气象台提醒市民注意防寒保暖",
                 "未来三天偏北大风六级左右", "寒潮来了：气温下降伴大风"]
    results = [engine.ingest(article(300 + n, body, title)) for n, title in enumerate(headlines)]
    assert all(r.is_duplicate for r in results[1:])
    assert len({engine.get_article(r.id).cluster_id for r in results}) == 1
    assert not engine.store.learned_boilerplate_lines()


def test_a_learned_sidebar_headline_stays_in_the_article_it_heads(engine):
    sidebar = "老码头改建为城市历史博物馆明年开放"
    for n, (title, body) in enumerate(STORIES):
        engine.ingest(article(400 + n, f"{body}\n{sidebar}", title))
    assert any("老码头" in row["line"] for row in engine.learned_boilerplate())
    story = engine.ingest(article(500, f"{sidebar}\n老码头的旧仓库将保留原有砖墙和吊车，改建后设六个展厅，陈列港口百年来的船模和老照片。",
                                  sidebar))
    assert engine.get_article(story.id).norm_text.startswith(sidebar)
    other = engine.ingest(article(501, f"{STORIES[0][1]}\n{sidebar}", "另一家图书馆的消息"))
    assert "老码头" not in engine.get_article(other.id).norm_text


def headless(n: int, text: str) -> ArticleIn:
    return ArticleIn(url=f"https://news.example/headless/{n}", text=text, source=SOURCE)


def lines_counted(engine: Engine) -> int:
    with sqlite3.connect(engine.settings.database_url) as db:
        return db.execute("SELECT count(*) FROM learned_boilerplate").fetchone()[0]


def test_articles_without_a_headline_leave_no_lines_to_count(engine):
    # Without a title a line has no evidence to give: storing it would only grow the table with the corpus.
    for n, (_, body) in enumerate(STORIES):
        engine.ingest(headless(n, f"{body}\n{PROMO}"))
    assert lines_counted(engine) == 0
    assert not engine.store.learned_boilerplate_lines()


def test_a_headless_article_is_cleaned_when_a_line_it_carries_is_learned_later(engine):
    title, body = STORIES[0]
    engine.ingest(article(0, f"{body}\n{PROMO}", title))  # the promo is now a line seen under a headline
    early = engine.ingest(headless(1, f"{STORIES[1][1]}\n{PROMO}"))
    assert "招聘启事" in engine.get_article(early.id).norm_text
    for n, (title, body) in enumerate(STORIES[2:], start=2):
        engine.ingest(article(n, f"{body}\n{PROMO}", title))
    assert engine.store.learned_boilerplate_lines()
    assert "招聘启事" not in engine.get_article(early.id).norm_text
    assert STORIES[1][1][:10] in engine.get_article(early.id).norm_text

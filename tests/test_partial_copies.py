"""Partial copies: excerpts of long texts are found (ingest and lookup by text, in process and in Redis), and
which text came first decides whether a partial copy is a repost.

Texts are made up from word lists with a fixed seed: long articles whose passages do not repeat each other.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from dedup.candidates.containment import LocalContainmentIndex, anchors
from dedup.config import DecisionConfig, SignatureConfig
from dedup.decide.verify import When, decide, later_of
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.recluster.verdicts import verify_rows
from dedup.sketch.shingle import shingle_hashes
from tests.api_backends import redis_prefix
from tests.conftest import needs_native, service_url

_PLACES = ["江苏", "浙江", "广西", "河北", "四川", "云南", "湖南", "山东", "福建", "甘肃", "吉林", "贵州"]
_BODIES = ["教育厅", "交通运输局", "卫生健康委", "文化和旅游厅", "农业农村厅", "生态环境局", "统计局", "气象台"]
_ACTS = ["发布通知", "召开专题会议", "印发实施方案", "开展专项检查", "公布调查结果", "启动应急响应", "组织现场调研"]
_TOPICS = ["高校招生报名", "乡村道路养护", "冬季流感防控", "景区门票预约", "秋粮收购进度", "河湖水质监测",
           "城镇就业登记", "寒潮大风降温", "中小学课后服务", "老旧小区改造", "农村电网升级", "森林防火巡查"]
_PEOPLE = ["有关负责人", "新闻发言人", "项目组专家", "一线工作人员", "当地居民代表", "研究院学者"]
_SAYS = ["介绍说", "表示", "指出", "提醒", "透露", "强调"]
_CLAUSES = ["今年以来各项工作稳步推进", "下一步将加强部门协同", "相关数据将按月向社会公开", "群众反映的问题已逐条整改",
            "试点经验将在全省范围推广", "资金保障和人员配备已经到位", "考核结果将与年度评优挂钩", "咨询电话全天有人值守",
            "线上办理渠道同步开通", "重点时段将增派执勤力量", "第三方机构参与全程评估", "各地需在月底前报送进展"]


_NAME_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建国文志海波宁晨阳春雪梅松林"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"


def sentence(rng: random.Random) -> str:
    month, day, count = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2, 980)
    name = rng.choice(_SURNAMES) + "".join(rng.choice(_NAME_CHARS) for _ in range(2))
    return (f"{rng.choice(_PLACES)}省{rng.choice(_BODIES)}{month}月{day}日就{rng.choice(_TOPICS)}{rng.choice(_ACTS)}，"
            f"{rng.choice(_PEOPLE)}{name}{rng.choice(_SAYS)}，{rng.choice(_CLAUSES)}，涉及{count}个单位，"
            f"{rng.choice(_CLAUSES)}。")


def article(seed: int, sentences: int) -> str:
    """A made-up article: paragraphs of random sentences (about 60 characters each)."""
    rng = random.Random(seed)
    paragraphs = ["".join(sentence(rng) for _ in range(4)) for _ in range(max(1, sentences // 4))]
    return "\n".join(paragraphs)


LONG = article(1, 80)          # about 5,000 characters
EXCERPT = LONG[2400:2900]      # one tenth of it, from the middle: Jaccard about 0.1
BRIEF = article(2, 6)          # a short item of about 360 characters
ROUNDUP = article(3, 20) + "\n" + BRIEF + "\n" + article(4, 20)   # a later digest quoting the brief in full


def test_a_tenth_of_a_long_article_is_too_dissimilar_for_the_jaccard_bands(engine):
    """The situation the containment path exists for (a precondition of the tests below)."""
    long_sh, short_sh = (engine.prepare(t).shingles for t in (LONG, EXCERPT))
    scores = decide(LONG, EXCERPT, long_sh, short_sh, engine.decision).scores
    assert scores.jaccard < 0.15 and scores.containment > 0.95


def test_an_excerpt_of_a_long_stored_article_is_found_on_ingest(engine):
    source = engine.ingest(ArticleIn(url="https://a.example/statement", text=LONG))
    excerpt = engine.ingest(ArticleIn(url="https://b.example/excerpt", text=EXCERPT))
    assert excerpt.is_duplicate and excerpt.cluster_id == source.cluster_id
    assert excerpt.duplicate_of == "https://a.example/statement"
    assert "excerpt" in excerpt.matches[0].reason


def test_pasting_a_tenth_of_a_stored_article_finds_it(engine):
    engine.ingest(ArticleIn(url="https://a.example/statement", text=LONG))
    engine.ingest(ArticleIn(url="https://c.example/other", text=article(9, 60)))
    found = engine.query_text(EXCERPT)
    assert [m.url for m in found] == ["https://a.example/statement"]
    assert found[0].containment > 0.95 and found[0].jaccard < 0.15


def test_search_route_finds_the_article_a_pasted_excerpt_comes_from(settings):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(settings)) as client:
        client.post("/v1/articles", json={"url": "https://a.example/statement", "text": LONG})
        found = client.post("/v1/duplicates/search", json={"text": EXCERPT})
        assert found.status_code == 200
        assert [m["url"] for m in found.json()["matches"]] == ["https://a.example/statement"]


def test_a_later_long_article_quoting_an_earlier_brief_in_full_is_a_new_article(engine):
    brief = engine.ingest(ArticleIn(url="https://a.example/brief", text=BRIEF, published_at="2026-03-01"))
    roundup = engine.ingest(ArticleIn(url="https://b.example/week", text=ROUNDUP, published_at="2026-03-07"))
    assert not roundup.is_duplicate and roundup.cluster_id != brief.cluster_id
    reason = engine.explain(brief.id, roundup.id).verdict.reason
    assert "later, longer text contains the earlier one" in reason


def test_a_brief_cut_from_an_earlier_long_article_is_a_repost_even_when_it_arrives_first(engine):
    """Publication time, not arrival, orders dated articles: the excerpt (published later) joins the source."""
    excerpt = engine.ingest(ArticleIn(url="https://b.example/excerpt", text=EXCERPT, published_at="2026-03-08"))
    source = engine.ingest(ArticleIn(url="https://a.example/statement", text=LONG, published_at="2026-03-07"))
    assert source.is_duplicate and source.cluster_id == excerpt.cluster_id


def test_undated_partial_copies_are_ordered_by_arrival(engine):
    engine.ingest(ArticleIn(url="https://a.example/brief", text=BRIEF))
    roundup = engine.ingest(ArticleIn(url="https://b.example/week", text=ROUNDUP))
    assert not roundup.is_duplicate
    # The same texts the other way round: the shorter, later one is an excerpt repost.
    later_brief = engine.ingest(ArticleIn(url="https://c.example/brief-again", text=BRIEF + "（完）"))
    assert later_brief.is_duplicate


def test_successive_updates_sharing_a_background_paragraph_stay_apart(engine):
    background = article(5, 8)
    first = engine.ingest(ArticleIn(url="https://a.example/day1", text=article(6, 12) + "\n" + background))
    second = engine.ingest(ArticleIn(url="https://a.example/day2", text=article(7, 12) + "\n" + background))
    assert not second.is_duplicate and second.cluster_id != first.cluster_id


def test_a_templated_excerpt_with_a_different_figure_stays_apart(engine):
    """Containment candidates still go through the template-twin guard: the same passage about another
    session of a meeting is not an excerpt of this one."""
    base = "省人民代表大会第二次会议开幕，大会听取了政府工作报告，代表们围绕乡村振兴和城市更新展开热烈讨论，会期五天。"
    engine.ingest(ArticleIn(url="https://a.example/long", text=article(11, 30) + base + article(12, 30)))
    twin = engine.ingest(ArticleIn(url="https://b.example/twin", text=base.replace("第二次", "第三次")))
    assert not twin.is_duplicate


def test_recluster_verdicts_follow_the_same_time_order():
    from dedup.config import DecisionConfig, SignatureConfig

    rows = [(1, 2, BRIEF, ROUNDUP), (3, 4, ROUNDUP, BRIEF)]
    times = {1: When("2026-03-01", "2026-03-01", 1), 2: When("2026-03-07", "2026-03-07", 2),
             3: When("2026-03-01", "2026-03-01", 3), 4: When("2026-03-07", "2026-03-07", 4)}
    verdicts = {(a, b): score for a, b, score in verify_rows(rows, SignatureConfig(), DecisionConfig(), times)}
    assert verdicts[(1, 2)] is None           # the later roundup quotes the earlier brief: a new article
    assert verdicts[(3, 4)] is not None       # the later brief is cut from the earlier long text: a repost


def test_time_order_uses_publication_then_arrival():
    assert later_of(When("2026-03-02", "2026-03-09", 1), When("2026-03-01", "2026-03-02", 2)) == "a"
    assert later_of(When(None, "2026-03-09", 1), When(None, "2026-03-02", 2)) == "b"
    # An undated text was published by the time it arrived; a dated text after that is the later one.
    assert later_of(When("2026-03-10", "2026-03-11", 1), When(None, "2026-03-09", 2)) == "a"
    assert later_of(When("2026-03-01", "2026-03-11", 1), When(None, "2026-03-09", 2)) is None


def test_containment_candidates_skip_stock_phrases_and_need_half_of_the_smaller_side():
    rng = np.random.default_rng(3)
    long = np.unique(rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32))
    index = LocalContainmentIndex(rate=16)
    index.insert(1, anchors(long, 16))
    index.insert(2, anchors(np.unique(rng.integers(0, 2**32, 4000, dtype=np.uint64).astype(np.uint32)), 16))
    part = long[rng.permutation(len(long))[:400]]
    assert index.query(anchors(np.sort(part), 16)) == [1]
    # A quarter of the excerpt in the long text is not enough.
    mixed = np.unique(np.concatenate([part[:100], rng.integers(0, 2**32, 300, dtype=np.uint64).astype(np.uint32)]))
    assert index.query(anchors(mixed, 16)) == []
    index.remove(1)
    assert index.query(anchors(np.sort(part), 16)) == [] and index.ids() == {2}


@pytest.mark.parametrize("backend", ["process", "redis"])
def test_a_stock_phrase_anchor_proposes_nothing_also_after_more_articles_carry_it(backend):
    """An anchor held by more than HOT_ANCHOR articles is a site's stock phrase: it stops proposing candidates
    for good, also once later articles carrying it arrive (in process: after the merge that found it hot, their
    postings must not build a new run of it)."""
    from dedup.candidates.containment import HOT_ANCHOR, RedisContainmentIndex

    stock = np.array([7, 9], dtype=np.uint32)   # two anchors every article carries
    own = {i: np.array([1000 + 2 * i, 1001 + 2 * i], dtype=np.uint32) for i in range(1, HOT_ANCHOR + 40)}

    def fill(index) -> None:  # type: ignore[no-untyped-def]
        for i in range(1, HOT_ANCHOR + 10):
            index.insert(i, np.concatenate([stock, own[i]]))
        if backend == "process":
            index.merge()    # the merge finds the two anchors hot
        for i in range(HOT_ANCHOR + 10, HOT_ANCHOR + 40):
            index.insert(i, np.concatenate([stock, own[i]]))
        if backend == "process":
            index.merge()

    if backend == "process":
        index = LocalContainmentIndex(rate=1)
        fill(index)
        assert index.query(stock) == []
        assert index.query(np.concatenate([stock, own[HOT_ANCHOR + 20]])) == [HOT_ANCHOR + 20]
        return
    import redis

    url = service_url("DEDUP_TEST_REDIS_URL")
    with redis_prefix(url) as prefix:
        index = RedisContainmentIndex(redis.Redis.from_url(url), prefix, rate=1)
        fill(index)
        assert index.query(stock) == []
        assert index.query(np.concatenate([stock, own[HOT_ANCHOR + 20]])) == [HOT_ANCHOR + 20]


def test_the_containment_index_in_redis_finds_excerpts_and_survives_a_restart(settings):
    url = service_url("DEDUP_TEST_REDIS_URL")
    with redis_prefix(url) as prefix:
        shared = settings.model_copy(update={"redis_url": url, "redis_prefix": prefix})
        first = Engine(shared)
        source = first.ingest(ArticleIn(url="https://a.example/statement", text=LONG))
        first.close()
        second = Engine(shared)  # another worker: same Redis index
        assert [m.id for m in second.query_text(EXCERPT)] == [source.id]
        second.index.contained.remove(source.id)
        assert second.query_text(EXCERPT) == []
        second.heal_index()      # a repair puts the anchors back from the stored texts
        assert [m.id for m in second.query_text(EXCERPT)] == [source.id]
        second.close()


@pytest.mark.parametrize("rate", [0])
def test_the_containment_path_can_be_switched_off(settings, rate):
    eng = Engine(settings.model_copy(update={"anchor_rate": rate}))
    eng.ingest(ArticleIn(url="https://a.example/statement", text=LONG))
    assert eng.query_text(EXCERPT) == []
    eng.close()


def test_merged_and_recent_postings_answer_alike_through_removals_and_updates():
    """The compact (merged) part of the in-process index answers as the recent part would: removed
    articles stay gone, an updated article counts with its new anchors only."""
    rng = np.random.default_rng(5)
    docs = {i: np.unique(rng.integers(0, 50_000, 300, dtype=np.uint64).astype(np.uint32)) for i in range(1, 60)}
    merged, recent = LocalContainmentIndex(rate=1), LocalContainmentIndex(rate=1)
    merged.MERGE_MIN = 500   # merges every few articles
    recent.MERGE_MIN = 10**9
    for index in (merged, recent):
        index.insert_many(docs.items())
        for i in range(1, 60, 3):
            index.remove(i)
        for i in range(2, 60, 5):
            index.insert(i, docs[i + 1])   # an update: new text
    assert len(merged._merged[0]) > 0 and merged.ids() == recent.ids()
    for i in range(1, 60):
        assert merged.query(docs[i][:120]) == recent.query(docs[i][:120])
    assert 1 not in merged.query(docs[1]) and 3 in merged.query(docs[3][:100])
    merged.merge()
    assert [merged.query(docs[i][:120]) for i in range(1, 60)] == [recent.query(docs[i][:120]) for i in range(1, 60)]


def test_the_nightly_recluster_keeps_an_excerpt_with_its_source_and_a_roundup_apart(engine, settings):
    """The re-cluster sees the containment pairs ingest saw, and applies the same time order."""
    from dedup.recluster.run import run_recluster

    source = engine.ingest(ArticleIn(url="https://a.example/statement", text=LONG, published_at="2026-03-07"))
    excerpt = engine.ingest(ArticleIn(url="https://b.example/excerpt", text=EXCERPT, published_at="2026-03-08"))
    brief = engine.ingest(ArticleIn(url="https://c.example/brief", text=BRIEF, published_at="2026-03-01"))
    roundup = engine.ingest(ArticleIn(url="https://d.example/week", text=ROUNDUP, published_at="2026-03-09"))
    run_recluster(engine, settings)
    cluster_of = {a.id: a.cluster_id for a in (engine.get_article(i) for i in
                                                 (source.id, excerpt.id, brief.id, roundup.id))}
    assert cluster_of[excerpt.id] == cluster_of[source.id]
    assert cluster_of[roundup.id] != cluster_of[brief.id]


@needs_native
def test_the_compiled_and_python_containment_paths_agree(monkeypatch):
    import dedup.candidates.containment as contain

    rng = np.random.default_rng(8)
    docs = {i: np.unique(rng.integers(0, 20_000, 200, dtype=np.uint64).astype(np.uint32)) for i in range(1, 40)}

    def answers() -> list[list[int]]:
        index = LocalContainmentIndex(rate=1)
        index.insert_many(list(docs.items())[:20])
        for i, anchors_of in list(docs.items())[20:]:
            index.insert(i, anchors_of)
        index.remove(25)
        return [index.query(docs[i][:80]) for i in docs]

    compiled = answers()
    monkeypatch.setattr(contain, "_native", None)
    assert answers() == compiled and any(compiled)


def test_a_later_text_holding_an_earlier_full_article_is_its_fuller_version():
    """Only a brief or a statement is quoted in full: an earlier article of several paragraphs found whole in a
    later, much longer text is extended or excerpted from it (a flash and the full report, a news item and the
    notice it quotes, delivered undated in any order), a repost either way."""
    story = LONG[600:1500]
    assert len(story) > 4 * 200 and len(story) < len(LONG) / 4
    config, sig = DecisionConfig(), SignatureConfig()
    verdict = decide(story, LONG, shingle_hashes(story, sig), shingle_hashes(LONG, sig), config, later="b")
    assert verdict.is_duplicate, verdict.reason
    brief = decide(BRIEF, ROUNDUP, shingle_hashes(BRIEF, sig), shingle_hashes(ROUNDUP, sig), config, later="b")
    assert not brief.is_duplicate and "later, longer text contains the earlier one" in brief.reason


SOURCE = article(21, 100)                                 # a long notice, about 6,000 characters
PARTS = (SOURCE[300:1100], SOURCE[4000:4800])             # two news items quoting different parts of it


@pytest.mark.parametrize("recluster", [False, True])
def test_excerpts_of_one_source_that_arrived_before_it_become_one_story(engine, settings, recluster):
    """Two items cut from different parts of one long text share nothing with each other; once the source
    arrives (after them, as in an undated crawl) all three are one story, online and after the re-cluster,
    as if the source had come first."""
    from dedup.recluster.run import run_recluster

    first, second = (engine.ingest(ArticleIn(url=f"https://n{k}.example/item", text=part))
                     for k, part in enumerate(PARTS))
    assert first.cluster_id != second.cluster_id
    source = engine.ingest(ArticleIn(url="https://gov.example/notice", text=SOURCE))
    if recluster:
        run_recluster(engine, settings)
    clusters = {engine.get_article(i).cluster_id for i in (first.id, second.id, source.id)}
    assert len(clusters) == 1


def test_a_later_digest_of_two_earlier_briefs_joins_neither_nor_merges_them(engine):
    """The merge through a source is for parts cut from it, not for briefs a later digest quotes in full."""
    other = article(22, 6)
    one = engine.ingest(ArticleIn(url="https://a.example/brief", text=BRIEF))
    two = engine.ingest(ArticleIn(url="https://b.example/brief", text=other))
    digest = engine.ingest(ArticleIn(url="https://c.example/digest",
                                     text=article(23, 20) + "\n" + BRIEF + "\n" + other + "\n" + article(24, 20)))
    clusters = [engine.get_article(i).cluster_id for i in (one.id, two.id, digest.id)]
    assert len(set(clusters)) == 3


def test_the_array_pick_of_the_in_process_index_matches_the_redis_index_pick():
    """Both indexes apply one rule: the in-process one counts postings with numpy, Redis's with a Counter."""
    from collections import Counter

    from dedup.candidates.containment import pick, pick_arrays

    rng = np.random.default_rng(11)
    for _ in range(200):
        query_count = int(rng.integers(1, 40))
        hits = rng.integers(1, 60, int(rng.integers(0, 400)), dtype=np.int64)
        counts = {i: int(rng.integers(0, 50)) for i in range(1, 60)}
        count_of = np.array([counts.get(i, 0) for i in range(60)], dtype=np.int64)
        expected = pick(query_count, Counter(hits.tolist()), lambda ids, c=count_of: c[ids].tolist(), limit=10)
        assert pick_arrays(query_count, hits, lambda ids, c=count_of: c[ids], limit=10) == expected


@needs_native
def test_the_compiled_pick_matches_the_array_pick():
    """The in-process lookup counts its hits in one C call: the same ids in the same order as the numpy rule,
    with ties on estimate and shared anchors, hits split between recent and merged postings, unknown ids."""
    from dedup.candidates.containment import MIN_ESTIMATE, pick_arrays
    from dedup.sketch.native import _native

    rng = np.random.default_rng(12)
    for _ in range(300):
        query_count = int(rng.integers(0, 40))
        hits = rng.integers(1, 80, int(rng.integers(0, 600)), dtype=np.int64)
        count_of = rng.integers(-1, 50, 60).astype(np.int32)   # ids 60-79 beyond it, -1: no longer indexed
        split = int(rng.integers(0, len(hits) + 1))
        limit = int(rng.integers(0, 30))
        expected = pick_arrays(query_count, hits, lambda ids, c=count_of: np.maximum(
            np.where(ids < len(c), c[np.minimum(ids, len(c) - 1)], 0), 0), limit=limit)
        assert _native.pick_contained(hits[:split].tolist(), hits[split:], count_of, query_count, limit,
                                      MIN_ESTIMATE) == expected


def sentences(seed: int, count: int) -> str:
    rng = random.Random(seed)
    return "".join(sentence(rng) for _ in range(count))


SHARED_LIST = article(31, 8)                           # a reused passage (a symptom list), about 500 characters
# Two openings that tell news of their own and share no phrase with each other or with the passage.
LEADS = ("老李在公司里是出了名的拼命三郎，四十岁不到已经做到副总。可这半年他总是睡不好觉，原来很好的酒量也没了踪影，"
         "饭吃得稍多还会觉得恶心，他以为只是太累，谁知年底体检的结果让他大吃一惊。",
         "入秋以后天气转凉，不少市民发现自己胃口变差、脸色发黄，还时常觉得腹胀乏力。专家提醒，这些看似平常的小毛病，"
         "有时是身体发出的信号，千万不能掉以轻心。下面为大家梳理了最常见的几种表现，看看你有没有中招。")


@pytest.mark.parametrize("later", [None, "a", "b"])
def test_two_articles_with_their_own_leads_over_one_reused_passage_are_not_reposts(later):
    """Each text opens with news of its own that the other lacks entirely, then both reuse one passage: the
    smaller text is not held in the larger one (neither is the other cut or extended at the ends), so the
    shared middle alone, however much of the smaller text it is, does not make a repost."""
    one = LEADS[0] + "\n" + SHARED_LIST                                    # its own lead
    other = LEADS[1] + "\n" + SHARED_LIST + "\n" + article(34, 24)        # another lead, and a tail
    config, sig = DecisionConfig(), SignatureConfig()
    verdict = decide(one, other, shingle_hashes(one, sig), shingle_hashes(other, sig), config, later=later)
    assert verdict.scores.containment >= config.containment and verdict.scores.jaccard < config.jaccard
    assert not verdict.is_duplicate and "opens with a passage the other lacks" in verdict.reason


@pytest.mark.parametrize("lead", ["", "新京报讯据省教育厅消息，", "音集协回应歌曲下架\n新浪科技讯11月2日下午消息，据工信部官方微博，"])
def test_a_dateline_or_a_repeated_headline_over_a_copy_is_no_lead_of_its_own(lead):
    """What outlets put on top of a relayed text (a headline, a dateline, `据…消息`) is not a lead: a copy of
    part of a longer text keeps being an excerpt, and one new lead on one side only is a re-led repost."""
    config, sig = DecisionConfig(), SignatureConfig()
    longer = sentences(35, 3) + "\n" + SHARED_LIST + "\n" + article(36, 12)
    for copy in (lead + SHARED_LIST, lead + SHARED_LIST + sentences(37, 1)):
        verdict = decide(copy, longer, shingle_hashes(copy, sig), shingle_hashes(longer, sig), config)
        assert verdict.is_duplicate, verdict.reason
    re_led = sentences(38, 3) + "\n" + SHARED_LIST
    verdict = decide(SHARED_LIST, re_led, shingle_hashes(SHARED_LIST, sig), shingle_hashes(re_led, sig), config)
    assert verdict.is_duplicate, verdict.reason


def test_an_outlets_summary_on_top_of_a_relayed_text_is_no_lead_of_its_own():
    """Two outlets relaying one statement each put an intro on top; one that sums up what follows (its words
    are the statement's, in other order) is no news of its own, so the copy is still a repost."""
    summary = "，".join(SHARED_LIST[k:k + 5] for k in range(0, 450, 25)) + "。"
    copy = summary + "\n" + SHARED_LIST
    longer = LEADS[1] + "\n" + SHARED_LIST + "\n" + article(34, 24)
    config, sig = DecisionConfig(), SignatureConfig()
    verdict = decide(copy, longer, shingle_hashes(copy, sig), shingle_hashes(longer, sig), config)
    assert verdict.scores.jaccard < config.jaccard and verdict.is_duplicate, verdict.reason



PASSAGE = article(41, 8)                                  # a statement of about 500 characters
ORIGIN = article(42, 40) + "\n" + PASSAGE[:250] + "记者在现场看到，" + PASSAGE[250:] + "\n" + article(43, 40)
COMPILATION = article(44, 12) + "\n" + PASSAGE + "\n" + article(45, 12)   # a later digest quoting it verbatim


@pytest.mark.parametrize("recluster", [False, True])
def test_an_excerpt_held_by_several_stories_joins_the_earliest(engine, settings, recluster):
    """A passage first published inside a long report and later quoted whole by a digest: a copy of the passage
    alone is an excerpt of the report, its origin, though the digest holds it more fully (containment 1.0
    against about 0.98). The digest itself is a new article, and the re-cluster keeps the same choice."""
    from dedup.recluster.run import run_recluster

    origin = engine.ingest(ArticleIn(url="https://a.example/report", text=ORIGIN, published_at="2026-05-01"))
    digest = engine.ingest(ArticleIn(url="https://b.example/digest", text=COMPILATION, published_at="2026-05-03"))
    excerpt = engine.ingest(ArticleIn(url="https://c.example/quote", text=PASSAGE, published_at="2026-05-04"))
    assert digest.cluster_id != origin.cluster_id
    assert {m.url for m in excerpt.matches} == {"https://a.example/report", "https://b.example/digest"}
    assert excerpt.matches[0].url == "https://b.example/digest"   # the fuller holder scores higher
    if recluster:
        run_recluster(engine, settings)
    cluster_of = {i: engine.get_article(i).cluster_id for i in (origin.id, digest.id, excerpt.id)}
    assert cluster_of[excerpt.id] == cluster_of[origin.id] != cluster_of[digest.id]
    if not recluster:
        assert excerpt.duplicate_of == "https://a.example/report"

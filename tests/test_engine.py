"""Engine use cases: idempotent ingest, updates, deletes, chaining guard, durability across restarts."""

from __future__ import annotations

import pytest

from dedup.engine import Engine
from dedup.errors import EmptyText, InvalidArticle, NotFound
from dedup.models import ArticleIn

STORY = ("央视网消息（新闻联播）：国务院总理李强3月13日主持召开国务院常务会议，学习贯彻全国两会精神，讨论通过重点工作分工方案，"
         "研究建立地方财政补贴负面清单管理机制，审议通过全国农业普查条例修订草案。会议强调，要围绕全年目标任务扎实做好各项工作。")
OTHER = ("新华社北京电：我国新增4个世界最佳旅游乡村，联合国旅游组织在浙江举行颁奖仪式，公布了年度最佳旅游乡村名单，"
         "我国入选总数达到19个，这些乡村呈现了中国乡村旅游丰富多元的发展图景，为全球可持续发展贡献中国智慧。")


def test_same_url_same_content_is_idempotent(engine):
    first = engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    again = engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    assert first.status == "created" and again.status == "unchanged"
    assert (again.id, again.cluster_id) == (first.id, first.cluster_id)
    assert engine.store.counts()["articles"] == 1


def test_changed_content_updates_and_reindexes(engine):
    engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    repost = engine.ingest(ArticleIn(url="https://b.example/1", text=STORY + "（来源：人民网）"))
    assert repost.is_duplicate
    updated = engine.ingest(ArticleIn(url="https://b.example/1", text=OTHER))
    assert updated.status == "updated" and not updated.is_duplicate
    assert engine.query_text(STORY)[0].url == "https://a.example/1"
    assert [m.url for m in engine.query_text(OTHER)] == ["https://b.example/1"]


def test_delete_removes_from_index_and_cluster(engine):
    a = engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    b = engine.ingest(ArticleIn(url="https://b.example/1", text=STORY + "责任编辑：王五"))
    assert b.cluster_id == a.id
    engine.delete_article(a.id)
    cluster, members = engine.get_cluster(a.id)
    assert [m.id for m in members] == [b.id] and cluster.representative_id == b.id
    engine.delete_article(b.id)
    with pytest.raises(NotFound):
        engine.get_cluster(a.id)
    assert engine.query_text(STORY) == []


def test_bad_input_is_rejected_before_anything_is_written(engine):
    with pytest.raises(InvalidArticle, match="url"):
        engine.ingest(ArticleIn(url="javascript:alert(1)", text=STORY))
    with pytest.raises(EmptyText):
        engine.ingest(ArticleIn(url="https://a.example/2", text="？？！！ ..."))
    with pytest.raises(InvalidArticle, match="published_at"):
        engine.ingest(ArticleIn(url="https://a.example/3", text=STORY, published_at="yesterday-ish"))
    assert engine.store.counts()["articles"] == 0


def test_representative_is_earliest_published(engine):
    late = engine.ingest(ArticleIn(url="https://late.example/1", text=STORY + "图为会议现场", published_at="2026-03-15"))
    early = engine.ingest(ArticleIn(url="https://tv.example/1", text=STORY, published_at="2026-03-13"))
    cluster, _ = engine.get_cluster(late.cluster_id)
    assert cluster.id == late.id  # the id stays the founder's
    assert cluster.representative_id == early.id


def test_bridge_article_does_not_chain_two_stories(engine):
    a = engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    b = engine.ingest(ArticleIn(url="https://b.example/1", text=OTHER))
    bridge = engine.ingest(ArticleIn(url="https://c.example/1", text=STORY + "\n" + OTHER))
    assert bridge.is_duplicate
    assert engine.get_article(a.id).cluster_id != engine.get_article(b.id).cluster_id


def test_data_and_index_survive_a_restart(settings):
    first = Engine(settings)
    first.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    first.close()
    second = Engine(settings)
    assert [m.url for m in second.query_text(STORY + "（记者 张三）")] == ["https://a.example/1"]
    second.close()

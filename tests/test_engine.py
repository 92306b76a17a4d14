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


def test_a_lookup_comparing_an_article_that_an_update_replaces_never_brings_back_its_old_text(engine):
    """Text queries read the cache outside the writers' lock: shingles computed for a record read before an update
    must not put the old record back, or later lookups would compare against a text no longer stored."""
    first = engine.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    engine.known.clear()
    before = engine.known.get(first.id)  # loaded from the store, shingles not yet computed
    assert before is not None and before.shingles is None
    engine.ingest(ArticleIn(url="https://a.example/1", text=OTHER))  # an update drops the cached record
    engine.known.shingles(before)  # the lookup that read the old record goes on
    now = engine.known.get(first.id)
    assert now is not None and now.norm_text != before.norm_text
    assert [m.url for m in engine.query_text(STORY)] == []
    assert [m.url for m in engine.query_text(OTHER)] == ["https://a.example/1"]


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


def test_the_verdict_does_not_depend_on_arrival_order(settings, tmp_path):
    """Two engines see a repost and its original in opposite orders and reach the same verdict."""
    repost = "（来源：人民网）" + STORY[:70] + "图为会议现场。"
    results = []
    for name, order in (("ab", (STORY, repost)), ("ba", (repost, STORY))):
        eng = Engine(settings.model_copy(update={"database_url": str(tmp_path / f"{name}.db")}))
        first = eng.ingest(ArticleIn(url="https://a.example/1", text=order[0]))
        second = eng.ingest(ArticleIn(url="https://b.example/1", text=order[1]))
        results.append((second.is_duplicate, second.cluster_id == first.cluster_id,
                        [(m.jaccard, m.containment) for m in second.matches]))
        eng.close()
    assert results[0] == results[1] and results[0][0] is True


def test_exact_copies_all_join_one_cluster_and_report_each_other(engine):
    copies = engine.ingest_many([ArticleIn(url=f"https://copy{i}.example/1", text=STORY) for i in range(6)])
    assert {r.cluster_id for r in copies} == {copies[0].id}
    last = copies[-1]
    assert last.is_duplicate and last.duplicate_of_id == copies[0].id
    assert sorted(m.id for m in last.matches) == [r.id for r in copies[:-1]]
    assert all(m.jaccard == 1.0 and m.containment == 1.0 for m in last.matches)
    cluster, members = engine.get_cluster(copies[0].id)
    assert cluster.size == 6 and len(members) == 6


def _ingest_in_own_process(database: str, prefix: str, count: int, barrier, results) -> None:
    from dedup.settings import Settings

    eng = Engine(Settings(database_url=database, redis_url=None))
    barrier.wait(timeout=60)  # both engines loaded: now write at the same time
    ids = []
    for start in range(0, count, 5):
        batch = [ArticleIn(url=f"https://{prefix}.example/{i}", text=f"{prefix}第{i}篇报道。" + OTHER[i % 40:])
                 for i in range(start, start + 5)]
        ids += [r.id for r in eng.ingest_many(batch)]
    eng.close()
    results.put(ids)


def test_two_processes_writing_one_sqlite_file_never_share_an_article_id(settings):
    """Ids are reserved under the file's write lock, so concurrent writers cannot hand out the same one."""
    import multiprocessing

    Engine(settings).close()  # create the schema once
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_ingest_in_own_process, args=(settings.database_url, name, 400, barrier, results))
             for name in ("left", "right")]
    for proc in procs:
        proc.start()
    for proc in procs:  # the id lists are small: they fit the queue's pipe, so the writers can exit first
        proc.join(timeout=120)
    assert [proc.exitcode for proc in procs] == [0, 0], "a writer failed (see its traceback above)"
    ids = [results.get(timeout=10) for _ in procs]
    check = Engine(settings, rebuild=False)
    assert len(set(ids[0]) | set(ids[1])) == 800
    assert check.store.counts()["articles"] == 800
    check.close()


def test_a_sqlite_file_from_before_the_covering_index_still_ingests(settings):
    import sqlite3

    first = Engine(settings)
    original = first.ingest(ArticleIn(url="https://a.example/1", text=STORY))
    first.close()
    with sqlite3.connect(settings.database_url) as db:  # as files made by earlier versions are
        db.execute("DROP INDEX ix_articles_id_cluster")
    reopened = Engine(settings)
    repost = reopened.ingest(ArticleIn(url="https://b.example/1", text=STORY + "（来源：人民网）"))
    assert repost.is_duplicate and repost.cluster_id == original.cluster_id
    reopened.close()

"""Nightly re-clustering: late bridges merge, deleted bridges split, stale signatures re-signed,
concurrent ingest loses nothing, identical runs change nothing, one run at a time."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

import dedup.recluster.run as rc
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.recluster.candidates import layout_pairs, unpack
from dedup.recluster.ids import assign_ids
from dedup.recluster.run import run_recluster
from dedup.recluster.run_log import RunInProgress, list_runs, run_lock

from .conftest import DEV_SET

# A long real story (from the dev set's kind) cut in two overlapping halves: each half is a duplicate
# (containment) of the whole, but the halves share too little to be duplicates of each other.
STORY = (
    "民政部等部门近日联合印发乡村地名建设指南为各地推进乡村地名命名设标信息服务应用赋能等提供工作指引今年以来全国各地共命名乡村地名"
    "三十八万条设置乡村地名标志二十七万条采集上图乡村地名信息和利农惠农兴趣点一百一十一万条进一步助力提升乡村建设发展"
    "北京接诉即办改革论坛今天开幕设置主论坛和多场平行论坛配套展示等发布城市治理研究系列成果国内外嘉宾走进市民热线服务中心和社区"
    "实地了解北京在超大城市治理中的探索由中央广播电视总台拍摄的纪录电影您的声音举行了首映式通过真实人物真实经历展现北京深化改革的创新实践"
    "元旦假期火车票今天起正式开售学生和务工人员春运预约购票服务专区也已在铁路手机客户端上线学生旅客可预约购买二月底前的火车票"
    "记者从中国民航局了解到截至目前今年我国民航旅客运输量已超七亿人次日均旅客运输量超二百万人次同比增长创历史新高"
)
CUT = len(STORY) * 6 // 10
FIRST = STORY[:CUT] + "（图为会议现场）"
SECOND = STORY[len(STORY) - CUT:] + "（来源：人民网）"
OTHER = ("新华社北京电：我国新增4个世界最佳旅游乡村，联合国旅游组织在浙江举行颁奖仪式，公布了年度最佳旅游乡村名单，"
         "我国入选总数达到19个，这些乡村呈现了中国乡村旅游丰富多元的发展图景，为全球可持续发展贡献中国智慧。")


def ingest(engine: Engine, url: str, text: str, published: str | None = None) -> int:
    return engine.ingest(ArticleIn(url=url, text=text, published_at=published)).id


def cluster_of(engine: Engine, article_id: int) -> int:
    return engine.store.get_article(article_id).cluster_id


def assert_consistent(engine: Engine) -> None:
    """Every article is in a stored cluster, and every cluster row matches its members."""
    rows = engine.store.cluster_rows()
    members: dict[int, list[int]] = {}
    for article in engine.store.iter_articles():
        assert article.cluster_id in rows, f"article {article.id} is in missing cluster {article.cluster_id}"
        members.setdefault(article.cluster_id, []).append(article.id)
    assert set(rows) == set(members)
    for cid, row in rows.items():
        assert row.size == len(members[cid])
        assert row.representative_id in members[cid]


@pytest.fixture
def bridged(engine):
    """Two halves ingested first (two clusters), then the whole story, published before both, arrives late."""
    first = ingest(engine, "https://a.example/first", FIRST, "2026-03-14")
    second = ingest(engine, "https://b.example/second", SECOND, "2026-03-14")
    other = ingest(engine, "https://c.example/other", OTHER, "2026-03-14")
    bridge = ingest(engine, "https://tv.example/story", STORY, "2026-03-13")
    assert cluster_of(engine, first) != cluster_of(engine, second), "online ingest must not chain the halves"
    return first, second, other, bridge


def test_late_bridge_merges_two_clusters_keeping_one_id_and_delete_splits_again(engine, settings, bridged):
    first, second, other, bridge = bridged
    kept = cluster_of(engine, bridge)  # online, the bridge joined one half's cluster: it overlaps most
    merged = first if kept == second else second
    report = run_recluster(engine, settings)
    assert (report.merges, report.splits) == (1, 0)
    assert cluster_of(engine, first) == cluster_of(engine, second) == cluster_of(engine, bridge) == kept
    assert cluster_of(engine, other) == other
    assert engine.resolve_cluster_id(merged) == kept  # yesterday's id still resolves
    cluster, members = engine.get_cluster(merged)
    assert cluster.id == kept and cluster.representative_id == bridge and len(members) == 3
    assert report.changes["merged"] == [[merged, kept]]
    assert_consistent(engine)

    engine.delete_article(bridge)
    report = run_recluster(engine, settings)
    assert (report.merges, report.splits) == (0, 1)
    assert cluster_of(engine, kept) == kept
    assert cluster_of(engine, merged) == merged  # the merged-away id comes back for its own story
    assert engine.resolve_cluster_id(merged) == merged
    assert report.changes["split"] == [[kept, sorted([first, second])]]
    assert_consistent(engine)


def test_identical_runs_keep_ids_and_record_no_changes(engine, settings, bridged):
    run_recluster(engine, settings)
    before = {a.id: a.cluster_id for a in engine.store.iter_articles()}
    rows = engine.store.cluster_rows()
    again = run_recluster(engine, settings)
    assert not again.changed
    assert (again.merges, again.splits, again.moves, again.new_clusters) == (0, 0, 0, 0)
    assert again.clusters_before == again.clusters_after
    assert {a.id: a.cluster_id for a in engine.store.iter_articles()} == before
    assert engine.store.cluster_rows() == rows


def test_dry_run_changes_nothing(engine, settings, bridged):
    before = {a.id: a.cluster_id for a in engine.store.iter_articles()}
    report = run_recluster(engine, settings, dry_run=True)
    assert report.merges == 1
    assert {a.id: a.cluster_id for a in engine.store.iter_articles()} == before
    assert list_runs(engine.store)[0]["status"] == "dry_run"


def test_normalization_change_re_signs_old_articles(settings, bridged, engine):
    old_version = engine.version
    engine.close()
    changed = settings.model_copy(update={"ngram": 4})
    new = Engine(changed)
    assert new.version != old_version
    assert len(new.index) == 0  # old signatures are not comparable, so not indexed
    report = run_recluster(new, changed)
    assert report.resigned == 4
    for article in new.store.iter_articles():
        assert article.sig_version == new.version
        assert article.hashvalues == new.prepare(article.raw_text).values.tobytes()
    assert len(new.index) == 4
    first, second, _, bridge = bridged
    assert cluster_of(new, first) == cluster_of(new, second) == cluster_of(new, bridge)
    assert run_recluster(new, changed).resigned == 0
    new.close()


def test_articles_ingested_during_a_run_are_not_lost(engine, settings, bridged, monkeypatch):
    first, second, other, _ = bridged
    late: list[int] = []
    original = rc.local_verdicts

    def verdicts_then_ingest(*args, **kwargs):
        result = original(*args, **kwargs)
        # after the snapshot, before the new clustering is written
        late.append(ingest(engine, "https://d.example/late-repost", SECOND + "责任编辑：王五"))
        late.append(ingest(engine, "https://e.example/late-new", OTHER.replace("浙江", "四川") + "新的一段报道内容"))
        late.append(ingest(engine, "https://f.example/late-other", OTHER + "（记者 张三）"))
        return result

    monkeypatch.setattr(rc, "local_verdicts", verdicts_then_ingest)
    report = run_recluster(engine, settings)
    assert report.late_articles == 3
    assert engine.store.counts()["articles"] == 7
    assert cluster_of(engine, late[0]) == cluster_of(engine, second) == cluster_of(engine, first)
    assert cluster_of(engine, late[2]) == cluster_of(engine, other)
    assert_consistent(engine)
    monkeypatch.undo()
    report = run_recluster(engine, settings)  # the next night folds them in for real
    assert cluster_of(engine, late[0]) == cluster_of(engine, first)
    assert_consistent(engine)


def test_concurrent_ingest_in_threads_loses_no_article(engine, settings):
    rows = _dev_rows(120)
    stop = threading.Event()
    reports = []

    def nightly():
        while not stop.is_set():
            reports.append(run_recluster(engine, settings))

    worker = threading.Thread(target=nightly)
    ids = [ingest(engine, r["url"], r["text"], r.get("published_at")) for r in rows[:20]]
    worker.start()
    try:
        ids += [ingest(engine, r["url"], r["text"], r.get("published_at")) for r in rows[20:]]
    finally:
        stop.set()
        worker.join()
    assert reports, "no run overlapped the ingest"
    assert engine.store.counts()["articles"] == len(set(ids)) == len(rows)
    assert_consistent(engine)
    run_recluster(engine, settings)
    assert_consistent(engine)


def test_one_run_at_a_time(engine, settings):
    with run_lock(engine.store):
        with pytest.raises(RunInProgress) as caught:
            run_recluster(engine, settings)
    assert caught.value.code == "run_in_progress"
    report = run_recluster(engine, settings)
    runs = list_runs(engine.store)
    assert runs[0]["id"] == report.run_id and runs[0]["status"] == "succeeded"
    assert runs[0]["report"]["articles"] == 0


def test_failed_run_is_recorded(engine, settings, monkeypatch):
    ingest(engine, "https://a.example/1", STORY)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(rc, "local_verdicts", boom)
    with pytest.raises(RuntimeError):
        run_recluster(engine, settings)
    run = list_runs(engine.store)[0]
    assert run["status"] == "failed" and "disk full" in run["error"]


def test_since_only_touches_recent_neighbourhoods(engine, settings, bridged):
    first, second, other, bridge = bridged
    report = run_recluster(engine, settings, full=False, since="2999-01-01")
    assert report.clusters_after == 0 and not report.changed
    report = run_recluster(engine, settings, full=False, since="2000-01-01")
    assert report.merges == 1 and cluster_of(engine, second) == cluster_of(engine, first)


def test_stable_ids_ties_go_to_the_older_id_and_splits_to_the_larger_part():
    old = {1: 1, 2: 1, 3: 3, 4: 3, 5: 5, 6: 5, 7: 5}
    out = assign_ids([[1, 2, 3, 4], [5, 6], [7]], old, taken=set(), aliased=set())
    assert out.ids[0] == 1 and out.aliases == {3: 1}
    assert out.ids[1] == 5 and out.ids[2] == 7
    assert (out.changes["merges"], out.changes["splits"], out.changes["moves"]) == (1, 1, 3)
    again = assign_ids([[1, 2], [3, 4]], {1: 1, 2: 1, 3: 1, 4: 1}, taken=set(), aliased={3})
    assert again.ids == [1, 3] and again.restored == [3]
    crowded = assign_ids([[2], [1, 3]], {1: 1, 2: 1, 3: 1}, taken={2}, aliased=set())
    assert crowded.ids == [-1, 1]  # no free member id: a placeholder the write-back turns into a fresh id


def _dev_rows(n: int) -> list[dict]:
    if not DEV_SET.is_file():
        pytest.skip(f"dev set not found at {DEV_SET}")
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("text")][:n]


def test_batch_candidates_include_every_online_lsh_candidate(engine):
    rows = _dev_rows(400)
    for r in rows:
        ingest(engine, r["url"], r["text"], r.get("published_at"))
    snapshot = rc.take_snapshot(engine)
    assert engine.index.layouts == engine.layouts and len(engine.layouts) == 3  # the short-text bands included
    packed, _ = layout_pairs(snapshot.matrix, snapshot.shingle_counts, engine.layouts)
    lo, hi = unpack(packed)
    ids = snapshot.signed_ids
    batch = {(int(ids[a]), int(ids[b])) for a, b in zip(lo, hi)}
    online = set()
    for i, values, count in zip(ids, snapshot.matrix, snapshot.shingle_counts):
        found = engine.index.query(values, shingle_count=int(count))
        online |= {(min(int(i), j), max(int(i), j)) for j in found if j != i}
    short = {int(i) for i, count in zip(ids, snapshot.shingle_counts) if count <= engine.decision.short_text_shingles}
    assert short and any(a in short or b in short for a, b in batch)
    assert online == batch
    assert np.all(lo < hi)


def test_verdicts_are_reused_only_when_provably_unchanged(engine, settings, bridged):
    first = run_recluster(engine, settings)
    assert first.stats["pairs_verified"] == first.stats["pairs_promising"] > 0
    again = run_recluster(engine, settings)
    assert again.stats["pairs_verified"] == 0
    assert again.stats["pairs_reused"] == first.stats["pairs_promising"]
    # new content under an old url: its pairs are verified again, the others reused
    engine.ingest(ArticleIn(url="https://a.example/first", text=FIRST + "（记者 张三）", published_at="2026-03-14"))
    edited = run_recluster(engine, settings)
    assert 0 < edited.stats["pairs_verified"] < edited.stats["pairs_promising"]
    # other thresholds: every verdict is made again
    stricter = settings.model_copy(update={"jaccard_threshold": 0.6})
    stricter_engine = Engine(stricter)
    report = run_recluster(stricter_engine, stricter)
    assert report.stats["pairs_verified"] == report.stats["pairs_promising"]
    stricter_engine.close()
    off = settings.model_copy(update={"recluster_reuse_verdicts": False})
    assert "pairs_reused" not in run_recluster(engine, off).stats


def test_an_article_deleted_during_a_run_leaves_the_new_clustering(engine, settings, bridged, monkeypatch):
    first, second, other, bridge = bridged
    original = rc.local_verdicts

    def verdicts_then_delete(*args, **kwargs):
        result = original(*args, **kwargs)
        engine.delete_article(bridge)
        engine.delete_article(other)
        return result

    monkeypatch.setattr(rc, "local_verdicts", verdicts_then_delete)
    run_recluster(engine, settings)
    assert engine.store.counts()["articles"] == 2
    assert_consistent(engine)


def test_background_start_answers_with_the_run_id_or_run_in_progress(engine, settings, bridged):
    from dedup.recluster.run import start_in_background

    with run_lock(engine.store):
        with pytest.raises(RunInProgress):
            start_in_background(engine, settings)
    run_id = start_in_background(engine, settings)
    for _ in range(200):
        run = next(r for r in list_runs(engine.store) if r["id"] == run_id)
        if run["status"] != "running":
            break
        threading.Event().wait(0.05)
    assert run["status"] == "succeeded" and run["report"]["merges"] == 1

"""Families do not split at the representative (issue 10, item 4): a later copy that duplicates a member but
not the earliest, shorter representative joins through that member when it still overlaps the representative
substantially; an article that shares nothing with the representative cannot chain in through one bridge
member. Online ingest and the nightly re-cluster apply the same rule, so a run does not undo it."""

from __future__ import annotations

from dedup.models import ArticleIn
from dedup.recluster.run import run_recluster
from tests.reliability.harness import story

WHOLE = story(11) + story(12)[:40]   # 200 characters
OTHER = story(13)                    # a different story, nothing in common with WHOLE


def put(engine, url: str, text: str, day: str):  # type: ignore[no-untyped-def]
    return engine.ingest(ArticleIn(url=url, text=text, published_at=f"2026-03-{day}"))


def test_a_later_copy_of_a_member_joins_the_family_through_it(engine, settings):
    brief = put(engine, "https://a.example/brief", WHOLE[:80], "13")       # the first, short version
    full = put(engine, "https://b.example/full", WHOLE, "14")              # contains the brief: joins
    copy = put(engine, "https://c.example/copy", WHOLE[30:] + "（来源：人民网）", "15")
    assert full.cluster_id == brief.cluster_id == brief.id
    rep = engine.explain(copy.id, brief.id)
    assert not rep.verdict.is_duplicate, "the copy alone is not a duplicate of the brief"
    assert copy.cluster_id == brief.id, "it duplicates the full version, a member, and overlaps the brief"
    assert copy.is_duplicate and copy.duplicate_of_id == full.id == copy.judged.id
    run_recluster(engine, settings)
    assert {engine.get_article(a).cluster_id for a in (brief.id, full.id, copy.id)} == {brief.id}


def test_one_bridge_member_cannot_chain_a_story_the_representative_does_not_share(engine, settings):
    # A third of the bridge: the bridge extends it (a brief under a quarter of a later text would be absorbed)
    brief = put(engine, "https://a.example/brief", WHOLE[:120], "13")
    bridge = put(engine, "https://b.example/bridge", WHOLE + OTHER, "14")  # both stories in one page
    other = put(engine, "https://c.example/other", OTHER + "（来源：新华网）", "15")
    assert bridge.cluster_id == brief.id
    assert any(m.id == bridge.id for m in other.matches), "the other story duplicates the bridge (contained)"
    assert other.cluster_id != brief.id and not other.is_duplicate
    run_recluster(engine, settings)  # the whole-corpus view sees bridge-other first (the stronger edge)
    assert engine.get_article(other.id).cluster_id != engine.get_article(brief.id).cluster_id

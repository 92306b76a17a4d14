"""The ingest verdict names the article it was judged against, with that pair's scores, and the cluster it
joined; an article that founded its own cluster is no one's duplicate (issue 10, "Also")."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from dedup.cli.commands import _verdict_line
from dedup.models import ArticleIn
from dedup.settings import Settings
from tests.reliability.harness import story

WHOLE = story(7)


def test_the_verdict_names_the_representative_it_was_judged_against_with_that_pairs_scores(engine):
    brief = engine.ingest(ArticleIn(url="https://a.example/brief", text=WHOLE[:100], published_at="2026-03-13"))
    full = engine.ingest(ArticleIn(url="https://b.example/full", text=WHOLE, published_at="2026-03-14"))
    copy = engine.ingest(ArticleIn(url="https://c.example/copy", text=WHOLE + "（来源：人民网）",
                                   published_at="2026-03-15"))
    assert full.cluster_id == copy.cluster_id == brief.cluster_id
    assert copy.is_duplicate and copy.duplicate_of_id == brief.id == copy.judged.id
    scores = {m.id: (m.jaccard, m.containment) for m in copy.matches}
    assert (copy.judged.jaccard, copy.judged.containment) == scores[brief.id]
    assert copy.matches[0].id != brief.id, "the best-scored match is another member: the line must not print it"
    line = _verdict_line("copy", copy)
    assert f"duplicate of {brief.url} (jaccard {copy.judged.jaccard:.2f}, containment " \
           f"{copy.judged.containment:.2f}) cluster {brief.cluster_id}" in line


def test_an_article_that_founded_its_own_cluster_is_reported_as_a_new_story(engine):
    brief = engine.ingest(ArticleIn(url="https://a.example/brief", text=WHOLE[:100], published_at="2026-03-13"))
    engine.ingest(ArticleIn(url="https://b.example/full", text=WHOLE, published_at="2026-03-14"))
    tail = engine.ingest(ArticleIn(url="https://c.example/tail", text=WHOLE[75:], published_at="2026-03-15"))
    assert tail.cluster_id != brief.cluster_id, "the tail shares too little with the representative (the brief)"
    assert tail.matches, "the tail resembles the full text"
    assert not tail.is_duplicate and tail.duplicate_of is None and tail.judged is None
    assert _verdict_line("tail", tail) == f"tail: new story, cluster {tail.cluster_id}"


def test_http_ingest_answers_the_judged_pair(tmp_path):
    with TestClient(create_app(Settings(database_url=str(tmp_path / "v.db"), redis_url=None))) as client:
        first = client.post("/v1/articles", json={"url": "https://a.example/1", "text": WHOLE}).json()
        second = client.post("/v1/articles", json={"url": "https://b.example/1", "text": WHOLE + "图为会议现场。"})
    body = second.json()
    assert body["duplicate_of_id"] == first["id"] == body["judged"]["id"]
    assert body["judged"]["containment"] == 1.0 and first["judged"] is None and not first["is_duplicate"]

"""Operator corrections stick: applied at once, kept by later ingests, by the nightly re-cluster (also after a
settings change re-signs every article), listed and withdrawn, conflicts refused, exported as judged pairs."""

from __future__ import annotations

import json

import pytest

from dedup.clusters.corrections import (
    CANNOT,
    MUST,
    CorrectionConflict,
    add_correction,
    judged_pairs,
    list_corrections,
    withdraw_correction,
)
from dedup.engine import Engine
from dedup.errors import InvalidArticle, NotFound
from dedup.models import ArticleIn
from dedup.quality.judged_pairs import load_pairs, score_pairs
from dedup.recluster.run import run_recluster
from dedup.settings import Settings
from tests.api_backends import OTHER, STORY, backend_settings

REPOST = STORY + "（来源：人民网）"
THIRD_COPY = STORY + "（责任编辑：王明）"


@pytest.fixture(params=["sqlite", "services"])
def make_engine(request, tmp_path):
    """A factory: engines over one store (sqlite file, or a PostgreSQL schema + Redis prefix), any settings."""
    engines: list[Engine] = []
    with backend_settings(request.param, tmp_path) as base:
        def make(**overrides: object) -> Engine:
            engine = Engine(base.model_copy(update=overrides))
            engines.append(engine)
            return engine
        make.settings = base  # type: ignore[attr-defined]
        yield make
        for engine in engines:
            engine.close()


def put(engine: Engine, url: str, text: str, published: str | None = None) -> int:
    return engine.ingest(ArticleIn(url=url, text=text, published_at=published)).id


def cluster(engine: Engine, article_id: int) -> int:
    return engine.store.get_article(article_id).cluster_id


def test_cannot_link_splits_at_once_and_holds_through_ingest_and_recluster(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/1", STORY, "2026-03-01")
    b = put(engine, "https://b.example/1", REPOST, "2026-03-02")
    assert cluster(engine, a) == cluster(engine, b) == a

    outcome = add_correction(engine, CANNOT, b, other_id=a, note="different days' bulletins", by="cli")
    assert outcome.created and outcome.correction.created_by == "cli"
    assert outcome.correction.note == "different days' bulletins" and outcome.correction.created_at
    assert cluster(engine, a) == a and cluster(engine, b) == b  # the founder keeps its id; b founds its own
    assert engine.get_cluster(a)[0].size == 1

    put(engine, "https://b.example/1", REPOST + "更新。", "2026-03-02")  # b updated: it must not rejoin a
    assert cluster(engine, b) != cluster(engine, a)
    c = put(engine, "https://c.example/1", THIRD_COPY, "2026-03-03")  # a copy of both: joins one, merges none
    assert cluster(engine, c) in (cluster(engine, a), cluster(engine, b))
    assert cluster(engine, a) != cluster(engine, b)

    report = run_recluster(engine, make_engine.settings, engine_name="local")
    assert report.run_id is not None
    assert cluster(engine, a) != cluster(engine, b)
    assert engine.check(repair=False)["repaired"] == 0


def test_must_link_merges_at_once_with_an_alias_and_holds(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/2", STORY, "2026-03-01")
    d = put(engine, "https://d.example/2", OTHER, "2026-03-02")
    assert cluster(engine, a) != cluster(engine, d)

    outcome = add_correction(engine, MUST, d, other_id=a, by="cli")
    assert outcome.clusters == [a, a]
    assert engine.resolve_cluster_id(d) == a  # d's old cluster id now resolves to the merged one
    assert engine.get_cluster(a)[0].size == 2

    put(engine, "https://d.example/2", OTHER + "补充报道。", "2026-03-02")  # an update goes back to its partner
    assert cluster(engine, d) == a
    run_recluster(engine, make_engine.settings, engine_name="local")
    assert cluster(engine, d) == cluster(engine, a) == a


def test_corrections_survive_a_settings_change_that_resigns_everything(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/3", STORY, "2026-03-01")
    b = put(engine, "https://b.example/3", REPOST, "2026-03-02")
    d = put(engine, "https://d.example/3", OTHER, "2026-03-03")
    add_correction(engine, CANNOT, a, other_id=b, by="cli")
    add_correction(engine, MUST, d, other_id=a, by="cli")
    engine.close()

    changed = make_engine(ngram=4)  # a new signature version: the run re-signs every article
    report = run_recluster(changed, make_engine.settings.model_copy(update={"ngram": 4}), engine_name="local")
    assert report.resigned == 3
    assert cluster(changed, a) == cluster(changed, d) != cluster(changed, b)


def test_a_cluster_correction_stands_for_its_representative_and_conflicts_name_both(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/4", STORY, "2026-03-01")
    b = put(engine, "https://b.example/4", REPOST, "2026-03-02")
    d = put(engine, "https://d.example/4", OTHER, "2026-03-03")
    must = add_correction(engine, MUST, d, other_id=b, by="api-key").correction  # d joins a's cluster
    assert cluster(engine, d) == cluster(engine, a)

    with pytest.raises(CorrectionConflict) as caught:  # d is apart from its own cluster: a contradiction
        add_correction(engine, CANNOT, b, cluster_id=cluster(engine, d), by="cli")
    message = str(caught.value)
    assert f"correction {must.id}" in message and "must-link" in message and "cannot-link" in message
    assert cluster(engine, d) == cluster(engine, a)  # nothing changed

    with pytest.raises(CorrectionConflict) as caught:  # the same contradiction between two articles
        add_correction(engine, CANNOT, b, other_id=d, by="cli")
    assert f"correction {must.id}" in str(caught.value)

    add_correction(engine, CANNOT, a, other_id=d, by="cli")  # no must-link joins a and d: d leaves with b
    assert cluster(engine, a) != cluster(engine, d) == cluster(engine, b)
    again = add_correction(engine, MUST, d, other_id=b, by="cli")
    assert not again.created and again.correction.id == must.id


def test_list_withdraw_and_export_as_judged_pairs(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/5", STORY, "2026-03-01")
    b = put(engine, "https://b.example/5", REPOST, "2026-03-02")
    d = put(engine, "https://d.example/5", OTHER, "2026-03-03")
    apart = add_correction(engine, CANNOT, b, other_id=a, by="cli").correction
    together = add_correction(engine, MUST, d, cluster_id=cluster(engine, a), by="api-key", note="same event")
    assert together.correction.other_id == a and together.correction.cluster_id == a

    assert [c.id for c in list_corrections(engine)] == [together.correction.id, apart.id]
    withdrawn = withdraw_correction(engine, apart.id, by="cli")
    assert withdrawn.withdrawn_by == "cli" and withdrawn.withdrawn_at and not withdrawn.active
    assert [c.id for c in list_corrections(engine)] == [together.correction.id]
    assert len(list_corrections(engine, include_withdrawn=True)) == 2
    add_correction(engine, CANNOT, b, other_id=a, by="cli")  # withdrawn: no conflict, recorded anew

    pairs = judged_pairs(engine, include_withdrawn=True)
    assert [p["label"] for p in pairs] == ["not_duplicate", "duplicate", "not_duplicate"]
    assert pairs[1]["url_a"] == "https://d.example/5" and pairs[1]["url_b"] == "https://a.example/5"
    cluster_of = {article.url: article.cluster_id for article in engine.store.iter_articles()}
    report = score_pairs(pairs, cluster_of)
    assert report.raw_recall == 1.0 and report.raw_false_merge_rate == 0.0


def test_judged_pairs_load_as_the_scorer_reads_them(make_engine, tmp_path):
    engine = make_engine()
    a = put(engine, "https://a.example/6", STORY)
    b = put(engine, "https://b.example/6", REPOST)
    add_correction(engine, CANNOT, a, other_id=b, by="cli")
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in judged_pairs(engine)), "utf-8")
    assert [p["label"] for p in load_pairs(path)] == ["not_duplicate"]


def test_bad_corrections_are_refused_and_a_delete_withdraws(make_engine):
    engine = make_engine()
    a = put(engine, "https://a.example/7", STORY)
    b = put(engine, "https://b.example/7", OTHER)
    with pytest.raises(NotFound):
        add_correction(engine, MUST, a, other_id=999_999, by="cli")
    with pytest.raises(InvalidArticle):
        add_correction(engine, MUST, a, other_id=a, by="cli")
    with pytest.raises(InvalidArticle):
        add_correction(engine, MUST, a, cluster_id=a, by="cli")  # a alone in its cluster: nothing to link
    with pytest.raises(InvalidArticle):
        add_correction(engine, "same", a, other_id=b, by="cli")
    add_correction(engine, MUST, a, other_id=b, by="cli")
    engine.delete_article(b)
    assert list_corrections(engine) == []
    assert list_corrections(engine, include_withdrawn=True)[0].withdrawn_by == "delete"


def test_a_correction_made_while_a_recluster_computes_is_kept_by_its_write_back(make_engine, monkeypatch):
    import dedup.recluster.run as rc

    engine = make_engine()
    a = put(engine, "https://a.example/9", STORY, "2026-03-01")
    b = put(engine, "https://b.example/9", REPOST, "2026-03-02")
    d = put(engine, "https://d.example/9", OTHER, "2026-03-03")
    computed = rc.cluster_and_name

    def then_an_operator_corrects(*args, **kwargs):  # the run has decided; the operator acts before it writes
        result = computed(*args, **kwargs)
        add_correction(engine, CANNOT, a, other_id=b, by="cli")
        add_correction(engine, MUST, d, other_id=b, by="cli")
        return result

    monkeypatch.setattr(rc, "cluster_and_name", then_an_operator_corrects)
    run_recluster(engine, make_engine.settings, engine_name="local")
    assert cluster(engine, a) != cluster(engine, b) == cluster(engine, d)
    assert engine.check(repair=False)["repaired"] == 0


@pytest.mark.spark
@pytest.mark.slow
def test_the_spark_recluster_keeps_corrections_too(tmp_path):
    """Spark computes the verdicts only; components and write-back are the local code, whatever the store, so
    one backend suffices (a Spark session costs about a minute)."""
    pytest.importorskip("pyspark")
    settings = Settings(database_url=str(tmp_path / "spark.db"), redis_url=None)
    engine = Engine(settings)
    try:
        a = put(engine, "https://a.example/8", STORY, "2026-03-01")
        b = put(engine, "https://b.example/8", REPOST, "2026-03-02")
        d = put(engine, "https://d.example/8", OTHER, "2026-03-03")
        add_correction(engine, CANNOT, a, other_id=b, by="cli")
        add_correction(engine, MUST, d, other_id=a, by="cli")
        report = run_recluster(engine, settings, engine_name="spark")
        assert report.engine == "spark" and report.articles == 3 and report.stats["pairs_verified"] >= 1
        assert cluster(engine, a) == cluster(engine, d) != cluster(engine, b)
    finally:
        engine.close()


def test_components_join_must_links_first_and_never_join_a_cannot_link():
    from dedup.clusters.bookkeeping import Node
    from dedup.clusters.corrections import Rules
    from dedup.recluster.ids import components

    nodes = {i: Node(i, f"2026-03-0{i}", f"2026-03-0{i}") for i in range(1, 6)}
    verdicts = {(1, 2): 0.9, (2, 3): 0.8, (1, 3): 0.7}  # 1, 2, 3 one story by the texts; 4, 5 alone
    def every_pair_duplicates(a: int, b: int) -> bool:
        return True
    plain = components(list(nodes), verdicts, nodes, every_pair_duplicates)
    assert sorted(plain) == [[1, 2, 3], [4], [5]]
    rules = Rules([(1, CANNOT, 3, 1), (2, MUST, 5, 1)])
    corrected = components(list(nodes), verdicts, nodes, every_pair_duplicates, rules=rules)
    assert sorted(corrected) == [[1, 2, 5], [3], [4]]

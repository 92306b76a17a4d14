"""The re-cluster's write-back applies to the articles as they are when it writes, and `check` verifies and
repairs every cluster invariant (issue 15, item 3); a failed update keeps the stored article findable (item 4).

Each race is made deterministic: a hook runs the concurrent writes at the moment another process's commit
would land, just before the write-back takes the writers' lock, after the run computed its clustering.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import dedup.recluster.run as rc
import dedup.recluster.verdicts as verdicts_stage
from app.main import create_app
from dedup.cli.commands import app as cli_app
from dedup.engine import Engine
from dedup.models import ArticleIn
from dedup.recluster.run import run_recluster
from dedup.settings import Settings
from dedup.store.sql import database_url
from tests.api_backends import backend_settings
from tests.reliability.harness import cluster_invariants, repost

CLEAN = dict.fromkeys(("articles_without_cluster", "empty_clusters", "clusters_with_wrong_size",
                       "clusters_with_foreign_representative", "representatives_not_earliest",
                       "negative_cluster_ids", "aliases_shadowing_clusters"), 0)


def put(engine: Engine, url: str, seed: int, variant: int = 0) -> int:
    return engine.ingest(ArticleIn(url=url, text=repost(seed, variant))).id


def stories(engine: Engine, count: int = 4, copies: int = 3) -> dict[int, list[int]]:
    """`count` stories with `copies` reposts each; story s's articles by ingest order (the first founded it)."""
    return {s: [put(engine, f"https://s{s}.example/{v}", s, v) for v in range(copies)] for s in range(count)}


class ArmedLock:
    """The engine's lock, with a one-shot action run just before the next acquisition: another writer
    committing right before the write-back takes the lock."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.action = None

    def __enter__(self):  # type: ignore[no-untyped-def]
        action, self.action = self.action, None
        if action is not None:
            action()
        return self.inner.__enter__()

    def __exit__(self, *exc):  # type: ignore[no-untyped-def]
        return self.inner.__exit__(*exc)


@contextmanager
def writes_before_write_back(engine: Engine, monkeypatch, action):  # type: ignore[no-untyped-def]
    """Run `action` after the run has computed its clustering, as the write-back is about to take the lock."""
    lock = ArmedLock(engine._lock)
    monkeypatch.setattr(engine, "_lock", lock)
    original = rc.apply_assignment

    def armed(*args, **kwargs):  # type: ignore[no-untyped-def]
        lock.action = action
        return original(*args, **kwargs)

    monkeypatch.setattr(rc, "apply_assignment", armed)
    yield
    monkeypatch.setattr(rc, "apply_assignment", original)


def sql(url: str, *statements: str) -> None:
    """Write straight to the database (what another process, or an older version, left behind)."""
    engine = sa.create_engine(database_url(url))
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def every_cluster_reads(engine: Engine) -> None:
    """What GET /v1/clusters/{id} does for every stored cluster: must not raise (a 500)."""
    for cluster_id in engine.store.cluster_rows():
        cluster, members = engine.get_cluster(cluster_id)
        engine.representative_scores(cluster, members)


SCATTER = ("UPDATE articles SET cluster_id = id", "DELETE FROM clusters",
           "INSERT INTO clusters SELECT id, id, 1, ingested_at, ingested_at FROM articles")


def test_updates_and_deletes_during_the_write_back_leave_every_invariant(engine, settings, monkeypatch):
    family = stories(engine)
    sql(settings.database_url, *SCATTER)  # every article alone, as if ingest had missed every repost: real work

    def concurrent_writes() -> None:
        engine.delete_article(family[0][1])                                  # a member
        engine.delete_article(family[1][0])                                  # a founder
        engine.ingest(ArticleIn(url="https://s2.example/1", text=repost(90, 0)))   # a member becomes another story
        engine.ingest(ArticleIn(url="https://s3.example/0", text=repost(91, 0)))   # a founder does
        put(engine, "https://late.example/0", 3, 4)                          # a new repost joins

    with writes_before_write_back(engine, monkeypatch, concurrent_writes):
        run_recluster(engine, settings)
    assert cluster_invariants(settings.database_url) == CLEAN
    every_cluster_reads(engine)
    store = engine.store
    assert store.get_article(family[0][1]) is None and store.get_article(family[1][0]) is None
    changed = store.get_article(family[3][0])
    assert store.cluster_members(changed.cluster_id) == [changed], "a rewritten founder is alone with its new story"
    late = store.get_article_by_url("https://late.example/0")
    assert late.cluster_id == store.get_article(family[3][1]).cluster_id
    # the next ingest of every article (an update each) still works: no stale row to trip over
    for article in list(store.iter_articles()):
        engine.ingest(ArticleIn(url=article.url, text=repost(article.id + 500, 0)))
    assert cluster_invariants(settings.database_url) == CLEAN


def test_a_founder_updated_during_the_run_does_not_pull_its_old_family_into_its_new_story(
        engine, settings, monkeypatch):
    family = stories(engine, count=2)
    founder, _, last = family[0]
    # scatter the family so the run has a merge to make, under the founder's id
    sql(settings.database_url, f"UPDATE articles SET cluster_id = {last} WHERE id = {last}",
        f"UPDATE clusters SET size = 2 WHERE id = {founder}",
        f"INSERT INTO clusters VALUES ({last}, {last}, 1, '{engine.store.get_article(last).ingested_at}', "
        f"'{engine.store.get_article(last).ingested_at}')")
    assert cluster_invariants(settings.database_url)["clusters_with_wrong_size"] == 0

    def rewrite_founder() -> None:
        engine.ingest(ArticleIn(url="https://s0.example/0", text=repost(77, 0)))

    with writes_before_write_back(engine, monkeypatch, rewrite_founder):
        run_recluster(engine, settings)
    assert cluster_invariants(settings.database_url) == CLEAN
    store = engine.store
    assert store.cluster_members(store.get_article(founder).cluster_id) == [store.get_article(founder)]
    rest = {store.get_article(a).cluster_id for a in family[0][1:]}
    assert len(rest) == 1 and rest != {store.get_article(founder).cluster_id}


def test_a_founder_deleted_and_its_family_rewritten_during_the_run_keep_their_cluster(engine, settings, monkeypatch):
    """The component planned under the founder's id loses every member the snapshot saw; the articles now in
    that cluster (rewritten since) must stay in a stored cluster, not be left without one."""
    founder, b, c = stories(engine, count=2)[0]

    def delete_and_rewrite() -> None:
        engine.delete_article(founder)
        engine.ingest(ArticleIn(url="https://s0.example/1", text=repost(0, 3)))
        engine.ingest(ArticleIn(url="https://s0.example/2", text=repost(0, 4)))

    with writes_before_write_back(engine, monkeypatch, delete_and_rewrite):
        run_recluster(engine, settings)
    assert cluster_invariants(settings.database_url) == CLEAN
    assert engine.store.get_article(b).cluster_id == engine.store.get_article(c).cluster_id is not None


@pytest.mark.parametrize("seed", range(6))
def test_random_interleavings_keep_every_invariant_after_each_write_back(seed, engine, settings, monkeypatch):
    """Seeded random ingest (batches too), updates (founders too) and deletes between a run's snapshot and its
    verification and again just before its write-back; every invariant is checked after every write-back."""
    import random

    rng = random.Random(seed)
    urls: dict[str, int] = {}

    def chaos(n: int) -> None:
        for _ in range(n):
            roll = rng.random()
            if roll < 0.4:
                items = [ArticleIn(url=f"https://s{s}.example/{v}", text=repost(s, v))
                         for s, v in ((rng.randrange(12), rng.randrange(4)) for _ in range(rng.choice((1, 3))))]
                for item, result in zip(items, engine.ingest_many(items)):
                    urls[item.url] = result.id
            elif urls and roll < 0.7:
                url = rng.choice(sorted(urls))
                engine.ingest(ArticleIn(url=url, text=repost(rng.randrange(12, 24), rng.randrange(4))))
            elif urls:
                engine.delete_article(urls.pop(rng.choice(sorted(urls))))

    chaos(30)
    original_apply, original_verdicts = rc.apply_assignment, rc.local_verdicts

    def verdicts(*args, **kwargs):  # type: ignore[no-untyped-def]
        chaos(rng.randrange(4))
        return original_verdicts(*args, **kwargs)

    def apply(*args, **kwargs):  # type: ignore[no-untyped-def]
        chaos(rng.randrange(4))
        result = original_apply(*args, **kwargs)
        assert cluster_invariants(settings.database_url) == CLEAN
        return result

    monkeypatch.setattr(rc, "apply_assignment", apply)
    monkeypatch.setattr(rc, "local_verdicts", verdicts)
    for _ in range(5):
        run_recluster(engine, settings)
        chaos(5)
    every_cluster_reads(engine)


def test_an_article_deleted_before_verification_does_not_fail_the_run(engine, settings, monkeypatch):
    family = stories(engine, count=2)
    original = verdicts_stage.load_texts

    def delete_then_load(eng, ids, fresh):  # type: ignore[no-untyped-def]
        engine.delete_article(family[0][2])
        return original(eng, ids, fresh)

    monkeypatch.setattr(verdicts_stage, "load_texts", delete_then_load)
    report = run_recluster(engine, settings)
    assert report.finished_at
    assert engine.store.get_article(family[0][2]) is None
    assert cluster_invariants(settings.database_url) == CLEAN


def test_no_negative_cluster_id_is_ever_written(engine, settings):
    a, b, c = stories(engine, count=1)[0]
    d = put(engine, "https://d.example/0", 9)
    # the crowded case: the component [b] has no free member id (b names the cluster of d, which the run
    # leaves alone), so the run plans a placeholder; the write-back must turn it into a real, fresh id
    seen = engine.store.get_article(d).ingested_at
    sql(settings.database_url, f"UPDATE articles SET cluster_id = {b} WHERE id = {d}",
        f"DELETE FROM clusters WHERE id = {d}", f"INSERT INTO clusters VALUES ({b}, {d}, 1, '{seen}', '{seen}')")
    assert cluster_invariants(settings.database_url) == CLEAN
    snapshot = rc.take_snapshot(engine)
    assignment = rc.assign_ids([[b], [a, c]], {a: a, b: a, c: a}, taken={b}, aliased=set())
    assert assignment.ids[0] < 0
    rc.apply_assignment(engine, snapshot, [[b], [a, c]], assignment, {a})
    assert cluster_invariants(settings.database_url) == CLEAN
    fresh = engine.store.get_article(b).cluster_id
    assert fresh > 0 and fresh not in engine.store.article_ids() and engine.store.get_article(c).cluster_id == a
    assert engine.store.get_article(d).cluster_id == b
    new = put(engine, "https://new.example/0", 42)
    assert engine.store.get_article(new).cluster_id == new != fresh


def test_an_update_over_an_empty_cluster_row_does_not_fail(engine, settings):
    """A cluster row left without members (by an older version) under an article's id: the article's update
    must not fail (`min() arg is an empty sequence` in the rename)."""
    first = put(engine, "https://a.example/0", 1)
    put(engine, "https://a.example/1", 1, 1)
    moved = first + 1000
    sql(settings.database_url, f"INSERT INTO clusters SELECT {moved}, representative_id, size, first_seen, last_seen "
        f"FROM clusters WHERE id = {first}", f"UPDATE articles SET cluster_id = {moved} WHERE cluster_id = {first}")
    assert engine.store.cluster_members(first) == [] and engine.store.get_cluster(first) is not None
    result = engine.ingest(ArticleIn(url="https://a.example/0", text=repost(5, 0)))
    assert result.status == "updated" and result.cluster_id == first


def corrupt(url: str, ids: dict[int, list[int]]) -> None:
    """Break every invariant once, in straight SQL, as a crashed older version might have left it."""
    a, b, c, d = ids[0][0], ids[1][0], ids[2][0], ids[3][0]
    engine = sa.create_engine(database_url(url))
    with engine.begin() as conn:
        run = lambda sql: conn.execute(sa.text(sql))  # noqa: E731
        run(f"UPDATE clusters SET size = 9 WHERE id = {a}")                               # wrong size
        run(f"UPDATE clusters SET representative_id = {ids[1][1]} WHERE id = {b}")        # rep not a member
        run("INSERT INTO clusters (id, representative_id, size, first_seen, last_seen) "
            "VALUES (424242, 1, 1, 'x', 'x')")                                            # empty cluster
        run(f"UPDATE articles SET cluster_id = -3 WHERE cluster_id = {c}")                 # negative id
        run(f"UPDATE clusters SET id = -3 WHERE id = {c}")
        run(f"UPDATE articles SET cluster_id = NULL WHERE id = {ids[3][2]}")              # no cluster
        run(f"INSERT INTO cluster_aliases (old_id, new_id) VALUES ({d}, {a})")            # alias hides a cluster
    engine.dispose()


def test_check_reports_and_repairs_every_cluster_invariant(engine, settings):
    ids = stories(engine)
    corrupt(settings.database_url, ids)
    assert cluster_invariants(settings.database_url) != CLEAN
    found = engine.check(repair=False)
    assert {k: found[k] for k in ("empty_clusters", "wrong_sizes", "wrong_representatives", "negative_ids",
                                  "articles_without_cluster", "stale_aliases")} == {
        "empty_clusters": 1, "wrong_sizes": 2, "wrong_representatives": 1, "negative_ids": 1,
        "articles_without_cluster": 1, "stale_aliases": 1}
    assert found["repaired"] == 0 and cluster_invariants(settings.database_url) != CLEAN
    repaired = engine.check(repair=True)
    assert repaired["repaired"] == repaired["empty_clusters"] + repaired["wrong_sizes"] + repaired[
        "wrong_representatives"] + repaired["wrong_times"] + repaired["negative_ids"] + repaired[
        "articles_without_cluster"] + repaired["stale_aliases"] > 0
    assert cluster_invariants(settings.database_url) == CLEAN
    again = engine.check(repair=True)
    assert again["repaired"] == 0 and again["added"] == again["removed"] == 0
    every_cluster_reads(engine)
    # the old negative id still resolves, to the repaired cluster
    negative = engine.resolve_cluster_id(-3)
    assert negative > 0 and engine.get_cluster(-3)[0].id == negative


def test_cli_and_http_check_report_cluster_counts(tmp_path):
    settings = Settings(database_url=str(tmp_path / "c.db"), redis_url=None, api_key=None)
    engine = Engine(settings)
    ids = stories(engine)
    engine.close()
    corrupt(settings.database_url, ids)
    with TestClient(create_app(settings)) as client:
        # a cluster whose representative is not a member reads as its members are, not as a 500
        assert client.get(f"/v1/clusters/{ids[1][0]}").status_code == 200
        assert client.get("/").status_code == 200
        report = client.post("/v1/admin/check").json()
    assert report["wrong_representatives"] == 1 and report["empty_clusters"] == 1 and report["repaired"] > 0
    result = CliRunner().invoke(cli_app, ["check", "--db", settings.database_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["repaired"] == 0
    assert cluster_invariants(settings.database_url) == CLEAN


# -- item 4: a failed update keeps the stored article findable ------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "services"])
def test_a_failed_update_keeps_the_stored_article_in_the_index(kind, tmp_path, monkeypatch):
    with backend_settings(kind, tmp_path) as settings:
        engine = Engine(settings)
        try:
            stored = put(engine, "https://a.example/0", 1)
            put(engine, "https://b.example/0", 2)

            def broken(*args):  # type: ignore[no-untyped-def]
                raise RuntimeError("disk I/O error")

            monkeypatch.setattr(engine.store, "update_article", broken)
            with pytest.raises(RuntimeError):
                engine.ingest(ArticleIn(url="https://a.example/0", text=repost(3, 0)))
            monkeypatch.undo()
            assert [m.id for m in engine.query_text(repost(1, 2))] == [stored]
            assert engine.query_text(repost(3, 0)) == []
            assert stored in engine.index
            # a failed delete too
            monkeypatch.setattr(engine.store, "delete_article", broken)
            with pytest.raises(RuntimeError):
                engine.delete_article(stored)
            monkeypatch.undo()
            assert [m.id for m in engine.query_text(repost(1, 2))] == [stored]
            # and a failed batch of new articles leaves nothing behind
            monkeypatch.setattr(engine.store, "write_clusters", broken)
            with pytest.raises(RuntimeError):
                engine.ingest(ArticleIn(url="https://c.example/0", text=repost(4, 0)))
            monkeypatch.undo()
            assert engine.query_text(repost(4, 0)) == []
            assert engine.check(repair=False)["added"] == engine.check(repair=False)["removed"] == 0
        finally:
            engine.close()

"""The Spark engine gives the local engine's verdicts and clusters on the dev set (Spark local mode)."""

from __future__ import annotations

import json

import pytest

from dedup.article_files import article_from_json
from dedup.recluster.run import cluster_and_name, run_recluster
from dedup.recluster.snapshot import take_snapshot
from dedup.recluster.verdicts import local_verdicts

from .conftest import DEV_SET

pytest.importorskip("pyspark")
pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_spark_engine_matches_local_engine_on_the_dev_set(engine, settings):
    if not DEV_SET.is_file():
        pytest.skip(f"dev set not found at {DEV_SET}")
    from dedup.recluster.spark import spark_verdicts

    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    for start in range(0, len(rows), 500):
        engine.ingest_many([article_from_json(r) for r in rows[start:start + 500]])
    snapshot = take_snapshot(engine)
    local, local_texts = local_verdicts(snapshot, engine, None, 2, {}, {})
    promising = len(local)  # the components below add the verdicts they make between representatives
    stats: dict = {}
    spark, spark_texts = spark_verdicts(snapshot, engine, settings, None, stats, {})
    assert stats["pairs_verified"] == len(local) > 1000
    assert spark == local
    local_groups, local_ids, _ = cluster_and_name(snapshot, engine, local, local_texts, None)
    spark_groups, spark_ids, _ = cluster_and_name(snapshot, engine, spark, spark_texts, None)
    assert sorted(map(sorted, spark_groups)) == sorted(map(sorted, local_groups))
    assert spark_ids.cluster_of == local_ids.cluster_of

    report = run_recluster(engine, settings, engine_name="spark")
    assert report.engine == "spark" and report.articles == len(rows)
    stored = {a.id: a.cluster_id for a in engine.store.iter_articles()}
    assert stored == local_ids.cluster_of
    again = run_recluster(engine, settings, engine_name="spark")  # verdicts of the first run are reused
    assert report.stats["pairs_verified"] == promising and report.stats["pairs_reused"] == 0
    assert again.stats["pairs_reused"] == promising and again.stats["pairs_verified"] == 0
    assert not again.changed
    local_run = run_recluster(engine, settings)  # the local engine agrees with what Spark wrote, from its verdicts
    assert not local_run.changed and local_run.stats["pairs_verified"] == 0

"""The re-cluster's candidate and verification steps on Apache Spark, for corpora beyond one machine.

Only the data-parallel part moves: band hashing, bucket pairs, the MinHash pre-filter and the
exact verification run on executors, each through the same functions the local engine calls
(`band_keys`, `bucket_pairs`, `estimate_keep`, `verify_rows`). The verified edges come back to
the driver, where components, stable ids and the write-back are the local engine's code.

The snapshot goes to Spark as Parquet (signatures, and the normalized texts of articles that
have candidates); no JDBC driver is needed. On a cluster, `DEDUP_SPARK_EXPORT_DIR` must be
storage every executor reads, and the `dedup` package must be installed on the executors.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.candidates.layouts import BandLayout, by_banding, eligible, pair_allowed
from dedup.config import DecisionConfig, SignatureConfig
from dedup.engine import Engine
from dedup.recluster.candidates import (
    BUCKET_CAP,
    band_keys,
    bucket_pairs,
    estimate_keep,
    unpack,
    with_containment_pairs,
)
from dedup.recluster.snapshot import Snapshot, arrival_times
from dedup.recluster.verdicts import VerdictCache, Verdicts, load_texts, verify_rows
from dedup.settings import Settings

_ROWS_PER_FILE = 50_000


def spark_session(master: str) -> Any:
    """A Spark session whose Python workers run this interpreter (so they import this `dedup`)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName("dedup-recluster")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "2g")
            .getOrCreate())


def export_signatures(snapshot: Snapshot, folder: Path) -> Path:
    """(id, sig bytes, shingle_count) of every signed article as Parquet."""
    path = folder / "signatures"
    path.mkdir(parents=True, exist_ok=True)
    ids = snapshot.signed_ids
    width = snapshot.matrix.shape[1] * 4
    for part, start in enumerate(range(0, len(ids), _ROWS_PER_FILE)):
        block = np.ascontiguousarray(snapshot.matrix[start:start + _ROWS_PER_FILE])
        sigs = pa.array([block[k].tobytes() for k in range(len(block))], type=pa.binary(width))
        table = pa.table({"id": pa.array(ids[start:start + _ROWS_PER_FILE], type=pa.int64()), "sig": sigs,
                          "n": pa.array(snapshot.shingle_counts[start:start + _ROWS_PER_FILE], type=pa.int64())})
        pq.write_table(table, path / f"part-{part:05d}.parquet")
    return path


def export_texts(texts: dict[int, str], folder: Path) -> Path:
    path = folder / "texts"
    path.mkdir(parents=True, exist_ok=True)
    ids = sorted(texts)
    for part, start in enumerate(range(0, max(1, len(ids)), _ROWS_PER_FILE)):
        chunk = ids[start:start + _ROWS_PER_FILE]
        pq.write_table(pa.table({"id": pa.array(chunk, type=pa.int64()),
                                 "text": pa.array([texts[i] for i in chunk], type=pa.string())}),
                       path / f"part-{part:05d}.parquet")
    return path


# -- executor-side functions (each wraps a shared one) --------------------------------------------
# A bucket's band number carries its banding group (dedup.candidates.layouts.by_banding): group * _GROUP + band.
_GROUP = 4096
Groups = list[tuple[tuple[int, int], tuple[BandLayout, ...]]]


def _band_rows(partition: Iterator[Any], groups: Groups) -> Iterator[tuple[int, int, int]]:
    """(group and band, key, id) for a partition of signatures, keys from the shared `band_keys`, each group's
    bands over the rows it concerns."""
    rows = list(partition)
    if not rows:
        return
    ids = np.array([r.id for r in rows], dtype=np.int64)
    matrix = np.frombuffer(b"".join(r.sig for r in rows), dtype=np.uint32).reshape(len(rows), -1)
    counts = np.array([r.n for r in rows], dtype=np.int64)
    for number, ((bands, per_band), group) in enumerate(groups):
        kept = eligible(group, counts)
        for band in range(bands):
            keys = band_keys(matrix[kept, band * per_band:(band + 1) * per_band]).view(np.int64)
            for key, article_id in zip(keys.tolist(), ids[kept].tolist()):
                yield number * _GROUP + band, key, article_id


def _pairs_of_bucket(band: int, members: list[int], cap: int) -> list[tuple[int, int, int]]:
    """The shared `bucket_pairs` on one bucket (all keys equal), each pair with its banding group."""
    ids = np.array(sorted(members), dtype=np.int64)
    pairs, _ = bucket_pairs(np.zeros(len(ids), dtype=np.uint64), ids, cap)
    lo, hi = unpack(pairs)
    return [(a, b, band // _GROUP) for a, b in zip(lo.tolist(), hi.tolist())]


def _keep_promising(partition: Iterator[Any], decision: DecisionConfig, groups: Groups) -> Iterator[tuple[int, int]]:
    """Pairs the online index would propose (`pair_allowed` for their group) whose estimates pass its filter."""
    rows = list(partition)
    if not rows:
        return
    ma = np.frombuffer(b"".join(r.sig_a for r in rows), dtype=np.uint32).reshape(len(rows), -1)
    mb = np.frombuffer(b"".join(r.sig_b for r in rows), dtype=np.uint32).reshape(len(rows), -1)
    n_a, n_b, group = (np.array([getattr(r, f) for r in rows], dtype=np.int64) for f in ("n_a", "n_b", "g"))
    keep = estimate_keep(ma, mb, n_a, n_b, decision)
    for number, (_, layouts) in enumerate(groups):
        mine = group == number
        keep[mine] &= pair_allowed(layouts, n_a[mine], n_b[mine])
    yield from ((r.a, r.b) for r, k in zip(rows, keep) if k)


def _verify(rows: Iterator[Any], sig: SignatureConfig, decision: DecisionConfig,
            times: dict, titles: dict) -> list[tuple[int, int, Any]]:
    return verify_rows(((r.a, r.b, r.text_a, r.text_b) for r in rows), sig, decision, times, titles)


# -- the driver side -------------------------------------------------------------------------
def spark_verdicts(snapshot: Snapshot, engine: Engine, settings: Settings, scope: np.ndarray | None,
                   stats: dict, fresh_texts: dict[int, str],
                   cache: VerdictCache | None = None) -> tuple[Verdicts, dict[int, str]]:
    """Candidate pairs and verdicts computed on Spark; the same verdicts the local engine computes.

    With a cache, pairs whose verdict an earlier run (local or Spark) made under the same key are not
    verified again, and the new verdicts are remembered for the next run."""
    with tempfile.TemporaryDirectory(prefix="dedup-spark-", dir=settings.spark_export_dir) as tmp:
        t = time.perf_counter()
        spark = spark_session(settings.spark_master)
        stats["seconds_spark_start"] = round(time.perf_counter() - t, 3)
        try:
            return _run(spark, snapshot, engine, scope, stats, fresh_texts, Path(tmp), cache)
        finally:
            spark.stop()


def _reusable(kept: Any, snapshot: Snapshot, cache: VerdictCache | None, stats: dict, engine: Engine,
              scope: np.ndarray | None) -> tuple[Verdicts, np.ndarray, np.ndarray]:
    """The promising pairs (collected: the local engine holds them in memory too), with the containment
    index's pairs as the local engine adds them, split into verdicts to reuse, and the pairs to verify with
    their cache keys."""
    pairs = np.array(kept.rdd.map(lambda r: (r.a, r.b)).collect(), dtype=np.int64).reshape(-1, 2)
    pairs = with_containment_pairs(engine, pairs, snapshot.signed_ids, stats)
    if scope is not None:
        pairs = pairs[np.isin(pairs, scope).any(axis=1)]
    if cache is None:
        return {}, pairs, np.empty(0, dtype="S32")
    t = time.perf_counter()
    keys = cache.pair_keys(pairs, snapshot.content_hash)
    reused, todo = cache.split(pairs, keys)
    stats["pairs_reused"] = len(reused)
    stats["seconds_cache"] = round(time.perf_counter() - t, 3)
    return reused, pairs[todo], keys[todo]


def _run(spark: Any, snapshot: Snapshot, engine: Engine, scope: np.ndarray | None, stats: dict,
         fresh_texts: dict[int, str], folder: Path, cache: VerdictCache | None) -> tuple[Verdicts, dict[int, str]]:
    from pyspark.sql import functions as F

    groups = by_banding(engine.layouts)
    decision, sig = engine.decision, engine.sig_config
    t = time.perf_counter()
    parallelism = spark.sparkContext.defaultParallelism
    sigs = spark.read.parquet(str(export_signatures(snapshot, folder))).repartition(parallelism).cache()
    # Explicit schemas: `toDF(names)` runs a job to infer the types from the first rows (the whole lineage up to
    # there, shuffles included) before the real one.
    keyed = sigs.rdd.mapPartitions(lambda rows: _band_rows(rows, groups)).toDF("band long, key long, id long")
    buckets = keyed.groupBy("band", "key").agg(F.collect_list("id").alias("ids")).where(F.size("ids") >= 2)
    pairs = buckets.rdd.flatMap(lambda row: _pairs_of_bucket(row.band, row.ids, BUCKET_CAP)).distinct().toDF(
        "a long, b long, g long")
    if scope is not None:
        wanted = spark.sparkContext.broadcast(set(scope.tolist()))
        pairs = pairs.where(F.udf(lambda a, b: a in wanted.value or b in wanted.value, "boolean")("a", "b"))
    pairs = pairs.cache()
    stats["candidate_pairs"] = pairs.count()
    left = sigs.select(F.col("id").alias("a"), F.col("sig").alias("sig_a"), F.col("n").alias("n_a"))
    right = sigs.select(F.col("id").alias("b"), F.col("sig").alias("sig_b"), F.col("n").alias("n_b"))
    kept = pairs.join(left, "a").join(right, "b").rdd.mapPartitions(
        lambda rows: _keep_promising(rows, decision, groups)).toDF("a long, b long").distinct()
    reused, todo, keys = _reusable(kept, snapshot, cache, stats, engine, scope)
    stats["seconds_banding"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    texts = load_texts(engine, np.unique(todo).tolist(), fresh_texts)
    stats["seconds_texts"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    verdicts: Verdicts = {}
    if len(todo):  # else every verdict is reused: nothing to export or verify
        stored = spark.read.parquet(str(export_texts(texts, folder)))
        todo_df = spark.createDataFrame(todo.tolist(), "a long, b long").repartition(parallelism)
        rows = (todo_df.join(stored.select(F.col("id").alias("a"), F.col("text").alias("text_a")), "a")
                .join(stored.select(F.col("id").alias("b"), F.col("text").alias("text_b")), "b"))
        times = spark.sparkContext.broadcast(arrival_times(snapshot))
        titles = spark.sparkContext.broadcast(engine.store.titles(list(texts)))
        found = rows.rdd.mapPartitions(lambda part: _verify(part, sig, decision, times.value,
                                                            titles.value)).collect()
        verdicts = {(int(a), int(b)): score for a, b, score in found}
    stats["pairs_verified"] = len(verdicts)
    stats["seconds_verify"] = round(time.perf_counter() - t, 3)
    if cache is not None:
        cache.remember(verdicts, {(int(a), int(b)): k for (a, b), k in zip(todo.tolist(), keys)})
    verdicts.update(reused)
    texts.update(fresh_texts)
    return verdicts, texts

"""Re-cluster stage 1-2: re-sign articles whose signature version is stale, then take a snapshot of the
stored signatures (no texts, no long transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dedup.clusters.bookkeeping import Node
from dedup.decide.verify import When
from dedup.engine import Engine
from dedup.errors import EmptyText
from dedup.parallel import text_preparer
from dedup.recluster.run_log import now

log = logging.getLogger("dedup.recluster.snapshot")


# -- snapshot ---------------------------------------------------------------------------------
@dataclass
class Snapshot:
    taken_at: str
    ids: np.ndarray                     # int64, ascending: every article
    old_cluster: np.ndarray             # int64, -1 for none
    signed: np.ndarray                  # bool: has a current-version signature (row in matrix)
    matrix: np.ndarray                  # uint32 [signed.sum(), num_perm]
    shingle_counts: np.ndarray          # int64 [signed.sum()]
    nodes: dict[int, Node]
    content_hash: dict[int, str] = field(default_factory=dict)

    @property
    def signed_ids(self) -> np.ndarray:
        return self.ids[self.signed]


def take_snapshot(engine: Engine, overrides: dict[int, tuple[np.ndarray, int]] | None = None) -> Snapshot:
    """Read ids, signatures and cluster ids in batches on short read transactions (ingest goes on)."""
    taken_at = now()
    overrides = overrides or {}
    ids, old, signed, blobs, counts, nodes, hashes = [], [], [], [], [], {}, {}
    for aid, version, blob, count, cid, published, ingested, content_hash in engine.store.snapshot_rows():
        ids.append(aid)
        # What a pair's verdict depends on besides the texts: which came first (publication, else arrival). A
        # metadata update changes the times and not the content hash; a cached verdict must not survive it.
        hashes[aid] = f"{content_hash}|{published or ''}|{ingested}"
        old.append(-1 if cid is None else cid)
        nodes[aid] = Node(aid, published, ingested)
        if aid in overrides:
            values, count = overrides[aid]
            blob, version = values.tobytes(), engine.version
        ok = version == engine.version and blob is not None
        signed.append(ok)
        if ok:
            blobs.append(bytes(blob))
            counts.append(count)
    num_perm = engine.sig_config.num_perm
    matrix = np.frombuffer(b"".join(blobs), dtype=np.uint32).reshape(len(blobs), num_perm) if blobs \
        else np.empty((0, num_perm), dtype=np.uint32)
    return Snapshot(taken_at, np.array(ids, dtype=np.int64), np.array(old, dtype=np.int64),
                    np.array(signed, dtype=bool), matrix, np.array(counts, dtype=np.int64), nodes, hashes)


# -- stale signatures -------------------------------------------------------------------------
def resign_stale(engine: Engine, *, write: bool = True, batch: int = 500, workers: int = 1) -> tuple[dict, int]:
    """Re-normalize and re-sign articles stored under other settings, so a settings change reaches them.

    Returns the new (values, shingle_count) and norm_text per article (kept in memory for a dry
    run) and how many could not be re-signed (empty under the new normalization). With `workers` > 1 the
    texts of each batch are prepared in that many processes (dedup.parallel), with the same result.
    """
    fresh: dict[int, tuple[np.ndarray, int, str]] = {}
    failed = 0
    ids = engine.store.stale_article_ids(engine.version)
    with text_preparer(engine, workers if len(ids) > batch // 10 else 1) as prepare:
        for start in range(0, len(ids), batch):
            with engine.writing():
                articles = engine.store.get_articles(ids[start:start + batch])
                for article, prepared in zip(articles, prepare([(a.raw_text, a.title) for a in articles])):
                    if isinstance(prepared, EmptyText):
                        failed += 1
                        continue
                    if isinstance(prepared, Exception):
                        raise prepared
                    fresh[article.id] = (prepared.values, len(prepared.shingles), prepared.normalized.text)
                    if write:
                        _store_signature(engine, article, prepared)
    if failed:
        log.warning("%d stale articles are empty under the current normalization and were left as they are", failed)
    return fresh, failed


def _store_signature(engine: Engine, article: Any, prepared: Any) -> None:
    article.norm_text = prepared.normalized.text
    article.sig_version = engine.version
    article.hashvalues = prepared.values.tobytes()
    article.shingle_count = len(prepared.shingles)
    engine.store.update_article(article)
    engine.reindex(article.id, prepared)


def arrival_times(snapshot: Snapshot) -> dict[int, When]:
    """When each article appeared (the time order of partial copies, as online)."""
    return {i: When(n.published_at, n.ingested_at, i) for i, n in snapshot.nodes.items()}

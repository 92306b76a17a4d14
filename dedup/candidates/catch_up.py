"""Following other writers: an in-process index learns what other processes wrote to the same database.

Every write of an article's signature (insert, update, delete) appends the article's id to the store's change
log (`index_changes`), in the writer's transaction and under the writers' lock, so the log's order is the
commit order. A process holding an in-process index (the embedded default, or PostgreSQL without Redis) reads
the entries after the last one it applied and re-indexes only those articles, before a lookup, a write,
/readyz and /metrics. On SQLite, `PRAGMA data_version` says in microseconds whether anything was committed at
all, so a request pays nothing while no one writes. A shared (Redis) index needs no catching up; its process
still drops its cached records of the changed articles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dedup.candidates.containment import anchors
from dedup.clusters.article_cache import KnownCache
from dedup.config import SignatureConfig
from dedup.sketch.shingle import shingle_hashes

# An index this many changes behind the log is rebuilt instead of caught up (older entries may be pruned);
# writers prune the log about every `PRUNE_EVERY` changes.
CHANGES_KEPT = 100_000
PRUNE_EVERY = 10_000


class ChangeFollower:
    """How far this process has applied the store's change log, and the applying itself."""

    def __init__(self, store, index, known: KnownCache, version: str, config: SignatureConfig,  # type: ignore[no-untyped-def]
                 anchor_rate: int) -> None:
        self.store, self.index, self.known = store, index, known
        self.version, self.config, self.anchor_rate = version, config, anchor_rate
        self.seen_change = 0  # the newest log entry applied
        self.seen_version: int | None = None  # SQLite's data_version when the log was last applied

    def pending(self, version: int | None) -> bool:
        """May there be entries to apply? `version`: the store's data_version, read before this call."""
        if version is not None and version == self.seen_version:
            return False  # nothing at all was committed since the last look
        return self.store.index_change_seq() > self.seen_change

    def seen(self, seq: int) -> None:
        self.seen_change = max(self.seen_change, seq)

    def apply(self, rebuild: Callable[[], object]) -> int:
        """Re-index the articles changed since the last entry applied (the caller holds the engine's lock);
        `rebuild` (a full sync) when the log may no longer hold them all. Returns how many were re-read."""
        newest = self.store.index_change_seq()
        if newest <= self.seen_change:
            return 0
        if newest - self.seen_change > CHANGES_KEPT:
            self.known.clear()
            if not self.index.shared:
                rebuild()
            self.seen(newest)
            return 0
        changed: set[int] = set()
        after = self.seen_change
        while rows := self.store.index_changes_since(after):
            changed.update(article_id for _, article_id in rows)
            after = rows[-1][0]
        self.reindex(sorted(changed))
        self.seen(after)
        return len(changed)

    def reindex(self, ids: list[int]) -> None:
        """Index these articles as stored now: their current signature and anchors, or nothing (deleted,
        signed under other parameters); their cached records are dropped."""
        for article_id in ids:
            self.known.drop(article_id)
        if self.index.shared:
            return
        rows = [r for r in self.store.signature_rows(ids) if r[1] == self.version]
        texts = self.store.norm_texts([r[0] for r in rows]) if self.anchor_rate > 0 else {}
        for article_id in set(ids) - {r[0] for r in rows}:
            self.index.remove(article_id)
        for article_id, _, blob, shingle_count in rows:
            self.index.insert(article_id, np.frombuffer(blob, dtype=np.uint32), shingle_count)
            if article_id in texts:
                self.index.contained.insert(
                    article_id, anchors(shingle_hashes(texts[article_id], self.config), self.anchor_rate))

    def written(self) -> int:
        """The log's newest entry at the end of a write transaction (every entry since the writer caught up is
        its own, made under the writers' lock); prunes old entries now and then."""
        newest = self.store.index_change_seq()
        if newest // PRUNE_EVERY > self.seen_change // PRUNE_EVERY:
            self.store.prune_index_changes(newest - CHANGES_KEPT)
        return newest

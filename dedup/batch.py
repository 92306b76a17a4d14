"""Cluster rows and signatures touched by one ingest batch, written once at its end.

Within a batch the engine reads clusters through this book (so later articles see earlier
decisions) and the store receives one executemany per table instead of a statement per
article; everything still happens inside the batch's single transaction.
"""

from __future__ import annotations

from dataclasses import replace

from .cluster import rep_key
from .models import Article, Cluster


class ClusterBook:
    def __init__(self, store) -> None:  # type: ignore[no-untyped-def]
        self.store = store
        self.clusters: dict[int, Cluster] = {}
        self.rep_keys: dict[int, tuple] = {}
        self.new: set[int] = set()
        self.changed: set[int] = set()
        self.signatures: list[Article] = []
        self.founders: list[tuple[int, int]] = []
        self.assigned: dict[int, int] = {}
        self.indexed: list[int] = []

    def get(self, cluster_id: int) -> Cluster | None:
        if cluster_id not in self.clusters:
            cluster = self.store.get_cluster(cluster_id)
            if cluster is None:
                return None
            self.clusters[cluster_id] = cluster
        return self.clusters[cluster_id]

    def found(self, article: Article) -> None:
        self.clusters[article.id] = Cluster(id=article.id, representative_id=article.id, size=1,
                                            first_seen=article.ingested_at, last_seen=article.ingested_at)
        self.rep_keys[article.id] = rep_key(article.published_at, article.id)
        self.new.add(article.id)
        self.founders.append((article.id, article.id))
        self.assigned[article.id] = article.id

    def join(self, cluster_id: int, article: Article, current_rep_key: tuple) -> None:
        cluster = self.clusters[cluster_id]
        new_key = rep_key(article.published_at, article.id)
        rep = article.id if new_key < current_rep_key else cluster.representative_id
        self.clusters[cluster_id] = replace(
            cluster, size=cluster.size + 1, representative_id=rep,
            first_seen=min(cluster.first_seen, article.ingested_at),
            last_seen=max(cluster.last_seen, article.ingested_at))
        self.rep_keys[cluster_id] = min(new_key, current_rep_key)
        if cluster_id not in self.new:
            self.changed.add(cluster_id)
        self.assigned[article.id] = cluster_id

    def forget(self, cluster_ids: set[int]) -> None:
        for cluster_id in cluster_ids:
            self.clusters.pop(cluster_id, None)
            self.rep_keys.pop(cluster_id, None)

    def flush(self) -> None:
        self.store.insert_signatures(self.signatures)
        self.store.set_clusters(self.founders)
        self.store.write_clusters([self.clusters[i] for i in self.new if i in self.clusters],
                                  [self.clusters[i] for i in self.changed if i in self.clusters])
        self.signatures, self.founders = [], []
        self.new, self.changed = set(), set()
        self.clusters.clear()
        self.rep_keys.clear()

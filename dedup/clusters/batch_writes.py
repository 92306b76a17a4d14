"""Cluster rows and signatures touched by one ingest batch, written once at its end.

Within a batch the engine reads clusters through this book (so later articles see earlier
decisions) and the store receives one executemany per table instead of a statement per
article; everything still happens inside the batch's single transaction.
"""

from __future__ import annotations

from dataclasses import replace

from dedup.clusters.bookkeeping import rep_key, seen_at
from dedup.models import Article, Cluster


class ClusterBook:
    def __init__(self, store) -> None:  # type: ignore[no-untyped-def]
        self.store = store
        self.clusters: dict[int, Cluster] = {}
        self.rep_keys: dict[int, tuple] = {}
        self.new: set[int] = set()
        self.changed: set[int] = set()
        self.articles: list[Article] = []  # new articles, inserted with their signatures at flush
        self._ids: list[int] = []
        self._unwritten: set[int] = set()
        self.founders: list[tuple[int, int]] = []
        self.assigned: dict[int, int] = {}
        self.indexed: list[int] = []
        # Cluster ids read from the store during this batch. The batch holds the writers' lock, so
        # only this batch changes them: through `assigned`, or by a rename/merge that calls `invalidate`.
        self._read: dict[int, int | None] = {}

    def reserve_ids(self, count: int) -> None:
        """Ids for the new articles of this batch (once, inside its transaction)."""
        self._ids = self.store.allocate_article_ids(count)[::-1]

    def add_article(self, article: Article) -> None:
        """Give a new article its id; its row is written at the next flush."""
        article.id = self._ids.pop()
        self.articles.append(article)
        self._unwritten.add(article.id)

    def is_unwritten(self, article_id: int) -> bool:
        return article_id in self._unwritten

    def cluster_ids(self, article_ids: list[int]) -> dict[int, int | None]:
        """Current cluster of each article: as assigned in this batch, else as stored."""
        missing = [i for i in article_ids if i not in self.assigned and i not in self._read]
        if missing:
            cluster_ids, clusters = self.store.clusters_of(missing)
            self._read.update(cluster_ids)
            for cluster in clusters.values():  # the engine reads these next; this batch may hold newer rows
                self.clusters.setdefault(cluster.id, cluster)
        return {i: self.assigned[i] if i in self.assigned else self._read.get(i) for i in article_ids}

    def invalidate(self) -> None:
        """Forget cluster ids read from the store (after writes that move articles between clusters)."""
        self._read.clear()

    def get(self, cluster_id: int) -> Cluster | None:
        if cluster_id not in self.clusters:
            cluster = self.store.get_cluster(cluster_id)
            if cluster is None:
                return None
            self.clusters[cluster_id] = cluster
        return self.clusters[cluster_id]

    def found(self, article: Article) -> None:
        seen = seen_at(article.published_at, article.ingested_at)
        self.clusters[article.id] = Cluster(id=article.id, representative_id=article.id, size=1,
                                            first_seen=seen, last_seen=seen)
        self.rep_keys[article.id] = rep_key(article.published_at, article.id)
        self.new.add(article.id)
        if not self.is_unwritten(article.id):  # an unwritten article gets its cluster id with its row
            self.founders.append((article.id, article.id))
        self.assigned[article.id] = article.id

    def join(self, cluster_id: int, article: Article, current_rep_key: tuple) -> None:
        cluster = self.clusters[cluster_id]
        new_key = rep_key(article.published_at, article.id)
        rep = article.id if new_key < current_rep_key else cluster.representative_id
        seen = seen_at(article.published_at, article.ingested_at)  # as `summarize` computes it
        self.clusters[cluster_id] = replace(
            cluster, size=cluster.size + 1, representative_id=rep,
            first_seen=min(cluster.first_seen, seen), last_seen=max(cluster.last_seen, seen))
        self.rep_keys[cluster_id] = min(new_key, current_rep_key)
        if cluster_id not in self.new:
            self.changed.add(cluster_id)
        self.assigned[article.id] = cluster_id

    def forget(self, cluster_ids: set[int]) -> None:
        for cluster_id in cluster_ids:
            self.clusters.pop(cluster_id, None)
            self.rep_keys.pop(cluster_id, None)

    def flush(self) -> None:
        self.store.insert_articles(self.articles)
        self.store.insert_signatures(self.articles)
        self.store.set_clusters(self.founders)
        self.store.write_clusters([self.clusters[i] for i in self.new if i in self.clusters],
                                  [self.clusters[i] for i in self.changed if i in self.clusters])
        self.articles, self.founders = [], []
        self._unwritten.clear()
        self.new, self.changed = set(), set()
        self.clusters.clear()
        self.rep_keys.clear()
        # The store now holds every assignment; reads from here on see later moves too.
        self.assigned.clear()
        self.invalidate()

"""Cluster upkeep in one place: every change to cluster rows, for ingest, delete, the re-cluster write-back
and `dedup check`.

The invariants it keeps (and `check` verifies and repairs): every article is in a stored cluster; a
cluster's size is its member count; its representative is a member, the earliest published (else the
earliest ingested); its first/last seen span its members' publication times (ingestion time for a member
without one: `dedup.clusters.bookkeeping.seen_at`); no cluster row is empty; no cluster id is negative; no alias hides a
live cluster id. A cluster is always re-summarized from what is stored now,
in the caller's transaction, so a decision made on an older view (a re-cluster's snapshot, a batch's
earlier read) cannot leave a row that disagrees with its members.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dedup.clusters.bookkeeping import Node, summarize
from dedup.models import Cluster

_CHUNK = 5_000


class ClusterUpkeep:
    """Re-summarize, leave, rename, merge and check clusters through one store, inside its transaction."""

    def __init__(self, store) -> None:  # type: ignore[no-untyped-def]
        self.store = store

    # -- the basic step ---------------------------------------------------------------------------
    def refresh(self, cluster_ids: Iterable[int]) -> int:
        """Re-summarize each cluster from its stored members, or delete its row when it has none.

        Returns how many rows were written or deleted (rows already right are left alone).
        """
        ids = sorted({c for c in cluster_ids if c is not None})
        changed = 0
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            members = self.store.member_nodes(part)
            rows = self.store.get_clusters(part)
            upsert = [s for c, m in members.items() if rows.get(c) != (s := summarize(c, m))]
            delete = [c for c in part if c not in members and c in rows]
            self.store.replace_clusters(upsert, delete)
            changed += len(upsert) + len(delete)
        return changed

    def leave(self, article_id: int, cluster_id: int | None) -> None:
        """An article leaves its cluster (before an update or a delete): the cluster is re-summarized, or
        deleted when it was the last member."""
        if cluster_id is not None:
            self.store.set_cluster([article_id], None)
            self.refresh([cluster_id])

    # -- ids -------------------------------------------------------------------------------------
    def free_id(self, candidates: Sequence[int], reserved: set[int] | None = None, *,
                consult_store: bool = True) -> int:
        """The smallest candidate (an article id: a cluster is named after a member) that is not reserved and,
        with `consult_store`, names no stored cluster or alias; else a fresh id that no article can ever take.
        Never negative. (The re-cluster write-back passes every id in use as `reserved` instead.)"""
        reserved = reserved or set()
        options = sorted(c for c in candidates if c > 0 and c not in reserved)
        taken = set(self.store.get_clusters(options)) | self.store.aliased(options) if consult_store else set()
        for candidate in options:
            if candidate not in taken:
                return candidate
        return self.store.allocate_cluster_ids(1)[0]

    def rename(self, cluster_id: int) -> int | None:
        """Move a cluster to a free id of one of its members, so its old id can name another cluster (an
        updated founder's new one). An empty cluster is simply deleted. Returns the new id."""
        members = [m.id for m in self.store.member_nodes([cluster_id]).get(cluster_id, [])]
        if not members:
            self.store.delete_cluster(cluster_id)
            return None
        successor = self.free_id(members, {cluster_id})
        self.store.set_cluster(members, successor)
        self.store.delete_cluster(cluster_id)
        self.refresh([successor])
        return successor

    def merge(self, cluster_ids: Sequence[int]) -> int:
        """Merge clusters into the oldest (smallest) id; the others become its aliases."""
        survivor = min(cluster_ids)
        for cluster_id in cluster_ids:
            if cluster_id != survivor:
                self.store.move_cluster(cluster_id, survivor)
                self.store.delete_cluster(cluster_id)
                self.store.add_alias(cluster_id, survivor)
        self.refresh([survivor])
        return survivor

    def regroup(self, parts: Sequence[Sequence[int]], old_of: dict[int, int]) -> list[int]:
        """Write a new partition of some articles (a correction's merge or split), with stable ids as the
        re-cluster gives them: each part keeps the old cluster id it holds most members of (ties: the smaller
        id), each old id goes to one part only, a part left without one takes a free id of a member, and an
        old id no part kept becomes an alias of the part holding most of its former members. Every cluster
        touched is re-summarized. Returns each part's id."""
        olds = set(old_of.values())
        overlaps = [Counter(old_of[m] for m in part if m in old_of) for part in parts]
        ranked = sorted((-n, old, k) for k, counter in enumerate(overlaps) for old, n in counter.items())
        ids: list[int | None] = [None] * len(parts)
        for _, old, k in ranked:
            if ids[k] is None and old not in ids:
                ids[k] = old
        for k, part in enumerate(parts):
            if ids[k] is None:
                ids[k] = self.free_id(part, olds | {i for i in ids if i is not None})
        final = [int(i) for i in ids]  # type: ignore[arg-type]
        for part, cluster_id in zip(parts, final):
            self.store.set_cluster([m for m in part if old_of.get(m) != cluster_id], cluster_id)
            self.store.delete_alias(cluster_id)  # the id names a live cluster
        for old in olds - set(final):
            heirs = {final[k]: counter[old] for k, counter in enumerate(overlaps) if old in counter}
            self.store.add_alias(old, min(heirs, key=lambda c: (-heirs[c], c)))
        self.refresh(olds | set(final))
        return final

    # -- verification and repair ------------------------------------------------------------------
    def check(self, *, repair: bool) -> CheckReport:
        """Every cluster invariant, counted over the whole store; with `repair`, fixed in this transaction."""
        states = self.store.article_states()
        rows = self.store.cluster_rows()
        aliases = self.store.alias_map()
        members: dict[int | None, list[Node]] = defaultdict(list)
        for article_id, (cluster_id, ingested_at, published_at) in states.items():
            members[cluster_id].append(Node(article_id, published_at, ingested_at))
        report = CheckReport(clusters=len(rows))
        for cluster_id, row in rows.items():
            found = members.get(cluster_id)
            if not found:
                report.empty_clusters += 1
                continue
            expected = summarize(cluster_id, found)
            report.wrong_sizes += row.size != expected.size
            report.wrong_representatives += row.representative_id != expected.representative_id
            report.wrong_times += (row.first_seen, row.last_seen) != (expected.first_seen, expected.last_seen)
        orphans = [n.id for n in members.get(None, [])]
        missing = [c for c in members if c is not None and c not in rows]
        negative = sorted({c for c in [*rows, *members] if c is not None and c < 0})
        report.articles_without_cluster = len(orphans) + sum(len(members[c]) for c in missing)
        report.negative_ids = len(negative)
        stale = [old for old in aliases if old in rows or old in members]
        report.stale_aliases = len(stale)
        if repair and report.problems:
            self._repair(rows, members, orphans, negative, stale)
            report.repaired = report.problems
        return report

    def _repair(self, rows: dict[int, Cluster], members: dict[int | None, list[Node]], orphans: list[int],
                negative: list[int], stale: list[int]) -> None:
        for old in stale:  # a live cluster id must resolve to itself
            self.store.delete_alias(old)
        touched = set(rows) | {c for c in members if c is not None}
        for cluster_id in negative:  # a readable id of a member (or a fresh one); the old one resolves to it
            ids = [n.id for n in members.get(cluster_id, [])]
            if ids:
                new = self.free_id(ids)
                self.store.set_cluster(ids, new)
                self.store.add_alias(cluster_id, new)
                touched.add(new)
            self.store.delete_cluster(cluster_id)
            touched.discard(cluster_id)
        for article_id in orphans:  # no cluster at all: it founds its own (the next re-cluster may fold it in)
            new = self.free_id([article_id])
            self.store.set_cluster([article_id], new)
            touched.add(new)
        self.refresh(touched)


@dataclass
class CheckReport:
    clusters: int = 0
    empty_clusters: int = 0
    wrong_sizes: int = 0
    wrong_representatives: int = 0
    wrong_times: int = 0
    negative_ids: int = 0
    articles_without_cluster: int = 0
    stale_aliases: int = 0
    repaired: int = 0

    @property
    def problems(self) -> int:
        return (self.empty_clusters + self.wrong_sizes + self.wrong_representatives + self.wrong_times
                + self.negative_ids + self.articles_without_cluster + self.stale_aliases)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

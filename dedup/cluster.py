"""Cluster bookkeeping: stable ids, representatives, and the guard against chaining.

A cluster's id is the id of the article that founded it and survives growth; when two
clusters merge, the older (smaller) id survives and the other becomes an alias.
An article joins a cluster only if it is a verified duplicate of the cluster's
representative, and two clusters merge only if their representatives are verified
duplicates of each other: one bridge article that resembles two different stories
cannot chain them together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from .models import Article, Cluster


@dataclass
class Node:
    """What `summarize` and `representative_key` need of an article, without its text."""

    id: int
    published_at: str | None
    ingested_at: str


def rep_key(published_at: str | None, article_id: int) -> tuple[int, str, int]:
    """Earliest published first; articles without a date come after dated ones, by ingest order."""
    if published_at:
        return (0, published_at, article_id)
    return (1, "", article_id)


def representative_key(article: Article | Node) -> tuple[int, str, int]:
    return rep_key(article.published_at, article.id)


def pick_representative(members: Iterable[Article | Node]) -> Article | Node:
    return min(members, key=representative_key)


def summarize(cluster_id: int, members: Sequence[Article | Node]) -> Cluster:
    rep = pick_representative(members)
    seen = [m.ingested_at for m in members]
    return Cluster(id=cluster_id, representative_id=rep.id, size=len(members),
                   first_seen=min(seen), last_seen=max(seen))


def guarded_components(
    nodes: Sequence[int],
    edges: Iterable[tuple[int, int, float]],
    representative: Callable[[list[int]], int],
    are_duplicates: Callable[[int, int], bool],
    *,
    must: Iterable[tuple[int, int]] = (),
    cannot: Iterable[tuple[int, int]] = (),
) -> list[list[int]]:
    """Connected components over verified edges, strongest edges first, with the anti-chaining guard.

    Two groups join only when their representatives are themselves verified duplicates. Operator
    corrections come on top: `must` pairs are joined first, whatever the texts say, and no join ever puts
    the two sides of a `cannot` pair in one group (nodes of either kind of pair must be in `nodes`).
    """
    parent = {n: n for n in nodes}
    members: dict[int, list[int]] = {n: [n] for n in nodes}
    rep: dict[int, int] = {n: n for n in nodes}
    apart: dict[int, set[int]] = {}
    for a, b in cannot:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    blocked: dict[int, set[int]] = {n: set(apart[n]) for n in nodes if n in apart}  # per root

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def kept_apart(ra: int, rb: int) -> bool:
        return any(find(x) == rb for x in blocked.get(ra, ())) or any(find(x) == ra for x in blocked.get(rb, ()))

    def join(ra: int, rb: int) -> None:
        keep, drop = (ra, rb) if ra < rb else (rb, ra)
        parent[drop] = keep
        members[keep].extend(members.pop(drop))
        rep[keep] = representative(members[keep])
        if drop in blocked:
            blocked.setdefault(keep, set()).update(blocked.pop(drop))

    for a, b in must:
        ra, rb = find(a), find(b)
        if ra != rb and not kept_apart(ra, rb):
            join(ra, rb)
    for a, b, _score in sorted(edges, key=lambda e: -e[2]):
        ra, rb = find(a), find(b)
        if ra == rb or kept_apart(ra, rb):
            continue
        if rep[ra] != a or rep[rb] != b:
            if not are_duplicates(rep[ra], rep[rb]):
                continue
        join(ra, rb)
    return [sorted(group) for group in members.values()]

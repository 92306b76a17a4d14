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

from dedup.models import Article, Cluster


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


def seen_at(published_at: str | None, ingested_at: str) -> str:
    """When an article counts as seen for its cluster's first/last seen: its publication time, else (no date
    known) when it was ingested. A backfill of June's articles in November makes June clusters, not November's."""
    return published_at or ingested_at


def summarize(cluster_id: int, members: Sequence[Article | Node]) -> Cluster:
    """The cluster row of these members: the earliest published as representative; first and last seen span
    their publication times (`seen_at`). The one summary: ingest, delete, re-cluster and `dedup check` use it."""
    rep = pick_representative(members)
    seen = [seen_at(m.published_at, m.ingested_at) for m in members]
    return Cluster(id=cluster_id, representative_id=rep.id, size=len(members),
                   first_seen=min(seen), last_seen=max(seen))


# Groups larger than this are not re-checked member by member when their representative changes (the cost
# grows with the group; such groups are rare and their representative-to-representative check still holds).
FAMILY_RECHECK_CAP = 20


def _still_family(group: list[int], old_rep: int, new_rep: int, are_duplicates: Callable[[int, int], bool],
                  joins_family: Callable[[int, int], bool]) -> bool:
    if old_rep == new_rep or len(group) == 1 or len(group) > FAMILY_RECHECK_CAP:
        return True
    return all(m == old_rep or are_duplicates(m, new_rep) or joins_family(m, new_rep) for m in group)


def guarded_components(
    nodes: Sequence[int],
    edges: Iterable[tuple[int, int, float]],
    earliness: Callable[[int], tuple],
    are_duplicates: Callable[[int, int], bool],
    joins_family: Callable[[int, int], bool] | None = None,
    family_min_edge: float = 0.0,
    *,
    must: Iterable[tuple[int, int]] = (),
    cannot: Iterable[tuple[int, int]] = (),
    cut_from: Callable[[int, int], bool] | None = None,
) -> list[list[int]]:
    """Connected components over verified edges, with the anti-chaining guard. `earliness` orders articles in
    time (publication, else arrival: `representative_key`); a group's representative is its earliest member.

    Edges that copy a text as a whole (at least `family_min_edge`) come first, strongest first; then the
    containment-only ones, from the earliest text on: an excerpt held by several stories joins the earliest of
    them, its origin, as it does online (`Engine._origin_first`).

    Two groups join only when their representatives are themselves verified duplicates, or (the online
    family rule) when one side is a single article that duplicates a member of the other group and
    `joins_family(article, representative)` says it overlaps that group's representative enough; the edge
    to the member must score at least `family_min_edge` (a Jaccard-level copy, not a containment-only one:
    a later, longer article quoting a member is a follow-up, not a copy of the family). With the
    family rule, a group whose representative would change (an earlier article arrives) joins only if its
    members are still family of the new representative: a bridge article that gathered another story while
    it was the representative cannot hand that story to an earlier, unrelated one.

    Excerpts of one source are one story: two groups also join through an end of the edge that both their
    representatives are cut from (`cut_from(part, whole)`, a containment-only duplicate, the smaller side) and
    that came after both, as they do online when the source arrives after its excerpts.

    Operator corrections come on top: `must` pairs are joined first, whatever the texts say, and no join ever
    puts the two sides of a `cannot` pair in one group (nodes of either kind of pair must be in `nodes`).
    """
    def representative(group: list[int]) -> int:
        return min(group, key=earliness)

    def origin_first(edge: tuple[int, int, float]) -> tuple:
        a, b, score = edge
        return (0, -score) if score >= family_min_edge else (1, min(earliness(a), earliness(b)), -score)

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

    def guarded(a: int, b: int, score: float, ra: int, rb: int) -> bool:
        """May the groups of an edge's two ends join: an edge between the representatives themselves, verified
        duplicate representatives, or a single article of the other group's family."""
        if (rep[ra] == a and rep[rb] == b) or are_duplicates(rep[ra], rep[rb]):
            return True
        if cut_from is not None and any(x not in (rep[ra], rep[rb]) and all(
                cut_from(rep[r], x) and earliness(rep[r]) < earliness(x) for r in (ra, rb)) for x in (a, b)):
            return True
        return joins_family is not None and score >= family_min_edge and (
            (len(members[rb]) == 1 and joins_family(b, rep[ra]))
            or (len(members[ra]) == 1 and joins_family(a, rep[rb])))

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
    for a, b, score in sorted(edges, key=origin_first):
        ra, rb = find(a), find(b)
        if ra == rb or kept_apart(ra, rb) or not guarded(a, b, score, ra, rb):
            continue
        new_rep = representative(members[ra] + members[rb])
        if joins_family is not None and not all(
                _still_family(members[r], rep[r], new_rep, are_duplicates, joins_family) for r in (ra, rb)):
            continue
        join(ra, rb)
    return [sorted(group) for group in members.values()]

"""Operator corrections that stick: "these are the same story" (must-link) and "these are not" (cannot-link).

A correction names two articles, or an article and a cluster. A cluster is a moving thing (it merges, splits
and is renamed), so a correction against a cluster is stored against the article that stands for it when the
correction is made: its representative, or, when the corrected article is that representative, the earliest
other member. Every correction is thus a pair of article ids, which survive re-signing (a settings change),
merges, splits and the nightly re-cluster.

Who honours them:
- the correction itself, at once: the clusters of the two articles are re-arranged (`arrange`) and written
  through `ClusterUpkeep.regroup` (stable ids, aliases for ids that disappear);
- every later ingest: an updated article goes back to its must-link partners' cluster and never joins a
  cluster holding one of its cannot-link partners, and no ingest merges two clusters a cannot-link keeps
  apart (see `Engine._choose_cluster`);
- the nightly re-cluster (local and Spark): `guarded_components` joins must-link pairs first and refuses any
  join that would put a cannot-link pair together.

A correction that contradicts those in force (a cannot-link between articles that must-links join, or a
must-link that would join two sides of a cannot-link) is refused with `CorrectionConflict`, naming both.
Withdrawing a correction changes no cluster at once; later ingests and the next re-cluster decide again.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from dedup.clusters.bookkeeping import Node, representative_key
from dedup.errors import DedupError, InvalidArticle, NotFound
from dedup.recluster.run_log import now
from dedup.validate import optional_text

if TYPE_CHECKING:
    from dedup.engine import Engine

MUST, CANNOT = "must_link", "cannot_link"
KINDS = (MUST, CANNOT)


class CorrectionConflict(DedupError):
    """The correction contradicts corrections in force (HTTP: 409); the message names them."""

    code = "correction_conflict"


@dataclass
class Correction:
    id: int
    kind: str
    article_id: int
    other_id: int
    cluster_id: int | None
    url_a: str
    url_b: str
    created_by: str
    created_at: str
    note: str | None
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    def describe(self) -> str:
        what = "must-link" if self.kind == MUST else "cannot-link"
        target = f"cluster {self.cluster_id} (article {self.other_id})" if self.cluster_id else \
            f"article {self.other_id}"
        return f"{what} of article {self.article_id} and {target}"

    def as_dict(self) -> dict:
        return {**asdict(self), "active": self.active}


@dataclass
class Outcome:
    """What adding a correction did: the correction, whether it is new, and the clusters of its two articles."""

    correction: Correction
    created: bool
    clusters: list[int]


# -- rules over article ids ---------------------------------------------------------------------
class Rules:
    """Corrections in force as pairs of article ids."""

    def __init__(self, rows: Iterable[tuple[int, str, int, int]]) -> None:
        self.rows = list(rows)
        self.must = [(a, b) for _, kind, a, b in self.rows if kind == MUST]
        self.cannot = [(a, b) for _, kind, a, b in self.rows if kind == CANNOT]
        self.apart: dict[int, set[int]] = defaultdict(set)
        for a, b in self.cannot:
            self.apart[a].add(b)
            self.apart[b].add(a)

    def partners(self, article_id: int, kind: str) -> list[int]:
        pairs = self.must if kind == MUST else self.cannot
        return sorted({b if a == article_id else a for a, b in pairs if article_id in (a, b)})

    def within(self, ids: set[int]) -> Rules:
        return Rules(r for r in self.rows if r[2] in ids and r[3] in ids)

    def arrange(self, groups: Sequence[Sequence[Node]]) -> list[list[int]]:
        """The groups as the corrections want them: groups holding a must-link pair become one, and a group
        holding a cannot-link pair is split. The split moves as little as it can: must-linked articles stay
        together (an atom), atoms are taken earliest representative first, and each joins the first part it
        has no cannot-link with, so the part holding the representative keeps everything not in conflict."""
        nodes = {n.id: n for g in groups for n in g}
        group_of = {n.id: k for k, g in enumerate(groups) for n in g}
        joined = _UnionFind(range(len(groups)))
        for a, b in self.must:
            if a in group_of and b in group_of:
                joined.union(group_of[a], group_of[b])
        combined: dict[int, list[Node]] = defaultdict(list)
        for k, group in enumerate(groups):
            combined[joined.find(k)].extend(group)
        return [part for members in combined.values() for part in self._split(members, nodes)]

    def _split(self, members: list[Node], nodes: dict[int, Node]) -> list[list[int]]:
        ids = {n.id for n in members}
        atoms = _UnionFind(ids)
        for a, b in self.must:
            if a in ids and b in ids:
                atoms.union(a, b)
        grouped: dict[int, list[int]] = defaultdict(list)
        for n in members:
            grouped[atoms.find(n.id)].append(n.id)
        order = sorted(grouped.values(), key=lambda atom: min(representative_key(nodes[i]) for i in atom))
        parts: list[set[int]] = []
        for atom in order:
            home = next((p for p in parts if not any(x in p for i in atom for x in self.apart.get(i, ()))), None)
            if home is None:
                parts.append(set(atom))
            else:
                home.update(atom)
        return [sorted(p) for p in parts]

    def conflicts(self, kind: str, a: int, b: int, cluster: Sequence[int] = ()) -> list[int]:
        """Ids of the corrections in force that a new one of `kind` between a and b would contradict. A
        cannot-link against a cluster (`cluster`: its members) also contradicts a must-link that joins a to
        any of them."""
        graph: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for cid, k, x, y in self.rows:
            if k == MUST:
                graph[x].append((y, cid))
                graph[y].append((x, cid))
        if kind == CANNOT:
            joined = _reach(graph, a) & ({b} | set(cluster))
            return _path(graph, a, min(joined)) if joined - {a} else []
        side_a, side_b = _reach(graph, a), _reach(graph, b)
        for cid, k, x, y in self.rows:
            if k == CANNOT and ((x in side_a and y in side_b) or (x in side_b and y in side_a)):
                return [cid]
        return []


class _UnionFind:
    def __init__(self, items: Iterable[int]) -> None:
        self.parent = {i: i for i in items}

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _reach(graph: dict[int, list[tuple[int, int]]], start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        for nxt, _ in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _path(graph: dict[int, list[tuple[int, int]]], a: int, b: int) -> list[int]:
    """Correction ids along a shortest must-link path from a to b (empty: not joined)."""
    came: dict[int, tuple[int, int] | None] = {a: None}
    queue = deque([a])
    while queue:
        node = queue.popleft()
        if node == b:
            out = []
            while came[node] is not None:
                node, cid = came[node]  # type: ignore[misc]
                out.append(cid)
            return out[::-1]
        for nxt, cid in graph.get(node, ()):
            if nxt not in came:
                came[nxt] = (node, cid)
                queue.append(nxt)
    return []


def rules_for(store, article_ids: Sequence[int]) -> Rules:  # type: ignore[no-untyped-def]
    """The corrections in force that touch these articles (what one ingest needs)."""
    return Rules(store.active_corrections(article_ids))


def all_rules(store) -> Rules:  # type: ignore[no-untyped-def]
    return Rules(store.active_corrections())


# -- use cases ----------------------------------------------------------------------------------
def _correction(row: dict) -> Correction:
    return Correction(**row)


def get_correction(engine: Engine, correction_id: int) -> Correction:
    row = engine.store.get_correction(correction_id)
    if row is None:
        raise NotFound(f"no correction with id {correction_id}")
    return _correction(row)


def list_corrections(engine: Engine, *, include_withdrawn: bool = False, limit: int = 50,
                     before: int | None = None, article_id: int | None = None) -> list[Correction]:
    """Newest first; `before`: the last id of the previous page; `article_id`: only those naming that article."""
    rows = engine.store.list_corrections(active_only=not include_withdrawn, limit=limit, before=before,
                                         article_id=article_id)
    return [_correction(r) for r in rows]


def corrections_naming(engine: Engine, article_ids: Sequence[int], limit: int = 50) -> list[Correction]:
    """The corrections in force naming any of these articles, newest first: the cluster page lists those of its
    members (including the cannot-links that took an article out of it), so an operator sees why it is shaped so."""
    ids = sorted({row[0] for row in engine.store.active_corrections(article_ids)}, reverse=True)[:limit]
    return [get_correction(engine, cid) for cid in ids]


def _anchor(engine: Engine, article_id: int, cluster_id: int) -> tuple[int, int, list[int]]:
    """The article that stands for a cluster in a correction against it (see the module docstring), with the
    cluster's resolved id and its other members."""
    resolved = engine.resolve_cluster_id(cluster_id)
    members = [n for n in engine.store.member_nodes([resolved]).get(resolved, []) if n.id != article_id]
    if not members:
        raise InvalidArticle(f"cluster {cluster_id} holds no article other than {article_id}: nothing to link "
                             "it with or keep it apart from")
    return resolved, min(members, key=representative_key).id, [n.id for n in members]


def add_correction(engine: Engine, kind: str, article_id: int, *, other_id: int | None = None,
                   cluster_id: int | None = None, note: str | None = None, by: str) -> Outcome:
    """Record a correction and apply it at once, in one write transaction.

    The same correction given twice is recorded once (`created` is false the second time). Raises NotFound
    for an unknown article or cluster, InvalidArticle for a pair that is not two articles, and
    CorrectionConflict when it contradicts corrections in force.
    """
    if kind not in KINDS:
        raise InvalidArticle(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if (other_id is None) == (cluster_id is None):
        raise InvalidArticle("name either the other article or a cluster, not both or neither")
    note = optional_text(note, "note", 2000)
    with engine.writing():
        article = engine.get_article(article_id)
        members: list[int] = []
        if cluster_id is not None:
            cluster_id, other_id, members = _anchor(engine, article_id, cluster_id)
        assert other_id is not None
        if other_id == article_id:
            raise InvalidArticle("a correction links two different articles; both ids are "
                                 f"{article_id}")
        other = engine.get_article(other_id)
        rules = all_rules(engine.store)
        same = next((cid for cid, k, x, y in rules.rows if k == kind and {x, y} == {article_id, other_id}), None)
        if same is not None:
            found = get_correction(engine, same)
            return Outcome(found, False, _clusters_of(engine, article_id, other_id))
        contradicted = rules.conflicts(kind, article_id, other_id, members)
        if contradicted:
            raise _conflict(engine, kind, article_id, other_id, cluster_id, contradicted)
        values: dict[str, Any] = {
            "kind": kind, "article_id": article_id, "other_id": other_id, "cluster_id": cluster_id,
            "url_a": article.url, "url_b": other.url, "created_by": by, "created_at": now(), "note": note}
        correction = Correction(id=engine.store.add_correction(values), **values)
        apply_rules(engine, [article_id, other_id], Rules([*rules.rows, (correction.id, kind, article_id,
                                                                         other_id)]))
        return Outcome(correction, True, _clusters_of(engine, article_id, other_id))


def _conflict(engine: Engine, kind: str, a: int, b: int, cluster_id: int | None,
              ids: list[int]) -> CorrectionConflict:
    new = Correction(0, kind, a, b, cluster_id, "", "", "", "", None)
    named = "; ".join(f"correction {c.id} ({c.describe()}, by {c.created_by})"
                      for c in (get_correction(engine, i) for i in ids))
    return CorrectionConflict(f"the {new.describe()} contradicts {named}; withdraw "
                              f"{'it' if len(ids) == 1 else 'one of them'} first")


def _clusters_of(engine: Engine, *article_ids: int) -> list[int]:
    found, _ = engine.store.clusters_of(list(article_ids))
    return [found[a] for a in article_ids if found.get(a) is not None]  # type: ignore[misc]


def apply_rules(engine: Engine, article_ids: Sequence[int], rules: Rules) -> list[int]:
    """Re-arrange the clusters of these articles as the corrections want them (inside `engine.writing()`).

    Returns the cluster ids written; nothing is written when the clusters already agree."""
    current, _ = engine.store.clusters_of(list(article_ids))
    cluster_ids = sorted({c for c in current.values() if c is not None})
    members = engine.store.member_nodes(cluster_ids)
    groups = [members[c] for c in cluster_ids if c in members]
    inside = {n.id for g in groups for n in g}
    parts = rules.within(inside).arrange(groups)
    if sorted(map(sorted, parts)) == sorted(sorted(n.id for n in g) for g in groups):
        return cluster_ids
    old_of = {n.id: c for c, g in zip(cluster_ids, groups) for n in g}
    return engine.upkeep.regroup(parts, old_of)


def withdraw_correction(engine: Engine, correction_id: int, *, by: str) -> Correction:
    """Withdraw a correction (kept in the list, marked withdrawn). Clusters are left as they are: the next
    ingests and re-cluster decide on the texts again. Withdrawing twice changes nothing."""
    with engine.writing():
        correction = get_correction(engine, correction_id)
        if correction.active:
            engine.store.withdraw_corrections([correction_id], now(), by)
    return get_correction(engine, correction_id)


def withdraw_for_deleted(engine: Engine, article_ids: Sequence[int]) -> int:
    """Deleted articles take their corrections out of force (their rows stay, for the record and export)."""
    ids = [cid for cid, _, _, _ in engine.store.active_corrections(article_ids)]
    return engine.store.withdraw_corrections(ids, now(), "delete")


def judged_pairs(engine: Engine, *, include_withdrawn: bool = False) -> list[dict]:
    """Corrections as judged pairs in the format `dedup eval --pairs` scores (dedup.quality.judged_pairs): a must-link
    is a `duplicate`, a cannot-link a `not_duplicate`, stratum `corrections`, pattern `operator`."""
    out = []
    before = None
    while True:
        page = list_corrections(engine, include_withdrawn=include_withdrawn, limit=1000, before=before)
        if not page:
            break
        out += [{"id": f"correction-{c.id}", "corpus": "corrections", "stratum": "corrections",
                 "url_a": c.url_a, "url_b": c.url_b,
                 "label": "duplicate" if c.kind == MUST else "not_duplicate",
                 "reason": c.note or c.describe(), "pattern": "operator", "judged_by": c.created_by,
                 "judged_at": c.created_at} for c in page]
        before = page[-1].id
    return sorted(out, key=lambda p: int(p["id"].split("-")[1]))

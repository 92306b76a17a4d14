"""Re-cluster stage 5-6: components under the online anti-chaining guard and operator corrections, then a
stable id for each (the one most of its members had) and the change log.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dedup.clusters.bookkeeping import Node, guarded_components, representative_key
from dedup.clusters.corrections import Rules
from dedup.config import DecisionConfig, SignatureConfig
from dedup.decide.verify import When, decide, joins_family
from dedup.recluster.verdicts import TitleBook, Verdicts, verify_rows
from dedup.sketch.shingle import shingle_hashes

log = logging.getLogger("dedup.recluster.ids")
_CHANGE_SAMPLE = 1_000


# -- components -------------------------------------------------------------------------------
def components(node_ids: Iterable[int], verdicts: Verdicts, nodes: dict[int, Node],
               are_duplicates: Callable[[int, int], bool],
               joins_family: Callable[[int, int], bool] | None = None,
               family_min_edge: float = 0.0, *, rules: Rules | None = None,
               cut_from: Callable[[int, int], bool] | None = None) -> list[list[int]]:
    """Guarded components (the online rule) over verified edges; nodes without an edge stay alone.
    Operator corrections (`rules`) between the nodes are honoured: must-links joined, cannot-links kept apart."""
    node_ids = list(node_ids)
    edges = [(a, b, score) for (a, b), score in verdicts.items() if score is not None]
    inside = set(node_ids)
    must = [p for p in rules.must if p[0] in inside and p[1] in inside] if rules else []
    cannot = [p for p in rules.cannot if p[0] in inside and p[1] in inside] if rules else []
    linked = sorted({n for a, b, _ in edges for n in (a, b)} | {n for pair in must + cannot for n in pair})
    keys = {n: representative_key(nodes[n]) for n in linked}

    groups = guarded_components(linked, edges, keys.__getitem__, are_duplicates, joins_family, family_min_edge,
                                must=must, cannot=cannot, cut_from=cut_from)
    linked_set = set(linked)
    return groups + [[n] for n in node_ids if n not in linked_set]


def duplicate_oracle(verdicts: Verdicts, texts: dict[int, str], store_texts: Callable[[list[int]], dict[int, str]],
                     sig: SignatureConfig, decision: DecisionConfig,
                     times: Mapping[int, When] | None = None,
                     titles: TitleBook | None = None) -> Callable[[int, int], bool]:
    """Are two representatives duplicates: a verdict already made, else the exact rule now (and remembered)."""
    def are_duplicates(a: int, b: int) -> bool:
        key = (min(a, b), max(a, b))
        if key not in verdicts:
            missing = [n for n in key if n not in texts]
            if missing:
                texts.update(store_texts(missing))
            if any(n not in texts for n in key):  # deleted during the run: it leaves the clustering anyway
                return False
            verdicts[key] = verify_rows([(key[0], key[1], texts[key[0]], texts[key[1]])], sig, decision,
                                        times, titles.load(key) if titles else None)[0][2]
        return verdicts[key] is not None
    return are_duplicates


def family_oracle(texts: dict[int, str], store_texts: Callable[[list[int]], dict[int, str]],
                  sig: SignatureConfig, decision: DecisionConfig,
                  titles: TitleBook | None = None) -> Callable[[int, int], bool]:
    """Does an article overlap a group's representative enough to join through a member (the online family
    rule, `verify.joins_family`), from the exact texts; remembered per pair."""
    known: dict[tuple[int, int], bool] = {}

    def joins(article: int, rep: int) -> bool:
        if (article, rep) not in known:
            missing = [n for n in (article, rep) if n not in texts]
            if missing:
                texts.update(store_texts(missing))
            if article not in texts or rep not in texts:  # deleted during the run
                return False
            a, b = texts[article], texts[rep]
            verdict = decide(a, b, shingle_hashes(a, sig), shingle_hashes(b, sig), decision,
                             titles=titles.pair(article, rep) if titles else (None, None))
            known[(article, rep)] = joins_family(verdict, a, b, decision)
        return known[(article, rep)]
    return joins


# -- stable ids -------------------------------------------------------------------------------
@dataclass
class Assignment:
    cluster_of: dict[int, int]                      # article -> new cluster id
    ids: list[int]                                  # new id of each component
    aliases: dict[int, int]                         # disappeared old id -> surviving id
    restored: list[int]                             # ids that were aliases and are clusters again
    changes: dict[str, Any] = field(default_factory=dict)


def assign_ids(groups: list[list[int]], old_of: dict[int, int], taken: set[int], aliased: set[int]) -> Assignment:
    """Stable ids: a component keeps the old id it overlaps most (ties to the older, smaller id), each old id
    goes to one component (a split keeps it on the larger part), and only a truly new cluster gets a new id."""
    overlaps = [Counter(old_of[m] for m in g if old_of.get(m, -1) >= 0) for g in groups]
    # equal parts of a split: the part holding the founder article (whose id the cluster carries) keeps it
    ranked = sorted((-n, old, old not in groups[k], min(groups[k]), k)
                    for k, counter in enumerate(overlaps) for old, n in counter.items())
    ids: list[int | None] = [None] * len(groups)
    used: set[int] = set()
    for _, old, _, _, k in ranked:
        if ids[k] is None and old not in used:
            ids[k] = old
            used.add(old)
    blocked = taken | used
    restored: list[int] = []
    negative = min([0, *taken, *aliased]) - 1
    for k, group in enumerate(groups):
        if ids[k] is None:
            ids[k], negative = _new_id(group, blocked, aliased, restored, negative)
            blocked.add(ids[k])  # type: ignore[arg-type]
    final = [int(i) for i in ids]  # type: ignore[arg-type]
    cluster_of = {m: final[k] for k, g in enumerate(groups) for m in g}
    aliases = _aliases(overlaps, final, used)
    return Assignment(cluster_of, final, aliases, restored,
                      _changes(groups, overlaps, final, aliases, old_of, cluster_of, used))


def _new_id(group: list[int], blocked: set[int], aliased: set[int], restored: list[int],
            negative: int) -> tuple[int, int]:
    """A merged-away id of a member comes back (clients stored it), else a member's article id (the online
    convention: a cluster is named after its founder), else a negative placeholder that the write-back
    replaces, under the writers' lock, by a fresh id (`_settle_ids`): no negative id is ever stored."""
    back = [m for m in group if m in aliased and m not in blocked]
    if back:
        restored.append(min(back))
        return min(back), negative
    free = [m for m in group if m not in blocked and m not in aliased]
    if free:
        return min(free), negative
    return negative, negative - 1


def _aliases(overlaps: list[Counter], final: list[int], used: set[int]) -> dict[int, int]:
    """Each old id that no component kept resolves to the component holding most of its articles."""
    best: dict[int, tuple[int, int]] = {}
    for k, counter in enumerate(overlaps):
        for old, n in counter.items():
            if old not in used and (old not in best or (n, -final[k]) > (best[old][0], -best[old][1])):
                best[old] = (n, final[k])
    return {old: target for old, (_, target) in best.items()}


def _changes(groups: list[list[int]], overlaps: list[Counter], final: list[int], aliases: dict[int, int],
             old_of: dict[int, int], cluster_of: dict[int, int], used: set[int]) -> dict[str, Any]:
    parts: dict[int, list[int]] = defaultdict(list)
    for k, counter in enumerate(overlaps):
        for old in counter:
            parts[old].append(final[k])
    splits = {old: sorted(ids) for old, ids in parts.items() if len(ids) > 1}
    moved = [(m, old_of.get(m, -1), c) for m, c in cluster_of.items() if old_of.get(m, -1) != c]
    new = [final[k] for k in range(len(groups)) if final[k] not in used]
    shown = [final[k] for k, g in enumerate(groups) if final[k] not in used and (len(g) > 1 or g[0] in old_of)]
    return {
        "merges": len(aliases), "splits": len(splits), "moves": len(moved), "new_clusters": len(new),
        "merged": sorted([old, into] for old, into in aliases.items())[:_CHANGE_SAMPLE],
        "split": sorted([old, ids] for old, ids in splits.items())[:_CHANGE_SAMPLE],
        "moved": sorted([m, None if o < 0 else o, c] for m, o, c in moved)[:_CHANGE_SAMPLE],
        "new": sorted(shown)[:_CHANGE_SAMPLE],
    }

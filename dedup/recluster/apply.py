"""Re-cluster stage 7: the new clusters written back in one short transaction; articles written after the
snapshot keep their online cluster, mapped through the id changes.
"""

from __future__ import annotations

import logging
from collections import Counter

from dedup.clusters.corrections import all_rules, apply_rules
from dedup.engine import Engine
from dedup.recluster.ids import Assignment
from dedup.recluster.snapshot import Snapshot

log = logging.getLogger("dedup.recluster.apply")


# -- applying ---------------------------------------------------------------------------------
def apply_assignment(engine: Engine, snapshot: Snapshot, groups: list[list[int]], assignment: Assignment,
                     scope_old_ids: set[int]) -> dict[str, int]:
    """Write the new clustering in one transaction under the writers' locks (the ones ingest takes), against
    the articles as they are now, not as the snapshot saw them:

    - an article deleted since the snapshot is skipped;
    - an article written since the snapshot (new, or updated: ingest stamps every write) keeps the cluster
      ingest chose for its current text, mapped through the run's id changes, unless that cluster is one
      the article founded itself, which stays as it is;
    - a component whose id now names a cluster that an article updated since the snapshot founded (online
      ingest renames the old cluster to free the id) takes a free id of its own members, or a fresh one;
      the run's placeholder ids (no free member id at compute time) are resolved the same way;
    - every cluster any of this touched is then re-summarized from its stored members, or deleted when it
      has none (`ClusterUpkeep.refresh`, the step ingest uses), so sizes, representatives and spans agree
      with the members whatever happened during the run.
    """
    with engine.writing():
        return _write_back(engine, snapshot, groups, assignment, scope_old_ids)


def _write_back(engine: Engine, snapshot: Snapshot, groups: list[list[int]], assignment: Assignment,
                scope_old_ids: set[int]) -> dict[str, int]:
    store, upkeep = engine.store, engine.upkeep
    states = store.article_states()
    late = {a for a, (_, ingested, _) in states.items()
            if (node := snapshot.nodes.get(a)) is None or node.ingested_at != ingested}
    founded = {a for a in late if states[a][0] == a}   # clusters that articles written since then founded
    stable = [[m for m in g if m in states and m not in late] for g in groups]
    alias_map = store.alias_map()
    ids = _settle_ids(upkeep, stable, assignment.ids, states, late, founded, alias_map)
    renamed = {old: new for old, new in zip(assignment.ids, ids) if new is not None and old != new}
    aliases = {old: renamed.get(new, new) for old, new in assignment.aliases.items() if old not in founded}
    target: dict[int, int | None] = {m: cid for g, cid in zip(stable, ids) if cid is not None for m in g}
    for article_id in late:
        current = states[article_id][0]
        if current is not None and current not in founded:
            target[article_id] = aliases.get(current, renamed.get(current, current))
    moves = {a: c for a, c in target.items() if states[a][0] != c}
    store.assign_clusters(moves)
    live = {c for c in ids if c is not None} | {c for c in target.values() if c is not None}
    for old in set(alias_map) & live:  # an id that names a cluster again resolves to itself
        store.delete_alias(old)
    for old, new in aliases.items():
        if old not in live:
            store.add_alias(old, new)
    touched = live | scope_old_ids | set(renamed) | {c for a in moves if (c := states[a][0]) is not None}
    refreshed = upkeep.refresh(touched)
    rules = all_rules(store)  # corrections made while the run computed are applied over its result
    apply_rules(engine, sorted({n for _, _, a, b in rules.rows for n in (a, b) if n in states}), rules)
    return {"late_articles": len(late), "deleted_during_run": sum(m not in states for m in assignment.cluster_of),
            "ids_settled_at_write": len(renamed), "articles_moved": len(moves), "clusters_refreshed": refreshed}


def _settle_ids(upkeep, stable: list[list[int]], planned: list[int], states: dict[int, tuple],  # type: ignore[no-untyped-def]
                late: set[int], founded: set[int], aliases: dict[int, int]) -> list[int | None]:
    """Each component's id as written: the planned one, unless it is a placeholder (negative) or now names a
    cluster that an article written since the snapshot founded; then the id online ingest now gives most of
    its members (a renamed cluster's new id), else a free id of a member, else a fresh one. A component
    left without members (all deleted or rewritten since) gets none."""
    ids: list[int | None] = [None if not g else cid for g, cid in zip(stable, planned)]
    grouped = {m for g in stable for m in g}
    reserved = {c for a, (c, _, _) in states.items() if a not in grouped and a not in late and c is not None}
    reserved |= {c for c in ids if c is not None and c >= 0 and c not in founded} | founded | set(aliases)
    for k, cid in enumerate(ids):
        # contested: an article rewritten since the snapshot founded a cluster under this id, and none of
        # this component's members is there (online ingest renamed their cluster away from the id)
        contested = cid is not None and cid in founded and all(states[m][0] != cid for m in stable[k])
        if cid is not None and (cid < 0 or contested):
            held = Counter(states[m][0] for m in stable[k] if states[m][0] is not None)
            options = [c for c, _ in held.most_common() if c > 0 and c not in reserved]
            ids[k] = options[0] if options else upkeep.free_id(stable[k], reserved, consult_store=False)
            reserved.add(ids[k])
    return ids

"""Nightly re-clustering: the whole corpus at once, with stable cluster ids and a change log.

Online ingest decides one article at a time in arrival order; a late bridge article, a
settings change or a delete can leave clusters that the whole-corpus view would build
differently. A run:

1. re-signs articles whose signature version is stale (settings changed since they were stored);
2. takes a snapshot of the stored signatures (no texts, no long transaction);
3. bands the N x num_perm signature matrix in numpy with the same (b, r) layout as the online
   MinHashLSH, so the candidates are the ones online would see, and emits candidate pairs;
4. drops pairs whose MinHash estimates sit far below both thresholds (the online filter), and
   verifies the rest with `verify.decide`, the online rule;
5. builds components with `cluster.guarded_components`, the online anti-chaining guard;
6. gives each component a stable id (`assign_ids`) and applies the result in one short
   transaction; articles written after the snapshot keep their online cluster, mapped
   through the id changes.

Steps 3-4 can also run on Spark (`dedup.recluster.spark`); 5-6 are always these functions.
"""

from __future__ import annotations

import logging
import os
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dedup.candidates.layouts import describe
from dedup.clusters.corrections import Rules, all_rules
from dedup.engine import Engine
from dedup.recluster.apply import apply_assignment
from dedup.recluster.candidates import BUCKET_CAP
from dedup.recluster.ids import Assignment, assign_ids, components, duplicate_oracle, family_oracle
from dedup.recluster.run_log import finish_run, now, run_lock, start_run
from dedup.recluster.snapshot import Snapshot, arrival_times, resign_stale, take_snapshot
from dedup.recluster.verdicts import TitleBook, VerdictCache, Verdicts, local_verdicts, source_oracle
from dedup.settings import Settings

log = logging.getLogger("dedup.recluster.run")


# -- the run ----------------------------------------------------------------------------------
@dataclass
class RunReport:
    run_id: int | None
    engine: str
    mode: str
    dry_run: bool
    started_at: str
    finished_at: str = ""
    articles: int = 0
    resigned: int = 0
    resign_failed: int = 0
    clusters_before: int = 0
    clusters_after: int = 0
    merges: int = 0
    splits: int = 0
    moves: int = 0
    new_clusters: int = 0
    late_articles: int = 0
    duration_s: float = 0.0
    peak_memory_mb: float = 0.0
    parameters: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def changed(self) -> bool:
        return bool(self.merges or self.splits or self.moves or self.new_clusters)


def _parameters(engine: Engine, settings: Settings, since: str | None) -> dict[str, Any]:
    main = engine.layouts[0]
    return {"signature_version": engine.version, "decision": asdict(engine.decision), "bands": main.bands,
            "rows": main.rows, "layouts": describe(engine.layouts),
            "bucket_cap": BUCKET_CAP, "since": since, "workers": settings.recluster_workers,
            "reuse_verdicts": settings.recluster_reuse_verdicts}


def run_recluster(engine: Engine, settings: Settings, *, full: bool = True, since: str | None = None,
                  dry_run: bool = False, engine_name: str = "local",
                  on_started: Callable[[int], None] | None = None) -> RunReport:
    """One run under the one-at-a-time lock, recorded in recluster_runs. Raises RunInProgress when busy."""
    mode = "full" if full or since is None else "since"
    with run_lock(engine.store):
        run_id = start_run(engine.store, engine=engine_name, mode=mode, dry_run=dry_run)
        if on_started:
            on_started(run_id)
        report = RunReport(run_id, engine_name, mode, dry_run, now(), parameters=_parameters(engine, settings, since))
        try:
            _execute(engine, settings, report, since if mode == "since" else None)
        except BaseException as exc:
            finish_run(engine.store, run_id, report.as_dict(), error=f"{type(exc).__name__}: {exc}")
            raise
        finish_run(engine.store, run_id, report.as_dict())
    return report


def _execute(engine: Engine, settings: Settings, report: RunReport, since: str | None) -> None:
    started = time.perf_counter()
    t = time.perf_counter()
    fresh, report.resign_failed = resign_stale(engine, write=not report.dry_run,
                                               workers=settings.recluster_workers)
    report.resigned = len(fresh)
    fresh_texts = {k: v[2] for k, v in fresh.items()}
    report.stats["seconds_resign"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    snapshot = take_snapshot(engine, {k: (v[0], v[1]) for k, v in fresh.items()})
    report.stats["seconds_snapshot"] = round(time.perf_counter() - t, 3)
    report.articles = len(snapshot.ids)
    scope = _since_scope(snapshot, since, fresh)
    cache = VerdictCache(engine).load(engine.store) if settings.recluster_reuse_verdicts else None
    if report.engine == "spark":
        from dedup.recluster.spark import spark_verdicts
        verdicts, texts = spark_verdicts(snapshot, engine, settings, scope, report.stats, fresh_texts, cache)
    else:
        verdicts, texts = local_verdicts(snapshot, engine, scope, settings.recluster_workers, report.stats,
                                         fresh_texts, cache)
    if cache is not None and not report.dry_run:
        t = time.perf_counter()
        cache.save(engine.store, prune=since is None)
        report.stats["seconds_cache_save"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    groups, assignment, scope_old = cluster_and_name(snapshot, engine, verdicts, texts, scope)
    report.stats["seconds_components"] = round(time.perf_counter() - t, 3)
    _count(report, groups, assignment, scope_old)
    if not report.dry_run:
        t = time.perf_counter()
        applied = apply_assignment(engine, snapshot, groups, assignment, scope_old)
        report.late_articles = applied.pop("late_articles")
        report.stats.update(applied, seconds_apply=round(time.perf_counter() - t, 3))
    report.finished_at = now()
    report.duration_s = round(time.perf_counter() - started, 3)
    report.peak_memory_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _since_scope(snapshot: Snapshot, since: str | None, fresh: dict) -> np.ndarray | None:
    """For --since: articles written since the date, and re-signed ones; None means everything."""
    if since is None:
        return None
    recent = [n.id for n in snapshot.nodes.values() if n.ingested_at >= since]
    return np.array(sorted(set(recent) | set(fresh)), dtype=np.int64)


def cluster_and_name(snapshot: Snapshot, engine: Engine, verdicts: Verdicts, texts: dict[int, str],
                     scope: np.ndarray | None) -> tuple[list[list[int]], Assignment, set[int]]:
    """Components and stable ids over the whole corpus, or over the clusters --since touches."""
    old_of = {int(a): int(c) for a, c in zip(snapshot.ids, snapshot.old_cluster)}
    rules = all_rules(engine.store)
    if scope is None:
        node_ids = [int(a) for a in snapshot.ids]
    else:
        node_ids = _touched_articles(snapshot, scope, verdicts, old_of, rules)
        inside = set(node_ids)
        verdicts = {k: v for k, v in verdicts.items() if k[0] in inside and k[1] in inside}
    titles = TitleBook(engine.store)
    oracle = duplicate_oracle(verdicts, texts, engine.store.norm_texts, engine.sig_config, engine.decision,
                              arrival_times(snapshot), titles)
    family = family_oracle(texts, engine.store.norm_texts, engine.sig_config, engine.decision, titles)
    source = source_oracle(verdicts, texts, engine.store.norm_texts, engine.sig_config, engine.decision)
    groups = components(node_ids, verdicts, snapshot.nodes, oracle, family, engine.decision.jaccard, rules=rules,
                        cut_from=source)
    scope_old = {old_of[n] for n in node_ids if old_of[n] >= 0}
    existing = set(engine.store.cluster_rows())
    taken = existing - scope_old
    aliased = set(engine.store.alias_map())
    return groups, assign_ids(groups, old_of, taken, aliased), scope_old


def _touched_articles(snapshot: Snapshot, scope: np.ndarray, verdicts: Verdicts, old_of: dict[int, int],
                      rules: Rules) -> list[int]:
    """The recent articles, their verified partners and must-link partners, and every member of the clusters
    any of them is in."""
    touched = {int(a) for a in scope}
    touched |= {n for (a, b), s in verdicts.items() if s is not None and (a in touched or b in touched)
                for n in (a, b)}
    touched |= {n for a, b in rules.must if (a in touched or b in touched) and a in old_of and b in old_of
                for n in (a, b)}
    clusters = {old_of[n] for n in touched if old_of.get(n, -1) >= 0}
    return sorted(touched | {a for a, c in old_of.items() if c in clusters})


def _count(report: RunReport, groups: list[list[int]], assignment: Assignment, scope_old: set[int]) -> None:
    report.clusters_before = len(scope_old)
    report.clusters_after = len(groups)
    changes = assignment.changes
    report.merges, report.splits = changes["merges"], changes["splits"]
    report.moves, report.new_clusters = changes["moves"], changes["new_clusters"]
    report.changes = {k: changes[k] for k in ("merged", "split", "moved", "new")}


def start_in_background(engine: Engine, settings: Settings, **options: Any) -> int:
    """Start a run in a thread and return its run id once it holds the lock; raise RunInProgress at once
    when another run holds it. What `POST /v1/admin/recluster` calls (202 with the id, or 409)."""
    started = threading.Event()
    outcome: dict[str, Any] = {}

    def begin(run_id: int) -> None:
        outcome["run_id"] = run_id
        started.set()

    def work() -> None:
        try:
            run_recluster(engine, settings, on_started=begin, **options)
        except BaseException as exc:  # noqa: BLE001 - reported to the caller or recorded in the run row
            outcome.setdefault("error", exc)
            if "run_id" in outcome:
                log.exception("re-cluster run %s failed", outcome["run_id"])
        finally:
            started.set()

    threading.Thread(target=work, name="dedup-recluster", daemon=True).start()
    started.wait()
    if "run_id" not in outcome:
        raise outcome["error"]
    return outcome["run_id"]


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))

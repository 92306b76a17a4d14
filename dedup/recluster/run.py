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

import hashlib
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from datasketch.lsh import _optimal_param

from dedup.candidates.containment import LocalContainmentIndex
from dedup.clusters.bookkeeping import Node, guarded_components, representative_key
from dedup.clusters.corrections import Rules, all_rules, apply_rules
from dedup.config import DecisionConfig, SignatureConfig
from dedup.decide.verify import When, decide, joins_family, later_of
from dedup.engine import _ESTIMATE_MARGIN, Engine
from dedup.errors import EmptyText
from dedup.parallel import text_preparer
from dedup.recluster.run_log import finish_run, now, run_lock, start_run
from dedup.settings import Settings
from dedup.sketch.shingle import _mix64, shingle_hashes

log = logging.getLogger("dedup.recluster.run")

# Buckets larger than this are not expanded into all pairs (s^2/2 grows fast); each member is
# paired with its next _WINDOW neighbours in the bucket instead, which still connects them.
BUCKET_CAP = 200
_WINDOW = 32
_PAIR_CHUNK = 200_000
_VERIFY_CHUNK = 2_000
_CHANGE_SAMPLE = 1_000


# -- snapshot ---------------------------------------------------------------------------------
@dataclass
class Snapshot:
    taken_at: str
    ids: np.ndarray                     # int64, ascending: every article
    old_cluster: np.ndarray             # int64, -1 for none
    signed: np.ndarray                  # bool: has a current-version signature (row in matrix)
    matrix: np.ndarray                  # uint32 [signed.sum(), num_perm]
    shingle_counts: np.ndarray          # int64 [signed.sum()]
    nodes: dict[int, Node]
    content_hash: dict[int, str] = field(default_factory=dict)

    @property
    def signed_ids(self) -> np.ndarray:
        return self.ids[self.signed]


def take_snapshot(engine: Engine, overrides: dict[int, tuple[np.ndarray, int]] | None = None) -> Snapshot:
    """Read ids, signatures and cluster ids in batches on short read transactions (ingest goes on)."""
    taken_at = now()
    overrides = overrides or {}
    ids, old, signed, blobs, counts, nodes, hashes = [], [], [], [], [], {}, {}
    for aid, version, blob, count, cid, published, ingested, content_hash in engine.store.snapshot_rows():
        ids.append(aid)
        # What a pair's verdict depends on besides the texts: which came first (publication, else arrival). A
        # metadata update changes the times and not the content hash; a cached verdict must not survive it.
        hashes[aid] = f"{content_hash}|{published or ''}|{ingested}"
        old.append(-1 if cid is None else cid)
        nodes[aid] = Node(aid, published, ingested)
        if aid in overrides:
            values, count = overrides[aid]
            blob, version = values.tobytes(), engine.version
        ok = version == engine.version and blob is not None
        signed.append(ok)
        if ok:
            blobs.append(bytes(blob))
            counts.append(count)
    num_perm = engine.sig_config.num_perm
    matrix = np.frombuffer(b"".join(blobs), dtype=np.uint32).reshape(len(blobs), num_perm) if blobs \
        else np.empty((0, num_perm), dtype=np.uint32)
    return Snapshot(taken_at, np.array(ids, dtype=np.int64), np.array(old, dtype=np.int64),
                    np.array(signed, dtype=bool), matrix, np.array(counts, dtype=np.int64), nodes, hashes)


# -- stale signatures -------------------------------------------------------------------------
def resign_stale(engine: Engine, *, write: bool = True, batch: int = 500, workers: int = 1) -> tuple[dict, int]:
    """Re-normalize and re-sign articles stored under other settings, so a settings change reaches them.

    Returns the new (values, shingle_count) and norm_text per article (kept in memory for a dry
    run) and how many could not be re-signed (empty under the new normalization). With `workers` > 1 the
    texts of each batch are prepared in that many processes (dedup.parallel), with the same result.
    """
    fresh: dict[int, tuple[np.ndarray, int, str]] = {}
    failed = 0
    ids = engine.store.stale_article_ids(engine.version)
    with text_preparer(engine, workers if len(ids) > batch // 10 else 1) as prepare:
        for start in range(0, len(ids), batch):
            with engine.writing():
                articles = engine.store.get_articles(ids[start:start + batch])
                for article, prepared in zip(articles, prepare([(a.raw_text, a.title) for a in articles])):
                    if isinstance(prepared, EmptyText):
                        failed += 1
                        continue
                    if isinstance(prepared, Exception):
                        raise prepared
                    fresh[article.id] = (prepared.values, len(prepared.shingles), prepared.normalized.text)
                    if write:
                        _store_signature(engine, article, prepared)
    if failed:
        log.warning("%d stale articles are empty under the current normalization and were left as they are", failed)
    return fresh, failed


def _store_signature(engine: Engine, article: Any, prepared: Any) -> None:
    article.norm_text = prepared.normalized.text
    article.sig_version = engine.version
    article.hashvalues = prepared.values.tobytes()
    article.shingle_count = len(prepared.shingles)
    engine.store.update_article(article)
    engine.reindex(article.id, prepared)


# -- banding ----------------------------------------------------------------------------------
def band_layout(sig: SignatureConfig, threshold: float) -> tuple[int, int]:
    """(bands, rows) exactly as datasketch's MinHashLSH picks them, so batch and online candidates agree."""
    return _optimal_param(threshold, sig.num_perm, 0.5, 0.5)


def band_keys(block: np.ndarray) -> np.ndarray:
    """One uint64 key per row of an [n, r] uint32 band; exact for r <= 2, a 64-bit mix beyond."""
    block = np.ascontiguousarray(block, dtype=np.uint32)
    if block.shape[1] == 1:
        return block[:, 0].astype(np.uint64)
    if block.shape[1] == 2:
        return (block[:, 0].astype(np.uint64) << np.uint64(32)) | block[:, 1].astype(np.uint64)
    h = np.full(len(block), 0x9E3779B97F4A7C15, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for col in range(block.shape[1]):
            h = _mix64(h ^ block[:, col].astype(np.uint64) + np.uint64(col))
    return h


def pack(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    a, b = np.minimum(lo, hi).astype(np.int64), np.maximum(lo, hi).astype(np.int64)
    return (a << 32) | b


def unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return packed >> 32, packed & 0xFFFFFFFF


def bucket_pairs(keys: np.ndarray, members: np.ndarray, cap: int = BUCKET_CAP) -> tuple[np.ndarray, int]:
    """Packed (lo, hi) pairs of `members` sharing a key; buckets over `cap` are chained by windows."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_keys)])
    keep = sizes >= 2
    starts, sizes = starts[keep], sizes[keep]
    out: list[np.ndarray] = []
    for size in np.unique(sizes[sizes <= cap]):
        begin = starts[sizes == size]
        iu, ju = np.triu_indices(int(size), 1)
        out.append(pack(members[order[begin[:, None] + iu]].ravel(), members[order[begin[:, None] + ju]].ravel()))
    big = sizes > cap
    for begin, size in zip(starts[big], sizes[big]):
        group = members[order[begin:begin + size]]
        for step in range(1, _WINDOW + 1):
            out.append(pack(group[:-step], group[step:]))
    pairs = np.concatenate(out) if out else np.empty(0, dtype=np.int64)
    return pairs, int(big.sum())


def candidate_pairs(matrix: np.ndarray, bands: int, rows: int, cap: int = BUCKET_CAP) -> tuple[np.ndarray, int]:
    """Unique packed pairs of row positions that share at least one band; one band in memory at a time."""
    members = np.arange(len(matrix), dtype=np.int64)
    parts: list[np.ndarray] = []
    capped = pending = 0
    for band in range(bands):
        keys = band_keys(matrix[:, band * rows:(band + 1) * rows])
        pairs, big = bucket_pairs(keys, members, cap)
        capped += big
        parts.append(np.unique(pairs))
        pending += len(parts[-1])
        if pending > 50_000_000:  # bound memory: fold what we have into one sorted unique array
            parts = [np.unique(np.concatenate(parts))]
            pending = len(parts[0])
    found = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
    if capped:
        log.warning("%d oversized LSH buckets (over %d members) were chained by windows of %d", capped, cap, _WINDOW)
    return found, capped


def estimate_keep(ma: np.ndarray, mb: np.ndarray, ca: np.ndarray, cb: np.ndarray,
                  decision: DecisionConfig) -> np.ndarray:
    """The online pre-filter on MinHash estimates of row-aligned signature pairs: a cheap filter, not a verdict."""
    jaccard = (ma == mb).mean(axis=1)
    ca, cb = ca.astype(np.float64), cb.astype(np.float64)
    shared = jaccard * (ca + cb) / (1.0 + jaccard)
    containment = shared / np.maximum(1.0, np.minimum(ca, cb))
    return (jaccard >= decision.jaccard - _ESTIMATE_MARGIN) | (containment >= decision.containment - _ESTIMATE_MARGIN)


def promising(pairs: np.ndarray, matrix: np.ndarray, counts: np.ndarray, decision: DecisionConfig) -> np.ndarray:
    """`estimate_keep` over packed row-position pairs, in chunks that bound memory."""
    keep = np.zeros(len(pairs), dtype=bool)
    for start in range(0, len(pairs), _PAIR_CHUNK):
        i, j = unpack(pairs[start:start + _PAIR_CHUNK])
        keep[start:start + _PAIR_CHUNK] = estimate_keep(matrix[i], matrix[j], counts[i], counts[j], decision)
    return keep


def load_texts(engine: Engine, ids: list[int], fresh_texts: dict[int, str]) -> dict[int, str]:
    """Stored normalized texts, or the re-normalized ones of a dry run (not written)."""
    texts = engine.store.norm_texts([i for i in ids if i not in fresh_texts])
    texts.update((i, fresh_texts[i]) for i in ids if i in fresh_texts)
    return texts


class TitleBook:
    """Headlines of the articles verified (a verdict compares the facts they state), loaded from the store
    once per article: before the pairs are verified (forked workers and Spark get the whole dict), and one by
    one for the pairs the guarded components ask about later."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.known: dict[int, str | None] = {}

    def load(self, ids: Iterable[int]) -> dict[int, str | None]:
        missing = [i for i in ids if i not in self.known]
        if missing:
            self.known.update(self.store.titles(missing))
        return self.known

    def pair(self, a: int, b: int) -> tuple[str | None, str | None]:
        self.load((a, b))
        return self.known.get(a), self.known.get(b)


# -- verification -----------------------------------------------------------------------------
Verdicts = dict[tuple[int, int], float | None]   # (lo, hi) -> edge score if duplicates, else None


def verify_rows(rows: Iterable[tuple[int, int, str, str]], sig: SignatureConfig, decision: DecisionConfig,
                times: Mapping[int, When] | None = None,
                titles: Mapping[int, str | None] | None = None) -> list[tuple[int, int, float | None]]:
    """The exact online rule on (a, b, text_a, text_b) rows; shared by the local and Spark engines.

    Which article came later (`times`: publication and arrival, see `verify.later_of`; without them, id
    order, i.e. arrival) decides partial copies, as online; `titles` are the headlines (facts they state differ:
    two events)."""
    times, titles = times or {}, titles or {}
    cache: dict[int, np.ndarray] = {}
    out = []
    for a, b, text_a, text_b in rows:
        sh_a = cache.get(a)
        if sh_a is None:
            sh_a = cache[a] = shingle_hashes(text_a, sig)
        sh_b = cache.get(b)
        if sh_b is None:
            sh_b = cache[b] = shingle_hashes(text_b, sig)
        verdict = decide(text_a, text_b, sh_a, sh_b, decision,
                         later=later_of(times.get(a) or When(None, "", a), times.get(b) or When(None, "", b)),
                         titles=(titles.get(a), titles.get(b)))
        out.append((a, b, verdict.scores.jaccard if verdict.is_duplicate else None))
    return out


_WORK: dict[str, Any] = {}


def _verify_chunk(bounds: tuple[int, int]) -> list[tuple[int, int, float | None]]:
    pairs, texts = _WORK["pairs"], _WORK["texts"]
    rows = ((int(a), int(b), texts[int(a)], texts[int(b)]) for a, b in pairs[bounds[0]:bounds[1]])
    return verify_rows(rows, _WORK["sig"], _WORK["decision"], _WORK["times"], _WORK["titles"])


def _default_signals() -> None:
    """Workers die on SIGTERM as the pool expects: a handler the parent installed (a server's or a
    scheduler's graceful stop) must not make a worker ignore the pool's terminate and hang its join."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def verify_pairs(pairs: np.ndarray, texts: dict[int, str], sig: SignatureConfig, decision: DecisionConfig,
                 workers: int = 1, times: Mapping[int, When] | None = None,
                 titles: Mapping[int, str | None] | None = None) -> Verdicts:
    """Verify [k, 2] article-id pairs; forked workers share the texts copy-on-write."""
    _WORK.update(pairs=pairs, texts=texts, sig=sig, decision=decision, times=times, titles=titles)
    chunks = [(s, min(s + _VERIFY_CHUNK, len(pairs))) for s in range(0, len(pairs), _VERIFY_CHUNK)]
    try:
        if workers > 1 and len(pairs) > _VERIFY_CHUNK:
            with multiprocessing.get_context("fork").Pool(workers, initializer=_default_signals) as pool:
                results = pool.map(_verify_chunk, chunks, chunksize=1)
        else:
            results = [_verify_chunk(c) for c in chunks]
    finally:
        _WORK.clear()
    return {(a, b): score for chunk in results for a, b, score in chunk}


class VerdictCache:
    """Verdicts of earlier runs, reused only when they are provably what `decide` would say again.

    A verdict is a pure function of the two normalized texts, which of them came first (publication time,
    else arrival), the signature parameters (shingles), the decision thresholds and the rule's code. A
    normalized text is a function of the raw text (content_hash) and the signature version (the project bumps
    NORMALIZATION_RULES when a rule changes). So the key hashes both content hashes with both articles' times,
    the version, the decision config and a fingerprint of the package's code and jieba's version; any
    difference means the pair is verified again (after an upgrade, the first run is a cold one).
    """

    def __init__(self, engine: Engine) -> None:
        self.context = hashlib.blake2b(
            f"{engine.version}|{engine.decision}|{rule_fingerprint()}".encode(), digest_size=16).hexdigest()
        self.packed = np.empty(0, dtype=np.int64)
        self.keys = np.empty(0, dtype="S32")
        self.scores = np.empty(0, dtype=np.float64)
        self.fresh: list[dict] = []

    def load(self, store: Any) -> VerdictCache:
        packed, keys, scores = [], [], []
        for part in store.iter_verdicts():
            packed.extend((a << 32) | b for a, b, _, _ in part)
            keys.extend(k.encode() for _, _, k, _ in part)
            scores.extend(np.nan if s is None else s for _, _, _, s in part)
        order = np.argsort(np.array(packed, dtype=np.int64), kind="stable")
        self.packed = np.array(packed, dtype=np.int64)[order]
        self.keys = np.array(keys, dtype="S32")[order]
        self.scores = np.array(scores, dtype=np.float64)[order]
        return self

    def pair_keys(self, id_pairs: np.ndarray, hashes: dict[int, str]) -> np.ndarray:
        return np.array([hashlib.blake2b(f"{self.context}{hashes[a]}{hashes[b]}".encode(), digest_size=16)
                         .hexdigest().encode() for a, b in id_pairs.tolist()], dtype="S32")

    def split(self, id_pairs: np.ndarray, keys: np.ndarray) -> tuple[Verdicts, np.ndarray]:
        """Reusable verdicts, and the mask of pairs still to verify."""
        if not len(id_pairs) or not len(self.packed):
            return {}, np.ones(len(id_pairs), dtype=bool)
        packed = (id_pairs[:, 0] << 32) | id_pairs[:, 1]
        pos = np.minimum(np.searchsorted(self.packed, packed), len(self.packed) - 1)
        hit = (self.packed[pos] == packed) & (self.keys[pos] == keys)
        found = {(int(a), int(b)): (None if np.isnan(s) else float(s))
                 for (a, b), s in zip(id_pairs[hit].tolist(), self.scores[pos[hit]].tolist())}
        return found, ~hit

    def remember(self, verdicts: Verdicts, keys: dict[tuple[int, int], bytes]) -> None:
        self.fresh.extend({"a": a, "b": b, "key": keys[(a, b)].decode(), "score": s} for (a, b), s in verdicts.items())

    def save(self, store: Any, *, prune: bool) -> None:
        with store.transaction():
            store.save_verdicts(self.fresh)
            if prune:
                store.prune_verdicts()


# Modules whose code cannot change a verdict; every other module of the package counts.
_NOT_RULE = {"article_files.py"}
_NOT_RULE_DIRS = {"store", "cli", "recluster", "quality", "ops"}


@lru_cache(maxsize=1)
def rule_fingerprint() -> str:
    """Changes whenever the code of the package that could reach a verdict changes (conservatively: every
    module but the job's own and the CLI), or jieba's version (its dictionary tags names)."""
    import jieba

    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(str(getattr(jieba, "__version__", "")).encode())
    for path in sorted(package.rglob("*.py")):
        if path.name not in _NOT_RULE and not _NOT_RULE_DIRS & set(path.relative_to(package).parts):
            digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def with_containment_pairs(engine: Engine, id_pairs: np.ndarray, signed_ids: np.ndarray, stats: dict) -> np.ndarray:
    """The band pairs plus the containment index's pairs (excerpts of long texts, which no band proposes:
    ingest finds them, so the re-cluster must see them too), among the signed articles, without repeats.

    Only an in-process containment index can list its pairs at once; a shared (Redis) one is not scanned."""
    contained = engine.index.contained
    if not isinstance(contained, LocalContainmentIndex):
        return id_pairs
    extra = contained.pairs()
    extra = extra[np.isin(extra, signed_ids).all(axis=1)]
    stats["containment_pairs"] = int(len(extra))
    if not len(extra):
        return id_pairs
    both = np.concatenate([id_pairs.astype(np.int64), extra])
    return np.unique(both, axis=0)


def local_verdicts(snapshot: Snapshot, engine: Engine, scope: np.ndarray | None, workers: int,
                   stats: dict, fresh_texts: dict[int, str],
                   cache: VerdictCache | None = None) -> tuple[Verdicts, dict[int, str]]:
    """Band, pre-filter and verify on this machine; returns verdicts and the texts it loaded."""
    bands, rows = band_layout(engine.sig_config, engine.decision.lsh_threshold)
    t = time.perf_counter()
    pairs, stats["capped_buckets"] = candidate_pairs(snapshot.matrix, bands, rows)
    stats["candidate_pairs"] = int(len(pairs))
    pairs = pairs[promising(pairs, snapshot.matrix, snapshot.shingle_counts, engine.decision)]
    ids = snapshot.signed_ids
    lo, hi = unpack(pairs)
    id_pairs = np.stack([ids[lo], ids[hi]], axis=1) if len(pairs) else np.empty((0, 2), dtype=np.int64)
    id_pairs = with_containment_pairs(engine, id_pairs, ids, stats)
    if scope is not None:
        id_pairs = id_pairs[np.isin(id_pairs, scope).any(axis=1)]
    stats["pairs_promising"] = int(len(id_pairs))
    stats["seconds_banding"] = round(time.perf_counter() - t, 3)
    reused: Verdicts = {}
    if cache is not None:
        t = time.perf_counter()
        keys = cache.pair_keys(id_pairs, snapshot.content_hash)
        reused, todo = cache.split(id_pairs, keys)
        id_pairs, keys = id_pairs[todo], keys[todo]
        stats["pairs_reused"] = len(reused)
        stats["seconds_cache"] = round(time.perf_counter() - t, 3)
    stats["pairs_verified"] = int(len(id_pairs))
    t = time.perf_counter()
    texts = load_texts(engine, np.unique(id_pairs).tolist(), fresh_texts)
    titles = engine.store.titles(list(texts))
    if len(id_pairs):  # articles deleted since the snapshot have no text: their pairs are not verified
        present = np.isin(id_pairs, np.fromiter(texts, dtype=np.int64, count=len(texts))).all(axis=1)
        id_pairs = id_pairs[present]
        if cache is not None:
            keys = keys[present]
    stats["seconds_texts"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    verdicts = verify_pairs(id_pairs, texts, engine.sig_config, engine.decision, workers,
                            arrival_times(snapshot), titles)
    stats["seconds_verify"] = round(time.perf_counter() - t, 3)
    if cache is not None:
        cache.remember(verdicts, {(int(a), int(b)): k for (a, b), k in zip(id_pairs.tolist(), keys)})
    verdicts.update(reused)
    return verdicts, texts


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
    keys = {n: representative_key(nodes[n]) for n in linked}  # type: ignore[arg-type]

    def representative(members: list[int]) -> int:
        return min(members, key=keys.__getitem__)

    groups = guarded_components(linked, edges, representative, are_duplicates, joins_family, family_min_edge,
                                must=must, cannot=cannot, cut_from=cut_from)
    linked_set = set(linked)
    return groups + [[n] for n in node_ids if n not in linked_set]


def arrival_times(snapshot: Snapshot) -> dict[int, When]:
    """When each article appeared (the time order of partial copies, as online)."""
    return {i: When(n.published_at, n.ingested_at, i) for i, n in snapshot.nodes.items()}


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


def source_oracle(verdicts: Verdicts, texts: dict[int, str], store_texts: Callable[[list[int]], dict[int, str]],
                  sig: SignatureConfig, decision: DecisionConfig) -> Callable[[int, int], bool]:
    """Is one article a part cut from another (`verify.cut_from`): their verified pair is a duplicate by
    containment alone and the first is the smaller text. Only pairs already verified count."""
    sizes: dict[int, int] = {}

    def size(article: int) -> int:
        if article not in sizes:
            sizes[article] = len(shingle_hashes(texts[article], sig))
        return sizes[article]

    def cut_from(part: int, whole: int) -> bool:
        score = verdicts.get((min(part, whole), max(part, whole)))
        if score is None or score >= decision.jaccard:
            return False
        missing = [n for n in (part, whole) if n not in texts]
        if missing:
            texts.update(store_texts(missing))
        if part not in texts or whole not in texts:  # deleted during the run
            return False
        return size(part) < size(whole)
    return cut_from


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
    touched = live | scope_old_ids | set(renamed) | {states[a][0] for a in moves if states[a][0] is not None}
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
    bands, rows = band_layout(engine.sig_config, engine.decision.lsh_threshold)
    return {"signature_version": engine.version, "decision": asdict(engine.decision), "bands": bands,
            "rows": rows, "bucket_cap": BUCKET_CAP, "since": since, "workers": settings.recluster_workers,
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

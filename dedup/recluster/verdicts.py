"""Re-cluster stage 4: the online rule (`dedup.decide.verify.decide`) on the candidate pairs, in forked
workers, with the verdicts of earlier runs reused when they are provably what the rule would say again.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from dedup.config import DecisionConfig, SignatureConfig
from dedup.decide.verify import When, decide, later_of
from dedup.engine import Engine
from dedup.recluster.candidates import layout_pairs, promising, unpack, with_containment_pairs
from dedup.recluster.snapshot import Snapshot, arrival_times
from dedup.sketch.shingle import shingle_hashes
from dedup.store.base import ReclusterStore

log = logging.getLogger("dedup.recluster.verdicts")
_VERIFY_CHUNK = 2_000


def load_texts(engine: Engine, ids: list[int], fresh_texts: dict[int, str]) -> dict[int, str]:
    """Stored normalized texts, or the re-normalized ones of a dry run (not written)."""
    texts = engine.store.norm_texts([i for i in ids if i not in fresh_texts])
    texts.update((i, fresh_texts[i]) for i in ids if i in fresh_texts)
    return texts


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

    def load(self, store: ReclusterStore) -> VerdictCache:
        packed: list[int] = []
        keys: list[bytes] = []
        scores: list[float] = []
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

    def save(self, store: ReclusterStore, *, prune: bool) -> None:
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


def local_verdicts(snapshot: Snapshot, engine: Engine, scope: np.ndarray | None, workers: int,
                   stats: dict, fresh_texts: dict[int, str],
                   cache: VerdictCache | None = None) -> tuple[Verdicts, dict[int, str]]:
    """Band, pre-filter and verify on this machine; returns verdicts and the texts it loaded."""
    t = time.perf_counter()
    pairs, stats["capped_buckets"] = layout_pairs(snapshot.matrix, snapshot.shingle_counts, engine.layouts)
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

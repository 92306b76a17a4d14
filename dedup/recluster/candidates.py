"""Re-cluster stage 3: candidate pairs from the signature matrix, banded with the online index's layouts
(dedup.candidates.layouts), kept when their MinHash estimates are near a threshold, plus the containment index's pairs.
"""

from __future__ import annotations

import logging

import numpy as np

from dedup.candidates.containment import LocalContainmentIndex
from dedup.candidates.layouts import BandLayout, by_banding, eligible, pair_allowed
from dedup.config import DecisionConfig
from dedup.engine import _ESTIMATE_MARGIN, Engine
from dedup.sketch.shingle import mix64

log = logging.getLogger("dedup.recluster.candidates")

# Buckets larger than this are not expanded into all pairs (s^2/2 grows fast); each member is
# paired with its next _WINDOW neighbours in the bucket instead, which still connects them.
BUCKET_CAP = 200
_WINDOW = 32
_PAIR_CHUNK = 200_000


# -- banding ----------------------------------------------------------------------------------

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
            h = mix64(h ^ block[:, col].astype(np.uint64) + np.uint64(col))
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


def layout_pairs(matrix: np.ndarray, counts: np.ndarray, layouts: tuple[BandLayout, ...],
                 cap: int = BUCKET_CAP) -> tuple[np.ndarray, int]:
    """Unique packed pairs of row positions that the online index would propose: sharing a band of the main
    layout, or of a short-text layout with one side stored under it and the other looking it up (by shingle
    `counts`; dedup.candidates.layouts). Each (bands, rows) is banded once, over the rows it concerns."""
    parts: list[np.ndarray] = []
    capped = 0
    for (bands, rows), group in by_banding(layouts):
        positions = np.flatnonzero(eligible(group, counts))
        pairs, big = candidate_pairs(matrix[positions], bands, rows, cap)
        capped += big
        lo, hi = unpack(pairs)
        lo, hi = positions[lo], positions[hi]
        allowed = pair_allowed(group, counts[lo], counts[hi])
        parts.append(pack(lo[allowed], hi[allowed]))
    found = np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
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

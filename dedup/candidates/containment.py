"""Containment candidates: find a short text inside a long one, which Jaccard bands cannot.

A 200-character excerpt of a 4,000-character statement has Jaccard 0.04: no band of a
Jaccard index ever proposes it, yet its containment is near 1. Here every article is
also indexed by its *anchors*: the shingles whose hash falls in one residue class
(one in `rate`). Anchors are chosen by content, not position, so a passage two texts
share carries the same anchors in both, wherever it sits. A query counts, per stored
article, how many of its anchors it shares; shared / anchors of the smaller side
estimates the containment of the smaller text in the larger (either direction: an
excerpt asking for its source, or a long text asking for briefs it quotes). It is a
candidate filter only; the verdict is exact (dedup.decide.verify).

Anchors shared by very many articles (a site's stock phrase) are skipped at query time
and stop growing at insert time, so one hot phrase costs neither time nor memory.
The same interface runs in process and in Redis (several workers share one index).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from dedup.candidates.postings import add_posting, directory, merged_postings, pack, values_of
from dedup.sketch.native import _native  # the optional C accelerator, or None

# A build older than this module lacks the lookup: its Python path then runs.
_posting_hits = getattr(_native, "posting_hits", None)
_pick_contained = getattr(_native, "pick_contained", None)  # a build older than this module lacks it
_anchors = getattr(_native, "anchors", None)  # a build older than this module lacks it

# Anchors held by more articles than this are a stock phrase, not evidence.
HOT_ANCHOR = 100
# Estimated containment a candidate needs (MinHash-free: shared anchors / anchors of the smaller side).
MIN_ESTIMATE = 0.5
# Most containment candidates handed to exact verification per query, best estimate first.
MAX_CANDIDATES = 50
# Up to this many postings, a query's candidates are counted in plain Python (`_pick_few`).
_FEW_HITS = 256


def anchors(shingles: np.ndarray, rate: int, *, accelerated: bool = True) -> np.ndarray:
    """The shingle hashes (sorted, unique uint32) in the anchor residue class: about one in `rate` (none at
    rate 0: the containment path is off); in one C call when the extension is built."""
    if rate <= 0:
        return shingles[:0].astype(np.uint32, copy=False)
    if rate == 1:
        return shingles.astype(np.uint32, copy=False)
    if accelerated and _anchors is not None and shingles.dtype in (np.uint32, np.uint64):
        return np.frombuffer(_anchors(np.ascontiguousarray(shingles), rate), dtype=np.uint32)
    # The shingle hashes are already mixed (splitmix64); a multiplicative remix (wrapping uint32 arithmetic)
    # decouples the sample from MinHash's own use of the hashes.
    mixed = shingles.astype(np.uint32, copy=False) * np.uint32(0x9E3779B1)
    return shingles[(mixed >> np.uint32(16)) % np.uint32(rate) == 0].astype(np.uint32, copy=False)


def pick(query_count: int, shared: Counter[int], count_of: Callable[[list[int]], list[int]],
         limit: int = MAX_CANDIDATES) -> list[int]:
    """Candidate ids, best estimate first, from how many anchors each stored article shares with the query
    and `count_of` (the anchor counts of the given ids).

    One shared anchor is a coincidence unless the query has only one; half the smaller side's anchors
    shared is the bar (about containment 0.5, well below the decision's 0.75). Plain Python: a query
    touches tens to hundreds of postings, where numpy's per-call overhead would dominate.
    """
    need = min(2, query_count)
    ids = [i for i, n in shared.items() if n >= need]
    if not ids:
        return []
    found = []
    for article_id, count in zip(ids, count_of(ids)):
        smaller = min(query_count, count)
        if smaller and shared[article_id] >= MIN_ESTIMATE * smaller:
            found.append((-shared[article_id] / smaller, -shared[article_id], article_id))
    found.sort()
    return [article_id for *_, article_id in found[:limit]]


def pick_arrays(query_count: int, hits: np.ndarray, count_of: Callable[[np.ndarray], np.ndarray],
                limit: int = MAX_CANDIDATES) -> list[int]:
    """`pick` from the ids of the query's postings (one repeat per shared anchor) and every article's anchor
    count: the same ids in the same order."""
    if not len(hits):
        return []
    if len(hits) <= _FEW_HITS:
        return _pick_few(query_count, hits.tolist(), count_of, limit)
    ids, shared = np.unique(hits, return_counts=True)
    keep = shared >= min(2, query_count)
    ids, shared = ids[keep], shared[keep]
    if not len(ids):
        return []
    count = count_of(ids)
    smaller = np.minimum(query_count, count)
    keep = (smaller > 0) & (shared >= MIN_ESTIMATE * smaller)
    ids, shared, smaller = ids[keep], shared[keep], smaller[keep]
    order = np.lexsort((ids, -shared, -(shared / np.maximum(smaller, 1))))
    return ids[order[:limit]].tolist()


def _pick_few(query_count: int, hits: list[int], count_of: Callable[[np.ndarray], np.ndarray],
              limit: int) -> list[int]:
    """`pick_arrays` in plain Python for a query with few postings (most queries): there numpy's per-call
    overhead, a dozen small array operations, costs more than the counting."""
    shared = Counter(hits)
    need = min(2, query_count)
    ids = [i for i, n in shared.items() if n >= need]
    if not ids:
        return []
    found = []
    for article_id, count in zip(ids, count_of(np.array(ids, dtype=np.int64)).tolist()):
        smaller, n = min(query_count, count), shared[article_id]
        if smaller > 0 and n >= MIN_ESTIMATE * smaller:
            found.append((-(n / smaller), -n, article_id))
    found.sort()
    return [article_id for *_, article_id in found[:limit]]


class LocalContainmentIndex:
    """Anchor -> article ids in process, compact: most postings sit in two sorted numpy arrays (anchor,
    article id: 12 bytes a posting), the newest in a small dict that is merged into them once it holds a
    sixteenth as many (so each posting is re-sorted a bounded number of times, and the merge of two sorted
    runs is linear). A removed article's merged postings are skipped until the next merge drops them.
    An anchor found in more than HOT_ANCHOR articles at a merge becomes a stop anchor for good."""

    MERGE_MIN = 20_000

    def __init__(self, rate: int) -> None:
        self.rate = rate
        # Merged postings, sorted by anchor, with their ids and the anchor-prefix directory (dedup.candidates.postings),
        # replaced together in one assignment, so a lookup racing a merge reads one consistent set.
        empty = np.empty(0, dtype=np.uint32)
        self._merged: tuple[np.ndarray, np.ndarray, np.ndarray, np.unsignedinteger] = (
            empty, np.empty(0, dtype=np.int64), *directory(empty))
        # Every indexed article's anchor count, indexed by article id (the store's dense ids); -1: not indexed.
        self._count_of = np.full(1024, -1, dtype=np.int32)
        self._indexed = 0
        self._dead: set[int] = set()                    # articles whose merged postings no longer count
        self._hot: set[int] = set()                     # stop anchors
        # Recent postings: ints for one id, packed int64 bytes for more (no lists: not tracked by the GC).
        self._postings: dict[int, int | bytes] = {}
        self._recent: dict[int, np.ndarray] = {}       # recent articles' anchors (for removal and merging)
        self._recent_size = 0

    def insert(self, article_id: int, article_anchors: np.ndarray) -> None:
        self.remove(article_id)
        self._set_count(article_id, len(article_anchors))
        self._recent[article_id] = article_anchors
        self._recent_size += len(article_anchors)
        postings, hot = self._postings, self._hot
        keys = article_anchors.tolist()
        if hot:
            keys = [k for k in keys if k not in hot]
        if _native is not None:   # the band index's bucket insert, one table for every key
            _native.band_insert([postings] * len(keys), keys, article_id)
        else:
            self._insert_python(article_id, keys)
        if self._recent_size > max(self.MERGE_MIN, len(self._merged[0]) // 16):
            self.merge()

    def _insert_python(self, article_id: int, keys: list[int]) -> None:
        for anchor in keys:
            add_posting(self._postings, anchor, article_id)

    def _count(self, article_id: int) -> int:
        return int(self._count_of[article_id]) if 0 <= article_id < len(self._count_of) else -1

    def _set_count(self, article_id: int, count: int) -> None:
        if article_id < 0:
            raise ValueError(f"article ids are the store's, never negative: {article_id}")
        if article_id >= len(self._count_of):
            grown = np.full(max(2 * len(self._count_of), article_id + 1), -1, dtype=np.int32)
            grown[:len(self._count_of)] = self._count_of
            self._count_of = grown
        self._count_of[article_id] = count
        self._indexed += 1

    def _counts_of(self, ids: np.ndarray) -> np.ndarray:
        """Anchor counts of the given ids (0 for one not indexed)."""
        inside = ids < len(self._count_of)
        count = np.zeros(len(ids), dtype=np.int64)
        count[inside] = np.maximum(self._count_of[ids[inside]], 0)
        return count

    def insert_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None:
        """Bulk insert (a rebuild): straight into the sorted arrays, one merge, no per-anchor dict work."""
        for article_id, article_anchors in items:
            self.remove(article_id)
            self._set_count(article_id, len(article_anchors))
            self._recent[article_id] = article_anchors   # not in the recent dict: merged just below
        self.merge()

    def remove(self, article_id: int) -> None:
        if self._count(article_id) < 0:
            return
        self._count_of[article_id] = -1
        self._indexed -= 1
        old = self._recent.pop(article_id, None)
        if old is None:
            self._dead.add(article_id)
            return
        self._recent_size -= len(old)
        for anchor in old.tolist():
            bucket = self._postings.get(anchor)
            if bucket == article_id:
                del self._postings[anchor]
            elif isinstance(bucket, bytes):
                rest = [i for i in memoryview(bucket).cast("q") if i != article_id]
                self._postings[anchor] = rest[0] if len(rest) == 1 else pack(*rest)

    def merge(self) -> None:
        """Move the recent postings into the sorted arrays, dropping removed articles' and stop anchors'."""
        keys, ids = self._merged[:2]
        if self._dead:
            live = ~np.isin(ids, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
            keys, ids = keys[live], ids[live]
        new_keys, new_ids = keys[:0], ids[:0]
        if self._recent:
            new_keys = np.concatenate(list(self._recent.values())).astype(np.uint32, copy=False)
            new_ids = np.repeat(np.fromiter(self._recent, dtype=np.int64, count=len(self._recent)),
                                [len(a) for a in self._recent.values()])
            if self._hot:  # a stop anchor's new postings stay out: it is one for good
                fresh = ~np.isin(new_keys, np.fromiter(self._hot, dtype=np.uint32, count=len(self._hot)))
                new_keys, new_ids = new_keys[fresh], new_ids[fresh]
            order = np.argsort(new_keys, kind="stable")
            new_keys, new_ids = new_keys[order], new_ids[order]
        keys, ids, slots, shift, hot = merged_postings(keys, ids, new_keys, new_ids, hot_run=HOT_ANCHOR)
        if hot:
            self._hot.update(hot)
            keep = ~np.isin(keys, np.array(hot, dtype=keys.dtype))
            keys, ids = keys[keep], ids[keep]
            slots, shift = directory(keys)
        self._merged = (keys, ids, slots, shift)
        self._dead.clear()
        self._postings.clear()
        self._recent.clear()
        self._recent_size = 0

    def query(self, query_anchors: np.ndarray) -> list[int]:
        """Ids of stored articles that likely contain the query, or that the query likely contains.

        `pick`'s rule on arrays: a query's postings (up to HOT_ANCHOR per anchor, thousands when a corpus reuses
        its sentences) are counted in one np.unique instead of a Counter, so the lookup stays cheap as the
        postings of its anchors fill up."""
        keys = query_anchors.tolist()
        if self._hot:
            keys = [k for k in keys if k not in self._hot]
        wanted = np.array(keys, dtype=np.uint32) if len(keys) < len(query_anchors) else query_anchors
        recent = self._recent_hits(keys)
        if _pick_contained is not None and isinstance(recent, list):
            merged = self._merged_ids(wanted) if len(self._merged[0]) else b""
            return _pick_contained(recent, merged, self._count_of, len(query_anchors), MAX_CANDIDATES, MIN_ESTIMATE)
        hits = np.frombuffer(recent, dtype=np.int64) if isinstance(recent, memoryview) else \
            np.asarray(recent, dtype=np.int64)
        if len(self._merged[0]):
            hits = np.concatenate([hits, self._merged_ids(wanted)])
        return pick_arrays(len(query_anchors), hits, self._counts_of)

    def _recent_hits(self, keys: list[int]) -> list[int] | memoryview:
        """Ids in the recent buckets of the keys, with repeats (stock phrases skipped)."""
        if _native is not None and _posting_hits is not None:
            return _posting_hits(self._postings, keys, HOT_ANCHOR)
        found = [bucket for bucket in map(self._postings.get, keys) if bucket is not None]
        singles = [b for b in found if b.__class__ is int]
        packed = b"".join(b for b in found if b.__class__ is bytes and len(b) <= 8 * HOT_ANCHOR)
        return singles + list(memoryview(packed).cast("q"))

    def _merged_ids(self, query_anchors: np.ndarray) -> np.ndarray:
        """Ids in the merged postings of the query's anchors, with repeats (removed articles left out). No run
        there is longer than HOT_ANCHOR: a merge drops the longer ones and remembers them as stock phrases."""
        keys, ids, slots, shift = self._merged
        ids = values_of(keys, slots, shift, query_anchors, ids)
        if self._dead:
            ids = ids[~np.isin(ids, np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))]
        return ids

    def pairs(self) -> np.ndarray:
        """Every pair of indexed articles a query would propose, as [k, 2] ascending (lo, hi) ids: the whole
        corpus at once, for the re-cluster (pairs sharing at least two anchors, half the smaller side's)."""
        self.merge()
        keys, ids = self._merged[:2]
        if len(keys) < 2:
            return np.empty((0, 2), dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        runs = np.diff(np.r_[starts, len(keys)])
        packed = []
        for size in np.unique(runs[runs >= 2]).tolist():   # one vectorized step per run length
            first = starts[runs == size]
            i, j = np.triu_indices(size, 1)
            a, b = ids[first[:, None] + i], ids[first[:, None] + j]
            lo, hi = np.minimum(a, b).ravel(), np.maximum(a, b).ravel()
            packed.append((lo << 32) | hi)
        if not packed:
            return np.empty((0, 2), dtype=np.int64)
        pair_keys, shared = np.unique(np.concatenate(packed), return_counts=True)
        lo, hi = pair_keys >> 32, pair_keys & 0xFFFFFFFF
        members, where = np.unique(np.concatenate([lo, hi]), return_inverse=True)
        count = np.maximum(self._counts_of(members), 0).astype(np.int64)[where]
        smaller = np.minimum(count[:len(lo)], count[len(lo):])
        keep = (smaller > 0) & (shared >= np.minimum(2, smaller)) & (shared >= MIN_ESTIMATE * smaller)
        return np.stack([lo[keep], hi[keep]], axis=1)

    def ids(self) -> set[int]:
        return set(np.flatnonzero(self._count_of >= 0).tolist())

    def __len__(self) -> int:
        return self._indexed

    def memory_bytes(self) -> int:
        """Bytes held (arrays exactly; dicts and their objects estimated), for the benchmarks."""
        recent = sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in self._postings.items())
        recent += sum(a.nbytes + 112 for a in self._recent.values())
        per_article = self._count_of.nbytes
        return int(sum(a.nbytes for a in self._merged[:3]) + recent + per_article + sys.getsizeof(self._postings))


class RedisContainmentIndex:
    """The same index in Redis: a set of ids per anchor, each article's anchor count in one hash and its
    anchors (packed) under its own key for removal. Writes are one transaction; a query is three
    pipelined round trips (set sizes, members of the non-hot sets, anchor counts)."""

    def __init__(self, redis, prefix: str, rate: int) -> None:  # type: ignore[no-untyped-def]
        self.redis = redis
        self.rate = rate
        self._prefix = prefix
        self._counts = f"{prefix}:cx:count"

    def _key(self, anchor: int) -> str:
        return f"{self._prefix}:cx:a:{anchor}"

    def _doc(self, article_id: int) -> str:
        return f"{self._prefix}:cx:d:{article_id}"

    def insert(self, article_id: int, article_anchors: np.ndarray) -> None:
        self.insert_many([(article_id, article_anchors)])

    def insert_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None:
        items = list(items)
        if not items:
            return
        self._remove_all([i for i, _ in items])
        pipe = self.redis.pipeline(transaction=True)
        for article_id, article_anchors in items:
            for anchor in article_anchors.tolist():
                pipe.sadd(self._key(anchor), article_id)
            pipe.set(self._doc(article_id), article_anchors.astype(np.uint32).tobytes())
            pipe.hset(self._counts, article_id, len(article_anchors))
        pipe.execute()

    def remove(self, article_id: int) -> None:
        self._remove_all([article_id])

    def _remove_all(self, article_ids: list[int]) -> None:
        stored = self.redis.mget([self._doc(i) for i in article_ids])
        present = [(i, blob) for i, blob in zip(article_ids, stored) if blob is not None]
        if not present:
            return
        pipe = self.redis.pipeline(transaction=True)
        for article_id, blob in present:
            for anchor in np.frombuffer(blob, dtype=np.uint32).tolist():
                pipe.srem(self._key(anchor), article_id)
            pipe.delete(self._doc(article_id))
            pipe.hdel(self._counts, article_id)
        pipe.execute()

    def query(self, query_anchors: np.ndarray) -> list[int]:
        keys = [self._key(a) for a in query_anchors.tolist()]
        if not keys:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.scard(key)
        sizes = pipe.execute()
        live = [k for k, n in zip(keys, sizes) if 0 < n < HOT_ANCHOR]
        if not live:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for key in live:
            pipe.smembers(key)
        shared: Counter[int] = Counter(int(m) for bucket in pipe.execute() for m in bucket)
        return pick(len(query_anchors), shared,
                    lambda ids: [int(c or 0) for c in self.redis.hmget(self._counts, ids)])

    def ids(self) -> set[int]:
        return {int(k) for k in self.redis.hkeys(self._counts)}

    def __len__(self) -> int:
        return int(self.redis.hlen(self._counts))

"""An in-process LSH band index over uint32 MinHash signatures, in a few numpy arrays.

Same banding as datasketch's MinHashLSH (the (bands, rows) datasketch picks for the threshold), under each of the
layouts of dedup.candidates.layouts (one for every text, denser ones for short texts). Each band's rows are hashed,
with the band's number and its layout's family, to one 64-bit key; a posting is (key, row), where a row numbers the
article's place in the signature arrays that screening reads. Most postings sit in two sorted arrays (8 + 4
bytes a posting) found through a directory of key prefixes (8 to 16 postings a slot, so a lookup reads two
places per band, not a binary search through the whole array); the newest sit in a dict, merged into the arrays
once it holds a thirty-second as many. A removed article's row is skipped until the next merge drops its
postings and frees the row. The article id -> row map is an array indexed by id (the store's dense ids).

At a million articles this holds, per article: the signature (512 bytes) and shingle count (8), 37 postings
(444; 28 more for a text of at most 400 shingles), the directory (2-4) and the two maps (12), and up to a quarter
of unused rows; instead of a dict entry per band with their int objects (~2-3 KB).
A 64-bit key collision between two different bands' rows would only add a candidate, which screening and the
exact verification then judge (about one in 10^10 lookups at a million articles).
"""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np

from dedup.candidates.bound import strongest
from dedup.candidates.containment import LocalContainmentIndex
from dedup.candidates.layouts import BandLayout, as_layouts
from dedup.candidates.postings import add_posting, merged_postings, values_of
from dedup.candidates.screen import screen_order
from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.sketch.shingle import mix64

_posting_hits = getattr(_native, "posting_hits", None)
_one_signature_keys = getattr(_native, "band_keys", None)  # a build older than this module lacks it
_strongest_rows = getattr(_native, "strongest_rows", None)  # a build older than this module lacks it

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NO_CAP = 2**62
# Up to this many postings, a lookup counts its candidates in plain Python.
_FEW_HITS = 256  # posting_hits's bucket cap: none


def band_keys(values: np.ndarray, bands: int, rows: int, family: int = 0) -> np.ndarray:
    """One uint64 key per band of each signature (`values`: [perm] or [n, perm]; result [bands] or [n, bands]);
    layouts of different `family` never share a key (up to 64-bit collisions)."""
    v = values[..., : bands * rows].astype(np.uint64).reshape(*values.shape[:-1], bands, rows)
    h = np.arange(1 + 4096 * family, bands + 1 + 4096 * family, dtype=np.uint64) * _GOLDEN
    for j in range(rows):
        h = mix64(h ^ v[..., j])  # every input bit moves every output bit: the directory reads the top bits
    return h


def _keys_of_one(values: np.ndarray, layout: BandLayout) -> np.ndarray:
    """`band_keys` of one signature under one layout: the compiled loop when built (the same keys)."""
    if _one_signature_keys is not None and values.dtype == np.uint32 and values.ndim == 1:
        raw = _one_signature_keys(np.ascontiguousarray(values), layout.bands, layout.rows, layout.family)
        return np.frombuffer(raw, dtype=np.uint64)
    return band_keys(values, layout.bands, layout.rows, layout.family)


class BandIndex:
    shared = False
    MERGE_MIN = 100_000   # recent postings held in the dict before a merge, at least

    def __init__(self, num_perm: int, layouts: float | tuple[BandLayout, ...], anchor_rate: int = 16) -> None:
        """`layouts`: those of `dedup.candidates.layouts.band_layouts`, or one threshold for a single layout."""
        self.layouts = as_layouts(layouts, num_perm)
        self.bands, self.rows = self.layouts[0].bands, self.layouts[0].rows
        # Excerpts of long texts, which no Jaccard band proposes (dedup.candidates.containment).
        self.contained = LocalContainmentIndex(anchor_rate)
        # Merged postings: keys (sorted), their rows, the directory (prefix -> first posting) and the prefix
        # shift, replaced together in one assignment, so a lookup racing a merge reads one consistent set.
        self._merged: tuple[np.ndarray, np.ndarray, np.ndarray, np.unsignedinteger] = (
            np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint32), np.zeros(2, dtype=np.uint32), np.uint64(63))
        # Recent postings: a row as an int, several as packed int64 bytes (no lists: not tracked by the GC).
        self._recent: dict[int, int | bytes] = {}
        self._recent_rows: list[int] = []
        # The band keys (one array per layout) of the last signature seen: an article is looked up, then inserted,
        # with one signature.
        self._last_keys: tuple[tuple[bytes, str, tuple[int, ...]], list[np.ndarray]] | None = None
        # Signatures and shingle counts by row, so candidates are screened in one vectorized comparison.
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._sizes = np.zeros(1024, dtype=np.float64)
        self._id_of = np.full(1024, -1, dtype=np.int64)    # row -> article id; -1: free or removed
        self._row_of = np.full(1024, -1, dtype=np.int32)   # article id -> row; -1: not indexed
        self._next_row = 0
        self._free: list[int] = []    # rows without postings, to reuse
        self._dead: list[int] = []    # removed rows whose postings the next merge drops
        self._count = 0
        self.found = 0  # ids the last query found before its bound

    # -- rows ---------------------------------------------------------------------------------
    def _row(self, article_id: int) -> int:
        return int(self._row_of[article_id]) if 0 <= article_id < len(self._row_of) else -1

    def _store_row(self, article_id: int, values: np.ndarray, shingle_count: int) -> int:
        if article_id < 0:
            raise ValueError(f"article ids are the store's, never negative: {article_id}")
        if self._free:
            row = self._free.pop()
        else:
            row = self._next_row
            self._next_row += 1
            if row >= len(self._signatures):  # a quarter more: amortized, and at most a quarter unused
                grow = max(1024, len(self._signatures) // 4)
                self._signatures = np.concatenate([self._signatures,
                                                   np.zeros((grow, self._signatures.shape[1]), dtype=np.uint32)])
                self._sizes = np.concatenate([self._sizes, np.zeros(grow)])
                self._id_of = np.concatenate([self._id_of, np.full(grow, -1, dtype=np.int64)])
        if article_id >= len(self._row_of):
            grown = np.full(max(2 * len(self._row_of), article_id + 1), -1, dtype=np.int32)
            grown[:len(self._row_of)] = self._row_of
            self._row_of = grown
        self._signatures[row] = values
        self._sizes[row] = shingle_count
        self._id_of[row] = article_id
        self._row_of[article_id] = row
        self._count += 1
        self._recent_rows.append(row)
        return row

    # -- writes -------------------------------------------------------------------------------
    def insert(self, article_id: int, values: np.ndarray, shingle_count: int = 0, *, accelerated: bool = True) -> None:
        self.remove(article_id)
        row = self._store_row(article_id, values, shingle_count)
        keys = self._keys_of(values, [layout.stores(shingle_count) for layout in self.layouts]).tolist()
        if accelerated and _native is not None:
            _native.band_insert([self._recent] * len(keys), keys, row)
        else:
            for key in keys:
                add_posting(self._recent, key, row)
        if len(self._recent_rows) * self.bands > max(self.MERGE_MIN, len(self._merged[0]) // 32):
            self.merge()

    def insert_many(self, items: list[tuple[int, np.ndarray, int]]) -> None:
        """Bulk insert (a rebuild): straight into the sorted arrays, one merge, no per-band dict work."""
        for article_id, values, shingle_count in items:
            self.remove(article_id)
            self._store_row(article_id, values, shingle_count)
        self.merge()

    def remove(self, article_id: int) -> None:
        self.contained.remove(article_id)
        row = self._row(article_id)
        if row < 0:
            return
        self._row_of[article_id] = -1
        self._id_of[row] = -1
        self._dead.append(row)
        self._count -= 1

    def merge(self) -> None:
        """Move the recent postings into the sorted arrays, dropping removed rows' postings (their rows are
        free again), and rebuild the directory."""
        keys, post, _, _ = self._merged
        if self._dead and len(post):
            live = self._id_of[post] >= 0
            keys, post = keys[live], post[live]
        rows = np.array([r for r in self._recent_rows if self._id_of[r] >= 0], dtype=np.uint32)
        new_keys, new_post = self._postings_of(rows) if len(rows) else (keys[:0], post[:0])
        order = np.argsort(new_keys, kind="stable")
        self._merged = merged_postings(keys, post, new_keys[order], new_post[order])[:4]
        self._free += self._dead
        self._dead.clear()
        self._recent.clear()
        self._recent_rows.clear()

    # -- reads --------------------------------------------------------------------------------
    def query(self, values: np.ndarray, *, shingle_count: int | None = None, accelerated: bool = True,
              limit: int | None = None) -> list[int]:
        """Sorted ids sharing at least one band with `values` (a text of `shingle_count` shingles: it decides which
        layouts it looks up; unknown: the main one only); with `limit`, at most that many: those sharing the most
        bands (dedup.candidates.bound). `found` keeps how many shared one before the bound, for the benchmarks."""
        keys = self._keys_of(values, [layout.queries(shingle_count) for layout in self.layouts])
        if accelerated and _strongest_rows is not None:
            return self._query_compiled(keys, limit)
        parts = []
        merged, post, slots, shift = self._merged
        if len(merged):
            parts.append(values_of(merged, slots, shift, keys, post, accelerated=accelerated))
        if self._recent:
            parts.append(self._recent_hits(keys.tolist(), accelerated))
        rows = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        ids = self._id_of[rows]
        if len(ids) <= _FEW_HITS:
            return self._strongest_few(ids.tolist(), limit)
        found, shared = np.unique(ids[ids >= 0], return_counts=True)
        self.found = len(found)
        return strongest(found, shared, limit)

    def _query_compiled(self, keys: np.ndarray, limit: int | None) -> list[int]:
        """`query` in three C calls (recent buckets, merged postings, count and bound): the same ids."""
        assert _posting_hits is not None and _strongest_rows is not None
        merged, post, slots, shift = self._merged
        recent = _posting_hits(self._recent, keys.tolist(), _NO_CAP) if self._recent else []
        hits = values_of(merged, slots, shift, keys, post) if len(merged) else b""
        self.found, ids = _strongest_rows(recent, hits, self._id_of, -1 if limit is None else limit)
        return ids

    def _strongest_few(self, ids: list[int], limit: int | None) -> list[int]:
        """`query`'s count in plain Python for a few postings (most queries): numpy's per-call overhead would
        cost more than the counting. The same ids as `strongest`."""
        shared = Counter(i for i in ids if i >= 0)
        found = sorted(shared)
        self.found = len(found)
        if limit is not None and len(found) > limit:
            found = sorted(sorted(found, key=lambda i: (-shared[i], -i))[:limit])
        return found

    def _keys_of(self, values: np.ndarray, wanted: list[bool]) -> np.ndarray:
        """The band keys of one signature under the `wanted` layouts; all layouts' keys are remembered for the
        next call (the insert after the lookup)."""
        seen = (values.tobytes(), values.dtype.str, values.shape)
        last = self._last_keys  # read once: another thread may replace it meanwhile
        if last is not None and last[0] == seen:
            keys = last[1]
        else:
            keys = [_keys_of_one(values, layout) for layout in self.layouts]
            self._last_keys = (seen, keys)
        chosen = [layout_keys for want, layout_keys in zip(wanted, keys) if want]
        return chosen[0] if len(chosen) == 1 else np.concatenate(chosen)

    def _postings_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, row) postings of the given rows under every layout that stores them (by their shingle counts)."""
        keys, post = [], []
        for layout in self.layouts:
            kept = rows[layout.stored(self._sizes[rows])]
            keys.append(band_keys(self._signatures[kept], layout.bands, layout.rows, layout.family).ravel())
            post.append(np.repeat(kept, layout.bands))
        return np.concatenate(keys), np.concatenate(post)

    def _recent_hits(self, keys: list[int], accelerated: bool) -> np.ndarray:
        """Rows in the recent buckets of the keys, with repeats."""
        if accelerated and _posting_hits is not None:
            return np.asarray(_posting_hits(self._recent, keys, _NO_CAP), dtype=np.int64)
        found = [bucket for bucket in map(self._recent.get, keys) if bucket is not None]
        singles = [b for b in found if b.__class__ is int]
        packed = b"".join(b for b in found if b.__class__ is bytes)
        return np.concatenate([np.asarray(singles, dtype=np.int64), np.frombuffer(packed, dtype=np.int64)])

    def screen(self, values: np.ndarray, ids: list[int], shingle_count: int, j_min: float,
               c_min: float) -> list[int]:
        """The ids worth verifying against `values`, best estimate first (see dedup.candidates.screen); ids no
        longer indexed (a lookup may race a delete) are left out."""
        wanted = np.asarray(ids, dtype=np.int64)
        inside = (wanted >= 0) & (wanted < len(self._row_of))
        rows = np.full(len(wanted), -1, dtype=np.int64)
        rows[inside] = self._row_of[wanted[inside]]
        present = rows >= 0
        kept, rows = wanted[present].tolist(), rows[present].tolist()
        order = screen_order(self._signatures, self._sizes, rows, values, shingle_count, j_min, c_min)
        return [kept[k] for k in order]

    def mark_complete(self) -> None:
        """Nothing to mark: this index lives and dies with the process that filled it."""

    def __contains__(self, article_id: int) -> bool:
        return self._row(article_id) >= 0

    def __len__(self) -> int:
        return self._count

    def ids(self) -> set[int]:
        return set(np.flatnonzero(self._row_of >= 0).tolist())

    def memory_bytes(self) -> int:
        """Bytes held (arrays exactly, the recent dict estimated), containment index included, for the
        benchmarks."""
        arrays = (*self._merged[:3], self._signatures, self._sizes, self._id_of, self._row_of)
        recent = sys.getsizeof(self._recent) + sum(sys.getsizeof(k) + sys.getsizeof(v)
                                                   for k, v in self._recent.items())
        return int(sum(a.nbytes for a in arrays) + recent + 36 * len(self._recent_rows)
                   + self.contained.memory_bytes())

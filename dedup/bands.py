"""An in-process LSH band index over uint32 MinHash signatures.

Same banding as datasketch's MinHashLSH (the (bands, rows) datasketch picks for the
threshold), but the band keys of a signature are byte slices of one buffer and kept in
plain dicts: insert plus query cost a few microseconds instead of a Python call
per band, which matters at thousands of articles per second. The Redis-shared index
stays datasketch's (dedup.index).
"""

from __future__ import annotations

import struct

import numpy as np
from datasketch.lsh import _optimal_param

from .bound import hits_of, strongest
from .contain import LocalContainmentIndex
from .screen import screen_order

try:
    from . import _native
except ImportError:  # pragma: no cover - built without a compiler
    _native = None


def _pack(*ids: int) -> bytes:
    return struct.pack(f"{len(ids)}q", *ids)


def _unpack(bucket: bytes) -> memoryview:
    return memoryview(bucket).cast("q")


class BandIndex:
    shared = False

    def __init__(self, num_perm: int, threshold: float, anchor_rate: int = 16) -> None:
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)
        # Excerpts of long texts, which no Jaccard band proposes (dedup.contain).
        self.contained = LocalContainmentIndex(anchor_rate)
        self._tables: list[dict[int | bytes, int | bytes]] = [{} for _ in range(self.bands)]
        # Signatures and shingle counts in contiguous arrays, so candidates are screened in one
        # vectorized comparison instead of one Python object each.
        self._rows: dict[int, int] = {}
        self._free: list[int] = []
        self._signatures = np.zeros((1024, num_perm), dtype=np.uint32)
        self._sizes = np.zeros(1024, dtype=np.float64)
        self.found = 0  # ids the last query found before its bound

    def _band_keys(self, values: np.ndarray) -> list[int] | list[bytes]:
        """Each band's rows as one exact key (no collisions): an int when they fit in 64 bits, else bytes."""
        band = values[: self.bands * self.rows].astype(np.uint32, copy=False)
        if self.rows <= 2:
            return (band.view(np.uint64) if self.rows == 2 else band).tolist()
        raw = band.tobytes()
        width = 4 * self.rows
        return [raw[i:i + width] for i in range(0, len(raw), width)]

    def insert(self, article_id: int, values: np.ndarray, shingle_count: int = 0, *, accelerated: bool = True) -> None:
        self.remove(article_id)
        self._store_row(article_id, values, shingle_count)
        if accelerated and _native is not None:
            _native.band_insert(self._tables, self._band_keys(values), article_id)
            return
        for table, key in zip(self._tables, self._band_keys(values)):
            bucket = table.get(key)
            # Buckets are ints (most hold one id) or packed int64 bytes, never lists or tuples: a dict holding
            # only such values is not tracked by the garbage collector, so collections do not walk the index.
            if bucket is None:
                table[key] = article_id
            elif isinstance(bucket, int):
                table[key] = _pack(bucket, article_id)
            else:
                table[key] = bucket + _pack(article_id)

    def _store_row(self, article_id: int, values: np.ndarray, shingle_count: int) -> None:
        if self._free:
            row = self._free.pop()
        else:
            row = len(self._rows)
            if row >= len(self._signatures):
                self._signatures = np.concatenate([self._signatures, np.zeros_like(self._signatures)])
                self._sizes = np.concatenate([self._sizes, np.zeros_like(self._sizes)])
        self._signatures[row] = values
        self._sizes[row] = shingle_count
        self._rows[article_id] = row

    def screen(self, values: np.ndarray, ids: list[int], shingle_count: int, j_min: float,
               c_min: float) -> list[int]:
        """The ids worth verifying against `values`, best estimate first (see dedup.screen); ids no
        longer indexed (a lookup may race a delete) are left out."""
        order = screen_order(self._signatures, self._sizes, ids, values, shingle_count, j_min, c_min,
                             row_of=self._rows)
        return [ids[k] for k in order]

    def remove(self, article_id: int) -> None:
        self.contained.remove(article_id)
        row = self._rows.pop(article_id, None)
        if row is None:
            return
        self._free.append(row)
        for table, key in zip(self._tables, self._band_keys(self._signatures[row])):
            bucket = table.get(key)
            if bucket == article_id:
                del table[key]
            elif isinstance(bucket, bytes):
                rest = [i for i in _unpack(bucket) if i != article_id]
                table[key] = rest[0] if len(rest) == 1 else _pack(*rest)

    def query(self, values: np.ndarray, *, accelerated: bool = True, limit: int | None = None) -> list[int]:
        """Sorted ids sharing at least one band with `values` (one C call when the accelerator is built); with
        `limit`, at most that many: those sharing the most bands (dedup.bound). `found` keeps how many shared
        one before the bound, for the benchmarks."""
        keys = self._band_keys(values)
        if accelerated and _native is not None:
            found = _native.band_query(self._tables, keys)
        else:
            found = sorted(set(hits_of(map(dict.get, self._tables, keys)).tolist()))
        self.found = len(found)
        if limit is None or len(found) <= limit:
            return found
        return strongest(hits_of(map(dict.get, self._tables, keys)), limit)

    def mark_complete(self) -> None:
        """Nothing to mark: this index lives and dies with the process that filled it."""

    def __contains__(self, article_id: int) -> bool:
        return article_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def ids(self) -> set[int]:
        return set(self._rows)

    def insert_many(self, items: list[tuple[int, np.ndarray, int]]) -> None:
        for article_id, values, shingle_count in items:
            self.insert(article_id, values, shingle_count)

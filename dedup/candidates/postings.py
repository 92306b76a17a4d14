"""Postings kept the way both in-process indexes keep them: (key, value) pairs in two key-sorted arrays, found
through a directory of key prefixes, plus a small dict of the newest postings merged into the arrays now and then.

A binary search through the whole array touches ~20 cache lines a key once the index is larger than the
processor's caches (tens of microseconds a lookup at a million articles); the directory (one slot per ~8-16
postings) touches two. The band index (dedup.candidates.bands) keys by 64-bit band hashes, the containment index
(dedup.candidates.containment) by 32-bit anchors.
"""

from __future__ import annotations

import struct

import numpy as np

from dedup.sketch.native import _native  # the optional C accelerator, or None

_posting_values = getattr(_native, "posting_values", None)  # a build older than this module lacks it
_merge_postings = getattr(_native, "merge_postings", None)  # a build older than this module lacks it

SLOT = 8   # postings per directory slot, at least (8 to 16)


def pack(*ids: int) -> bytes:
    return struct.pack(f"{len(ids)}q", *ids)


def add_posting(postings: dict, key: int, value: int) -> None:
    """Add `value` to the bucket of `key`. Buckets are ints (most hold one id) or packed int64 bytes, never lists:
    a dict holding only such values is not tracked by the garbage collector, so collections do not walk it."""
    bucket = postings.get(key)
    if bucket is None:
        postings[key] = value
    elif bucket.__class__ is int:
        postings[key] = pack(bucket, value)
    else:
        postings[key] = bucket + pack(value)


def merge_sorted(keys: np.ndarray, values: np.ndarray, new_keys: np.ndarray,
                 new_values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two key-sorted runs of postings as one, in one pass (what a stable sort of the concatenation gives: among
    equal keys the old postings first). A stable argsort of the whole index and two gathers through it cost
    three to five times as much, and a merge runs once every few thousand articles over every posting."""
    if not len(new_keys):
        return keys, values
    at = np.searchsorted(keys, new_keys, side="right") + np.arange(len(new_keys))
    old = np.ones(len(keys) + len(new_keys), dtype=bool)
    old[at] = False
    merged_keys = np.empty(len(old), dtype=np.result_type(keys, new_keys))
    merged_values = np.empty(len(old), dtype=np.result_type(values, new_values))
    merged_keys[old], merged_keys[at] = keys, new_keys
    merged_values[old], merged_values[at] = values, new_values
    return merged_keys, merged_values


def directory(keys: np.ndarray) -> tuple[np.ndarray, np.unsignedinteger]:
    """For sorted unsigned `keys`: the first posting of each key prefix (`directory[p]` to `directory[p + 1]`
    holds the keys whose top bits are p) and the shift (of the keys' type) that gives a key's prefix."""
    width = keys.dtype.itemsize * 8
    bits = _directory_bits(len(keys), width)
    shift = keys.dtype.type(width - bits)
    prefixes = keys >> shift
    if prefixes.dtype == np.uint64:  # below 2**63 (shifted by at least one bit): a view, not a copy
        prefixes = prefixes.view(np.int64)
    counts = np.bincount(prefixes, minlength=2**bits)
    offsets = np.uint32 if len(keys) < 2**32 else np.int64
    return np.concatenate([[0], np.cumsum(counts)]).astype(offsets), shift


def hot_keys(keys: np.ndarray, most: int) -> np.ndarray:
    """The keys of sorted `keys` that hold more than `most` postings."""
    if not len(keys):
        return keys[:0]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    runs = np.diff(np.r_[starts, len(keys)])
    return keys[starts[runs > most]]


def merged_postings(keys: np.ndarray, values: np.ndarray, new_keys: np.ndarray, new_values: np.ndarray, *,
                    hot_run: int = 0, accelerated: bool = True,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.unsignedinteger, list[int]]:
    """`merge_sorted` and the `directory` of the result, in one compiled pass when the extension is built (a
    merge walks every posting of the index; numpy's three passes cost ~4x as much), and with `hot_run` the keys
    holding more than that many postings (`hot_keys`). The new run is cast to the old run's types."""
    new_keys = new_keys.astype(keys.dtype, copy=False)
    new_values = new_values.astype(values.dtype, copy=False)
    total = len(keys) + len(new_keys)
    if not accelerated or _merge_postings is None or total >= 2**32:
        keys, values = merge_sorted(keys, values, new_keys, new_values)
        hot = hot_keys(keys, hot_run).tolist() if hot_run > 0 else []
        return keys, values, *directory(keys), hot
    width = keys.dtype.itemsize * 8
    bits = _directory_bits(total, width)
    out_keys, out_values = np.empty(total, dtype=keys.dtype), np.empty(total, dtype=values.dtype)
    slots = np.zeros(2**bits + 1, dtype=np.uint32)
    hot = _merge_postings(np.ascontiguousarray(keys), np.ascontiguousarray(values), np.ascontiguousarray(new_keys),
                          np.ascontiguousarray(new_values), out_keys, out_values, slots, width - bits, hot_run)
    return out_keys, out_values, slots, keys.dtype.type(width - bits), hot


def _directory_bits(count: int, width: int) -> int:
    """Prefix bits of the directory of `count` postings: about SLOT postings a slot."""
    return min(width - 1, max(1, int(np.log2(max(count, 1) / SLOT))))


def gather(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Every position of the runs [start, start + size), in one array."""
    firsts = np.cumsum(sizes) - sizes
    return np.repeat(starts - firsts, sizes) + np.arange(int(sizes.sum()))


def find(keys: np.ndarray, slots: np.ndarray, shift: np.unsignedinteger, wanted: np.ndarray) -> np.ndarray:
    """Positions in `keys` (sorted, with their `directory`) of every posting whose key is in `wanted` (same type)."""
    prefix = (wanted >> shift).astype(np.int64)
    starts = slots[prefix].astype(np.int64)
    sizes = slots[prefix + 1].astype(np.int64) - starts
    positions = gather(starts, sizes)
    return positions[keys[positions] == np.repeat(wanted, sizes)]


def values_of(keys: np.ndarray, slots: np.ndarray, shift: np.unsignedinteger, wanted: np.ndarray,
              values: np.ndarray, *, accelerated: bool = True) -> np.ndarray:
    """The int64 `values` of every posting `find` finds (a lookup: the band rows or the article ids), in one C
    call when the extension is built; the numpy steps cost ~20 us a lookup in temporaries alone."""
    if accelerated and _posting_values is not None and values.dtype in _NATIVE_VALUES:
        return np.frombuffer(_posting_values(keys, slots, int(shift), wanted.astype(keys.dtype, copy=False),
                                             values), dtype=np.int64)
    return values[find(keys, slots, shift, wanted)].astype(np.int64, copy=False)


_NATIVE_VALUES = (np.dtype(np.uint32), np.dtype(np.int64))

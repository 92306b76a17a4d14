"""The in-process band index finds exactly what datasketch's MinHashLSH finds, and screens by estimate."""

from __future__ import annotations

import numpy as np
from datasketch import MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from dedup.candidates.bands import BandIndex, _keys_of_one, band_keys
from dedup.candidates.layouts import BandLayout
from dedup.config import SignatureConfig
from dedup.sketch.signature import as_lean_minhash
from tests.conftest import needs_native

SIG = SignatureConfig()


def _signatures(count: int, seed: int = 7) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**32, size=SIG.num_perm, dtype=np.uint32)
    out = {}
    for i in range(count):
        values = base.copy()
        flip = rng.random(SIG.num_perm) < i / count
        values[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint32)
        out[i + 1] = values
    return out


def test_band_index_returns_the_same_candidates_as_datasketch():
    signatures = _signatures(60)
    ours = BandIndex(SIG.num_perm, 0.2)
    theirs = MinHashLSH(threshold=0.2, num_perm=SIG.num_perm)
    assert (ours.bands, ours.rows) == (theirs.b, theirs.r)
    for i, values in signatures.items():
        ours.insert(i, values, 100)
        theirs.insert(i, as_lean_minhash(values, SIG))
    for i in range(1, 61, 7):  # copies fill buckets with several ids; removals empty some again
        ours.insert(1000 + i, signatures[i], 100, accelerated=i % 2 == 0)  # both insert paths, one layout
        theirs.insert(1000 + i, as_lean_minhash(signatures[i], SIG))
    for i in (2, 9, 1008):
        ours.remove(i)
        theirs.remove(i)
    for values in signatures.values():
        expected = sorted(theirs.query(as_lean_minhash(values, SIG)))
        assert ours.query(values) == expected == ours.query(values, accelerated=False)


def test_removed_ids_are_not_returned_and_rows_are_reused():
    signatures = _signatures(10)
    index = BandIndex(SIG.num_perm, 0.2)
    for i, values in signatures.items():
        index.insert(i, values, 50)
    index.remove(1)
    assert 1 not in index.query(signatures[1]) and 1 not in index
    index.insert(99, signatures[1], 50)
    assert 99 in index.query(signatures[1]) and len(index) == 10


def test_screen_puts_the_closest_signature_first_and_skips_removed_ids():
    rng = np.random.default_rng(3)
    signatures = {i: rng.integers(0, 2**32, size=SIG.num_perm, dtype=np.uint32) for i in (1, 3, 4)}
    signatures[2] = signatures[1].copy()
    signatures[2][:64] = 0  # half the values differ: estimated Jaccard 0.5
    index = BandIndex(SIG.num_perm, 0.2)
    for i, values in signatures.items():
        index.insert(i, values, 100)
    index.remove(4)
    order = index.screen(signatures[1], [3, 2, 1, 4], 100, 0.45, 0.45)
    assert order == [1, 2]  # 4 was removed meanwhile; 3 shares almost nothing and is not worth verifying


def test_merged_arrays_answer_as_datasketch_through_removals_updates_and_merges():
    """The compact (merged) postings and the recent dict answer alike: removed ids stay gone, an updated id is
    found by its new signature only, and a freed row serves a new article once a merge dropped its postings."""
    signatures = _signatures(80, seed=11)
    ours = BandIndex(SIG.num_perm, 0.2)
    ours.MERGE_MIN = 300  # a merge every dozen inserts
    theirs = MinHashLSH(threshold=0.2, num_perm=SIG.num_perm)
    ours.insert_many([(i, v, 100) for i, v in list(signatures.items())[:30]])
    for i, values in list(signatures.items())[:30]:
        theirs.insert(i, as_lean_minhash(values, SIG))
    for i, values in list(signatures.items())[30:]:
        ours.insert(i, values, 100, accelerated=i % 2 == 0)
        theirs.insert(i, as_lean_minhash(values, SIG))
    for i in range(1, 80, 4):
        ours.remove(i)
        theirs.remove(i)
    for i in range(2, 80, 9):  # updates: the id's new text is another's
        ours.insert(i, signatures[i + 1], 100)
        if i in theirs.keys:
            theirs.remove(i)
        theirs.insert(i, as_lean_minhash(signatures[i + 1], SIG))
    assert len(ours._merged[0]) > 0 and ours.ids() == set(theirs.keys.keys()) and len(ours) == len(ours.ids())
    for _ in range(2):
        for values in signatures.values():
            expected = sorted(theirs.query(as_lean_minhash(values, SIG)))
            assert ours.query(values) == expected == ours.query(values, accelerated=False)
        ours.merge()  # everything merged: the same answers, and the removed rows are free again
    rows = ours._next_row
    ours.insert(500, signatures[5], 100)
    assert ours._next_row == rows and 500 in ours.query(signatures[5])


def test_index_memory_per_article_stays_compact():
    """Signature, shingle count and postings in arrays: under 1.1 KB an article once merged (bands 28 x 2)."""
    rng = np.random.default_rng(2)
    index = BandIndex(SIG.num_perm, 0.2, anchor_rate=0)
    count = 20_000
    index.insert_many([(i, rng.integers(0, 2**32, SIG.num_perm, dtype=np.uint32), 300) for i in range(1, count + 1)])
    assert index.memory_bytes() / count < 1100


@given(st.lists(st.integers(0, 40), max_size=60), st.lists(st.integers(0, 40), max_size=60))
def test_merging_two_sorted_runs_gives_what_a_stable_sort_gives(old, new):
    """The one-pass merge of the in-process indexes: every posting kept, keys sorted, and among equal keys the
    postings in the order they arrived (old before new), so lookups answer as a full re-sort would."""
    from dedup.candidates.postings import merge_sorted

    keys, new_keys = np.array(sorted(old), dtype=np.uint64), np.array(sorted(new), dtype=np.uint64)
    values, new_values = np.arange(len(keys), dtype=np.uint32), np.arange(100, 100 + len(new_keys), dtype=np.uint32)
    merged_keys, merged_values = merge_sorted(keys, values, new_keys, new_values)
    order = np.argsort(np.concatenate([keys, new_keys]), kind="stable")
    assert merged_keys.tolist() == np.concatenate([keys, new_keys])[order].tolist()
    assert merged_values.tolist() == np.concatenate([values, new_values])[order].tolist()


@given(st.lists(st.integers(0, 2**32 - 1), max_size=300), st.lists(st.integers(0, 2**32 - 1), max_size=20),
       st.sampled_from([np.uint32, np.uint64]))
def test_the_prefix_directory_finds_every_posting_of_the_wanted_keys(stored, extra, dtype):
    """Lookups read the slots of a prefix directory instead of binary-searching the whole array: they must still
    find every posting of a wanted key, and nothing else."""
    from dedup.candidates.postings import directory, find

    scale = 1 if dtype is np.uint32 else 2**32 - 1   # 64-bit keys spread over the whole range
    keys = np.sort(np.array(stored, dtype=np.uint64) * np.uint64(scale)).astype(dtype)
    wanted = np.unique(np.concatenate([keys[::3], np.array(extra, dtype=np.uint64) * np.uint64(scale)]).astype(dtype))
    slots, shift = directory(keys)
    found = find(keys, slots, shift, wanted)
    assert sorted(found.tolist()) == [i for i, k in enumerate(keys.tolist()) if k in set(wanted.tolist())]


@needs_native
@given(st.lists(st.integers(0, 2**32 - 1), max_size=300), st.lists(st.integers(0, 2**32 - 1), max_size=20),
       st.sampled_from([np.uint32, np.uint64]), st.sampled_from([np.uint32, np.int64]))
def test_the_compiled_lookup_returns_the_values_the_numpy_lookup_returns(stored, extra, dtype, value_type):
    """Band rows (uint32) and article ids (int64) of the wanted keys' postings, repeats and order included, from
    the one C call as from the numpy reference, for 32- and 64-bit keys."""
    from dedup.candidates.postings import directory, values_of

    scale = 1 if dtype is np.uint32 else 2**32 - 1
    keys = np.sort(np.array(stored, dtype=np.uint64) * np.uint64(scale)).astype(dtype)
    values = np.arange(len(keys), dtype=value_type)[::-1].copy()
    wanted = np.concatenate([keys[::3], np.array(extra, dtype=np.uint64).astype(dtype) * dtype(scale)]).astype(dtype)
    slots, shift = directory(keys)
    compiled = values_of(keys, slots, shift, wanted, values)
    reference = values_of(keys, slots, shift, wanted, values, accelerated=False)
    assert compiled.dtype == reference.dtype == np.int64
    assert compiled.tolist() == reference.tolist()


@needs_native
@given(st.lists(st.integers(0, 60), max_size=400), st.lists(st.integers(0, 60), max_size=120),
       st.sampled_from([np.uint32, np.uint64]), st.sampled_from([np.uint32, np.int64]), st.sampled_from([0, 2, 5]),
       st.booleans())
def test_the_compiled_merge_gives_the_numpy_merge_its_directory_and_stock_keys(old, new, dtype, value_type, hot_run,
                                                                             spread):
    """A merge of the in-process indexes in one C pass: the same postings in the same order (old before new among
    equal keys), the same prefix directory, and the same keys over `hot_run` postings (the containment index's
    stock phrases) as numpy's merge, directory and run count; for 32- and 64-bit keys, row and id values."""
    from dedup.candidates.postings import merged_postings

    scale = (2**32 - 1) // 60 if dtype is np.uint32 else (2**64 - 1) // 60 if spread else 1
    keys = (np.array(sorted(old), dtype=np.uint64) * np.uint64(scale if spread else 1)).astype(dtype)
    new_keys = (np.array(sorted(new), dtype=np.uint64) * np.uint64(scale if spread else 1)).astype(dtype)
    values = np.arange(len(keys), dtype=value_type)
    new_values = np.arange(1000, 1000 + len(new_keys), dtype=value_type)
    compiled = merged_postings(keys, values, new_keys, new_values, hot_run=hot_run)
    reference = merged_postings(keys, values, new_keys, new_values, hot_run=hot_run, accelerated=False)
    for got, expected in zip(compiled[:3], reference[:3]):
        assert got.dtype == expected.dtype and got.tolist() == expected.tolist()
    assert compiled[3] == reference[3] and compiled[3].dtype == reference[3].dtype
    assert sorted(compiled[4]) == sorted(reference[4])
    if hot_run:
        counts = {k: (keys == k).sum() + (new_keys == k).sum() for k in set(keys.tolist()) | set(new_keys.tolist())}
        assert sorted(compiled[4]) == sorted(k for k, n in counts.items() if n > hot_run)


@needs_native
@given(st.lists(st.integers(0, 2**32 - 1), min_size=128, max_size=128),
       st.sampled_from([(37, 3, 0), (28, 2, 1), (28, 2, 2), (128, 1, 0), (16, 8, 7)]))
def test_compiled_band_keys_are_the_numpy_reference(values, layout):
    signature = np.array(values, dtype=np.uint32)
    bands, rows, family = layout
    assert np.array_equal(_keys_of_one(signature, BandLayout(bands, rows, family)),
                          band_keys(signature, bands, rows, family))


@needs_native
@given(st.lists(st.integers(0, 2**64 - 1), max_size=400, unique=True), st.sampled_from([np.uint32, np.uint64]),
       st.sampled_from([2, 3, 16, 64]))
def test_compiled_anchors_are_the_numpy_reference(hashes, dtype, rate):
    """The containment anchors of a shingle set, from the one C call as from numpy: the same hashes, in order,
    as uint32 (64-bit shingle hashes taken by their low 32 bits, as numpy's cast takes them)."""
    from dedup.candidates.containment import anchors

    shingles = np.array([h & 0xFFFFFFFF if dtype is np.uint32 else h for h in hashes], dtype=dtype)
    compiled, reference = anchors(shingles, rate), anchors(shingles, rate, accelerated=False)
    assert compiled.dtype == reference.dtype == np.uint32
    assert compiled.tolist() == reference.tolist()

"""The in-process band index finds exactly what datasketch's MinHashLSH finds, and screens by estimate."""

from __future__ import annotations

import numpy as np
from datasketch import MinHashLSH

from dedup.bands import BandIndex
from dedup.config import SignatureConfig
from dedup.signature import as_lean_minhash

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
    for values in signatures.values():
        assert ours.query(values) == sorted(theirs.query(as_lean_minhash(values, SIG)))


def test_removed_ids_are_not_returned_and_rows_are_reused():
    signatures = _signatures(10)
    index = BandIndex(SIG.num_perm, 0.2)
    for i, values in signatures.items():
        index.insert(i, values, 50)
    index.remove(1)
    assert 1 not in index.query(signatures[1]) and 1 not in index
    index.insert(99, signatures[1], 50)
    assert 99 in index.query(signatures[1]) and len(index) == 10


def test_estimates_are_the_share_of_equal_values():
    signatures = _signatures(5)
    index = BandIndex(SIG.num_perm, 0.2)
    for i, values in signatures.items():
        index.insert(i, values, 10 * i)
    index.remove(4)
    ids, jaccard, sizes = index.estimates(signatures[1], [1, 2, 3, 4])
    assert ids == [1, 2, 3]  # 4 was removed meanwhile
    assert jaccard[0] == 1.0 and list(sizes) == [10.0, 20.0, 30.0]
    expected = [(signatures[k] == signatures[1]).mean() for k in (1, 2, 3)]
    assert np.allclose(jaccard, expected)

"""MinHash signatures with datasketch's affine32 scheme, computed for many shingles at once.

The values equal what `datasketch.MinHash(num_perm, seed, scheme="affine32",
hashfunc=identity).update_batch(hashes)` gives (a test checks it), so signatures
can go straight into a datasketch `MinHashLSH`; we only skip building a Python
object per shingle.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from datasketch import LeanMinHash, MinHash
from datasketch.minhash import _fmix

from dedup.config import SignatureConfig
from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.sketch.shingle import shingle_hashes
from dedup.text.compiled_fold import sign_enabled

_EMPTY = np.empty(0, dtype=np.uint32)


@lru_cache(maxsize=8)
def permutations(config: SignatureConfig) -> tuple[np.ndarray, np.ndarray]:
    a, b = MinHash(num_perm=config.num_perm, seed=config.seed, scheme=config.scheme).permutations
    return a.reshape(-1, 1), b.reshape(-1, 1)


@lru_cache(maxsize=8)
def _permutation_bytes(config: SignatureConfig) -> tuple[bytes, bytes]:
    a, b = permutations(config)
    return a.astype(np.uint32).tobytes(), b.astype(np.uint32).tobytes()


def minhash_values(shingles: np.ndarray, config: SignatureConfig, *, accelerated: bool = True) -> np.ndarray:
    """uint32 signature of a non-empty shingle hash set."""
    if len(shingles) == 0:
        raise ValueError("an empty shingle set has no signature; reject empty texts before signing")
    if accelerated and _native is not None:
        a_bytes, b_bytes = _permutation_bytes(config)
        return np.frombuffer(_native.minhash(shingles.astype(np.uint32).tobytes(), a_bytes, b_bytes), dtype=np.uint32)
    a, b = permutations(config)
    mixed = _fmix(shingles.astype(np.uint32), 32)
    with np.errstate(over="ignore"):
        products = a * mixed.reshape(1, -1)
        products += b
    return products.min(axis=1)


def sign_text(text: str, config: SignatureConfig, *, accelerated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Shingle hashes and signature values of a normalized text, in one compiled call when built.

    The same values as `shingle_hashes` then `minhash_values`; an empty shingle set comes back with an empty
    signature (the caller rejects the text)."""
    if accelerated and sign_enabled() and _native is not None and hasattr(_native, "sign"):
        a_bytes, b_bytes = _permutation_bytes(config)
        signed = _native.sign(text, config.ngram, config.word_ngram, a_bytes, b_bytes)
        if signed is None:
            return _EMPTY, _EMPTY
        return np.frombuffer(signed[0], dtype=np.uint32), np.frombuffer(signed[1], dtype=np.uint32)
    shingles = shingle_hashes(text, config, accelerated=accelerated)
    if len(shingles) == 0:
        return shingles, _EMPTY
    return shingles, minhash_values(shingles, config, accelerated=accelerated)


def as_lean_minhash(values: np.ndarray, config: SignatureConfig) -> LeanMinHash:
    return LeanMinHash(seed=config.seed, hashvalues=values, scheme=config.scheme)

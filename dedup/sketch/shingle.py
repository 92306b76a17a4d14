"""Shingle sets of normalized text, as sorted unique 32-bit hashes.

CJK text is compared by character n-grams; alphabetic words (and digit runs) count
as one unit each, so Latin text is compared by word n-grams and mixed text by
n-grams over both kinds of unit. Hashing the n-grams in numpy avoids building a
Python string per shingle, the costliest part of a plain pipeline after SHA-1.
"""

from __future__ import annotations

import re

import numpy as np

from dedup.config import SignatureConfig
from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.text.normalize import CJK_CLASS

_WORD = re.compile(rf"[^\W_{CJK_CLASS}]+")
_UNIT = re.compile(rf"([{CJK_CLASS}])|[^\W_{CJK_CLASS}]+")
_PRIVATE_PLANE = 0xF0000
_PRIVATE_SIZE = 0xFFFE
_BASE = np.uint64(0x9E3779B97F4A7C15)
EMPTY = np.empty(0, dtype=np.uint32)


def _word_unit(match: re.Match[str]) -> str:
    """One private-use character per word (FNV-1a of its code points), so a word is one n-gram unit."""
    h = 2166136261
    for ch in match.group():
        h = ((h ^ ord(ch)) * 16777619) & 0xFFFFFFFF
    return chr(_PRIVATE_PLANE + h % _PRIVATE_SIZE)


def to_units(text: str) -> tuple[str, int]:
    """The unit string (one character per CJK character or word) and how many units are words.

    Anything else (the space between words, the `.` and `/` kept between numbers, a stray mark) only
    separates units, as in the compiled path that signed every stored article."""
    units: list[str] = []
    words = 0
    for match in _UNIT.finditer(text):
        if match.group(1) is None:
            units.append(_word_unit(match))
            words += 1
        else:
            units.append(match.group(1))
    return "".join(units), words


def mix64(h: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the polynomial hash over all bits before truncation."""
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


def ngram_size(unit_count: int, word_count: int, config: SignatureConfig) -> int:
    return config.word_ngram if word_count * 2 > unit_count else config.ngram


def shingle_hashes(text: str, config: SignatureConfig, *, accelerated: bool = True) -> np.ndarray:
    """Sorted unique uint32 hashes of the text's n-grams; a text shorter than n is one shingle."""
    if accelerated and _native is not None:
        return np.frombuffer(_native.shingles(text, config.ngram, config.word_ngram), dtype=np.uint32)
    units, words = to_units(text)
    if not units:
        return EMPTY
    codes = np.frombuffer(units.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = min(ngram_size(len(codes), words, config), len(codes))
    count = len(codes) - n + 1
    with np.errstate(over="ignore"):
        h = codes[:count].copy()
        for k in range(1, n):
            h *= _BASE
            h += codes[k:k + count]
        h = mix64(h)
    return np.unique((h >> np.uint64(32)).astype(np.uint32))

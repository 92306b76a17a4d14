"""What the engine needs of a candidate index, whichever one runs: LSH bands in process (`BandIndex`) or
datasketch's MinHashLSH in Redis (`SignatureIndex`). The engine holds a `CandidateIndex` and never asks which.

A new candidate path (another kind of index) plugs in by implementing this protocol; mypy checks both
implementations against it (see `_conforming` at the end of dedup/candidates/index.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import numpy as np


class ContainmentIndex(Protocol):
    """Containment anchors of stored articles: excerpts of long texts, which no Jaccard band proposes."""

    def insert(self, article_id: int, article_anchors: np.ndarray) -> None: ...
    def insert_many(self, items: Iterable[tuple[int, np.ndarray]]) -> None: ...
    def remove(self, article_id: int) -> None: ...
    def query(self, query_anchors: np.ndarray) -> list[int]: ...
    def ids(self) -> set[int]: ...
    def __len__(self) -> int: ...


class CandidateIndex(Protocol):
    @property
    def shared(self) -> bool:
        """Shared by several processes (Redis): each worker sees the others' writes. In process: one worker."""

    @property
    def contained(self) -> ContainmentIndex:
        """The containment index kept beside the bands (same store: process or Redis)."""

    def insert(self, article_id: int, values: np.ndarray, shingle_count: int = 0) -> None:
        """Index (or re-index) an article's signature; `shingle_count` feeds in-memory screening."""

    def insert_many(self, items: list[tuple[int, np.ndarray, int]]) -> None:
        """Bulk insert of (id, signature, shingle count) not yet indexed (a sync)."""

    def remove(self, article_id: int) -> None:
        """Take an article out of the bands and of the containment index."""

    found: int  # ids the last query found before its bound (for the candidate figures)

    def query(self, values: np.ndarray, *, shingle_count: int | None = None, limit: int | None = None) -> list[int]:
        """Ids sharing at least one band with `values`, sorted, under the layouts a text of `shingle_count`
        shingles looks up (dedup.candidates.layouts; unknown: the main one); with `limit`, at most that many, those
        sharing the most bands (dedup.candidates.bound)."""

    def screen(self, values: np.ndarray, ids: list[int], shingle_count: int, j_min: float,
               c_min: float) -> list[int] | None:
        """`ids` worth verifying, best estimate first, from signatures held in memory; None when this index
        holds none (the caller screens on stored signatures instead)."""

    def mark_complete(self) -> None:
        """The index now holds every stored signature (a shared index can then tell a lost one)."""

    def ids(self) -> set[int]: ...
    def __contains__(self, article_id: int) -> bool: ...
    def __len__(self) -> int: ...

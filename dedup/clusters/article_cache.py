"""What verification needs to know about stored articles, kept in a bounded in-process cache.

Normalized text, signature and shingles of an article never change while its content does
not, so they are cached by id; the mutable cluster id is always read fresh from the store.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from operator import attrgetter

import numpy as np

from dedup.config import SignatureConfig
from dedup.sketch.shingle import shingle_hashes


@dataclass(slots=True)  # no per-instance dict: tens of thousands live in the cache
class Known:
    id: int
    url: str
    norm_text: str
    published_at: str | None
    ingested_at: str
    values: np.ndarray
    shingle_count: int
    version: str
    cluster_id: int | None = None
    title: str | None = None  # the headline: it can state what the body shares with the story's last update
    shingles: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_row(cls, row: dict) -> Known:
        return cls(id=row["id"], url=row["url"], norm_text=row["norm_text"], published_at=row["published_at"],
                   ingested_at=row["ingested_at"], values=np.frombuffer(bytes(row["hashvalues"]), dtype=np.uint32),
                   shingle_count=row["shingle_count"], version=row["version"], cluster_id=row["cluster_id"],
                   title=row.get("title"))


# A cached record is a plain tuple of Known's fields: the garbage collector stops tracking a tuple of strings, numbers
# and arrays, so a full collection no longer walks the whole cache (50,000 objects: ~40 ms a collection, ~2 s of a
# 50k-article bulk ingest). Callers get a fresh Known each time.
_NAMES = [f.name for f in fields(Known)]
_FIELDS = attrgetter(*_NAMES)
_TEXT, _SHINGLES = _NAMES.index("norm_text"), _NAMES.index("shingles")


class KnownCache:
    """LRU of Known records; misses are loaded from the store in one query."""

    def __init__(self, store, config: SignatureConfig, size: int = 50_000) -> None:  # type: ignore[no-untyped-def]
        self.store = store
        self.config = config
        self.size = size
        self._items: OrderedDict[int, tuple] = OrderedDict()
        # Writes only: lookups run outside the engine's lock (a text query beside an ingest), and the shingles a
        # lookup computes must never put back a record that a writer dropped or replaced meanwhile.
        self._writing = threading.Lock()

    def put(self, known: Known) -> None:
        with self._writing:
            self._items[known.id] = _FIELDS(known)
            self._items.move_to_end(known.id)
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def drop(self, article_id: int) -> None:
        with self._writing:
            self._items.pop(article_id, None)

    def clear(self) -> None:
        with self._writing:
            self._items.clear()

    def get_many(self, ids: Sequence[int]) -> list[Known]:
        missing = [i for i in ids if i not in self._items]
        for row in self.store.candidates(missing):
            self.put(Known.from_row(row))
        return self.cached(ids)

    def cached(self, ids: Sequence[int]) -> list[Known]:
        """The given ids' records that are in memory now (no store access)."""
        return [Known(*record) for record in map(self._items.get, ids) if record is not None]

    def get(self, article_id: int) -> Known | None:
        found = self.get_many([article_id])
        return found[0] if found else None

    def shingles(self, known: Known) -> np.ndarray:
        """The record's shingles, computed once and kept with its cached record (while that holds the same text)."""
        if known.shingles is None:
            known.shingles = shingle_hashes(known.norm_text, self.config)
            with self._writing:
                cached = self._items.get(known.id)
                if cached is not None and cached[_SHINGLES] is None and cached[_TEXT] == known.norm_text:
                    self._items[known.id] = (*cached[:_SHINGLES], known.shingles, *cached[_SHINGLES + 1:])
        return known.shingles

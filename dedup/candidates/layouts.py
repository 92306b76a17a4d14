"""Which LSH band layouts an article is stored under and looked up with, by its length.

One layout for every article at `lsh_threshold`, plus a denser one kept for short texts only. Why two: at a
Jaccard threshold near 0.2 (28 bands of 2 rows at 128 permutations) a pair sharing one common sentence (Jaccard
~0.05) shares a band 7% of the time, so the candidates of every lookup grow linearly with the store; at 0.3 (37 x 3)
0.5% of the time, and the cost per article stays flat up to a million stored. What 0.3 loses is a short cut repost
(Jaccard 0.2-0.3 with containment near 1) whose containment anchors (one shingle in 16) are too few to find it: a
100-character text has about six. Longer texts carry enough anchors, so the denser layout is only needed where one
side is short.

The dense layout comes in two key families so that a long text never reads buckets full of other long texts:
- *tiny*: texts of at most `short_text_shingles` are stored; texts of at most `short_text_shingles /
  short_lsh_threshold` look them up (a text more than that many times longer cannot reach the threshold's
  Jaccard with a tiny one);
- *near tiny*: texts up to that larger size are stored; only tiny texts look them up.
Both cover the same pairs, one for each order of arrival: a tiny text and a text of at most five times its bound,
whichever came first. Tiny texts are rare in news (3-4% of the dev set and of the Sina crawl, none of the scale
benchmark's), so their own lookups, which do grow with the store, cost little in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np
from datasketch.lsh import _optimal_param

from dedup.config import DecisionConfig


@dataclass(frozen=True)
class BandLayout:
    """`bands` of `rows` MinHash values each; articles of at most `store_at_most` shingles are stored under it,
    articles of at most `query_at_most` look it up (None: any length). `family` keeps its keys apart from the
    other layouts' in an index that holds them all in one table."""

    bands: int
    rows: int
    family: int = 0
    store_at_most: int | None = None
    query_at_most: int | None = None

    def stores(self, shingle_count: int) -> bool:
        return self.store_at_most is None or shingle_count <= self.store_at_most

    def queries(self, shingle_count: int | None) -> bool:
        """Whether a text of this length looks this layout up; a text of unknown length, only the main one."""
        if shingle_count is None:
            return self.for_every_text
        return self.query_at_most is None or shingle_count <= self.query_at_most

    def stored(self, counts: np.ndarray) -> np.ndarray:
        """`stores` over an array of shingle counts."""
        return np.ones(len(counts), dtype=bool) if self.store_at_most is None else counts <= self.store_at_most

    def asked(self, counts: np.ndarray) -> np.ndarray:
        """`queries` over an array of (known) shingle counts."""
        return np.ones(len(counts), dtype=bool) if self.query_at_most is None else counts <= self.query_at_most

    @property
    def for_every_text(self) -> bool:
        return self.store_at_most is None and self.query_at_most is None

    def __str__(self) -> str:
        bounds = "" if self.for_every_text else f"s{self.store_at_most}q{self.query_at_most}"
        return f"{self.bands}x{self.rows}{bounds}"


def layout_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) exactly as datasketch's MinHashLSH picks them for `threshold`, so every index agrees."""
    return _optimal_param(threshold, num_perm, 0.5, 0.5)


def as_layouts(spec: float | tuple[BandLayout, ...], num_perm: int) -> tuple[BandLayout, ...]:
    """An index's layouts: those given, or for a bare threshold its one layout for every text."""
    return (BandLayout(*layout_for(spec, num_perm)),) if isinstance(spec, float) else spec


def band_layouts(num_perm: int, decision: DecisionConfig) -> tuple[BandLayout, ...]:
    """The layouts of this decision: the main one first, then the short-text pair (none when
    `short_text_shingles` is 0 or the short threshold is not below the main one)."""
    main = BandLayout(*layout_for(decision.lsh_threshold, num_perm))
    tiny = decision.short_text_shingles
    if not tiny or decision.short_lsh_threshold >= decision.lsh_threshold:
        return (main,)
    bands, rows = layout_for(decision.short_lsh_threshold, num_perm)
    reach = int(tiny / decision.short_lsh_threshold)
    return (main, BandLayout(bands, rows, 1, store_at_most=tiny, query_at_most=reach),
            BandLayout(bands, rows, 2, store_at_most=reach, query_at_most=tiny))


def describe(layouts: tuple[BandLayout, ...]) -> str:
    """The layouts as one short string: part of a shared index's key prefix and of a re-cluster's parameters."""
    return ",".join(map(str, layouts))


def by_banding(layouts: tuple[BandLayout, ...]) -> list[tuple[tuple[int, int], tuple[BandLayout, ...]]]:
    """Layouts grouped by (bands, rows): a batch job bands the signatures once per group."""
    ordered = sorted(layouts, key=lambda layout: (layout.bands, layout.rows, layout.family))
    return [(key, tuple(group)) for key, group in groupby(ordered, key=lambda layout: (layout.bands, layout.rows))]


def eligible(group: tuple[BandLayout, ...], counts: np.ndarray) -> np.ndarray:
    """Which articles (by shingle count) a batch job bands under this group: stored or looking up under one of it."""
    keep = np.zeros(len(counts), dtype=bool)
    for layout in group:
        keep |= layout.stored(counts) | layout.asked(counts)
    return keep


def pair_allowed(group: tuple[BandLayout, ...], count_a: np.ndarray, count_b: np.ndarray) -> np.ndarray:
    """Which pairs sharing a band of this group the online index would also propose: one side stored under a
    layout of the group and the other looking it up, in either order of arrival."""
    allowed = np.zeros(len(count_a), dtype=bool)
    for layout in group:
        allowed |= (layout.stored(count_a) & layout.asked(count_b)) | (layout.stored(count_b) & layout.asked(count_a))
    return allowed

"""The duplicate decision: exact scores over shingle sets, then a guard against template twins.

MinHash only proposes candidates; every verdict is made here from exact Jaccard and
containment. High scores alone cannot tell a repost from a templated item about a
different event (二次会议 vs 三次会议), because such twins share almost every
shingle; dedup.twins finds the facts that differ.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from . import names
from .config import DecisionConfig
from .script import to_simplified
from .twins import Conflict, fact_conflicts


@dataclass(frozen=True)
class Scores:
    jaccard: float
    containment: float
    shared: int
    size_a: int
    size_b: int


@dataclass(frozen=True)
class Verdict:
    is_duplicate: bool
    scores: Scores
    reason: str
    conflicts: tuple[Conflict, ...] = field(default_factory=tuple)


def exact_scores(a: np.ndarray, b: np.ndarray) -> Scores:
    """Exact Jaccard and containment (shared / smaller set) of two sorted unique hash sets."""
    if len(a) == 0 or len(b) == 0:
        return Scores(0.0, 0.0, 0, len(a), len(b))
    shared = int(np.intersect1d(a, b, assume_unique=True).size)
    union = len(a) + len(b) - shared
    return Scores(shared / union, shared / min(len(a), len(b)), shared, len(a), len(b))


_frozen = False


def warm_up() -> None:
    """Load the dictionaries now, not inside the first request (about a second).

    Then, once per process, move everything start-up created (modules, dictionaries) out of the
    garbage collector's sight: those objects live as long as the process, and every full
    collection would otherwise walk all of them again (about 30 ms each, a tenth of ingest time).
    """
    global _frozen
    names.warm_up()
    to_simplified("预热")
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


class VerdictMemo:
    """Verdicts by the pair of normalized texts they were made on.

    A verdict depends only on the two texts (and the engine's fixed decision config), and a story's
    reposts often normalize to the same text, so the same pair comes back again and again. Keys are
    the texts themselves: equality is exact, and the strings are already held by the known-article
    cache. A pair is stored once, under its texts in sorted order (verdicts do not depend on the order;
    the conflicts of a non-duplicate verdict may name the texts either way round). Oldest entries go
    first once `size` is reached: at 20,000 pairs the memo holds at most a few tens of MB, the texts
    mostly shared with the known-article cache.
    """

    def __init__(self, config: DecisionConfig, size: int = 20_000) -> None:
        self.config = config
        self.size = size
        self._items: dict[tuple[str, str], Verdict] = {}

    def decide(self, text_a: str, text_b: str, shingles_a: Callable[[], np.ndarray],
               shingles_b: Callable[[], np.ndarray]) -> Verdict:
        if text_b < text_a:
            text_a, text_b, shingles_a, shingles_b = text_b, text_a, shingles_b, shingles_a
        key = (text_a, text_b)
        verdict = self._items.get(key)
        if verdict is None:
            verdict = decide(text_a, text_b, shingles_a(), shingles_b(), self.config)
            if len(self._items) >= self.size:
                del self._items[next(iter(self._items))]
            self._items[key] = verdict
        return verdict


def _conflicts(text_a: str, text_b: str) -> tuple[Conflict, ...]:
    """Differing facts, looked for in one fixed order of the two texts (an alignment can tie-break either
    way), so that which article is `a` never changes the verdict; reported in the caller's order."""
    if text_a <= text_b:
        return fact_conflicts(text_a, text_b, limit=3)
    return tuple(Conflict(c.b, c.a, c.kind) for c in fact_conflicts(text_b, text_a, limit=3))


def joins_family(verdict: Verdict, text_a: str, text_b: str, config: DecisionConfig) -> bool:
    """Does an article (a) that duplicates a member of a cluster overlap its representative (b) enough to join
    it: the pair's verdict is a duplicate, or its scores reach the family thresholds and no fact differs."""
    if verdict.is_duplicate:
        return True
    if verdict.conflicts:
        return False
    scores = verdict.scores
    if scores.jaccard < config.family_jaccard and scores.containment < config.family_containment:
        return False
    return not _conflicts(text_a, text_b)


def decide(text_a: str, text_b: str, sh_a: np.ndarray, sh_b: np.ndarray, config: DecisionConfig) -> Verdict:
    if text_a == text_b and len(sh_a) == len(sh_b):  # one text, one shingle set: skip the intersection
        scores = Scores(float(len(sh_a) > 0), float(len(sh_a) > 0), len(sh_a), len(sh_a), len(sh_a))
    else:
        scores = exact_scores(sh_a, sh_b)
    if scores.size_a == 0 or scores.size_b == 0:
        return Verdict(False, scores, "an empty text matches nothing")
    needed = min(config.min_shared_shingles, scores.size_a, scores.size_b)
    if scores.shared < needed:
        return Verdict(False, scores, f"only {scores.shared} shared shingles (need {needed})")
    if scores.jaccard < config.jaccard and scores.containment < config.containment:
        return Verdict(
            False, scores,
            f"jaccard {scores.jaccard:.2f} < {config.jaccard} and "
            f"containment {scores.containment:.2f} < {config.containment}",
        )
    conflicts = () if text_a == text_b else _conflicts(text_a, text_b)
    if conflicts:
        shown = "; ".join(f"{c.a} / {c.b}" for c in conflicts[:3])
        return Verdict(False, scores, f"template twin: differing facts ({shown})", conflicts)
    if scores.jaccard >= config.jaccard:
        return Verdict(True, scores, f"jaccard {scores.jaccard:.2f} >= {config.jaccard}, no differing facts")
    return Verdict(
        True, scores,
        f"containment {scores.containment:.2f} >= {config.containment} (excerpt or cut repost), no differing facts",
    )

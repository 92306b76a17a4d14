"""Why two articles are, or are not, duplicates: scores, the decision, shared and differing passages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dedup.config import DecisionConfig
from dedup.decide.alignment import shared_tiles, slots
from dedup.decide.verify import Later, Verdict, decide
from dedup.models import Article

_MAX_CHARS = 20_000


@dataclass(frozen=True)
class Passage:
    kind: str  # shared | only_a | only_b | changed
    a: str
    b: str
    a_start: int
    b_start: int


@dataclass
class Explanation:
    a: Article
    b: Article
    verdict: Verdict
    shared: list[Passage] = field(default_factory=list)
    differing: list[Passage] = field(default_factory=list)


def passages(a: str, b: str) -> tuple[list[Passage], list[Passage]]:
    """Shared passages wherever they sit in either text (the twin guard's tiling), and what differs: a slot
    between the same two shared passages is `changed`, everything else is `only_a` or `only_b` (a cut, an
    addition, a passage moved away from its neighbours)."""
    a, b = a[:_MAX_CHARS], b[:_MAX_CHARS]
    ua, ub, found = shared_tiles(a, b)
    shared = [Passage("shared", a[ua.start(t.i):ua.end(t.i + t.size)], b[ub.start(t.j):ub.end(t.j + t.size)],
                      ua.start(t.i), ub.start(t.j)) for t in found]
    differing = [Passage("changed", a[s.i1:s.i2], b[s.j1:s.j2], s.i1, s.j1)
                 for s in slots(a, b) if not s.edge and s.i1 < s.i2 and s.j1 < s.j2]
    covered_a = [(p.a_start, p.a_start + len(p.a)) for p in shared + differing]
    covered_b = [(p.b_start, p.b_start + len(p.b)) for p in shared + differing]
    differing += [Passage("only_a", a[x:y], "", x, 0) for x, y in _uncovered(a, covered_a)]
    differing += [Passage("only_b", "", b[x:y], 0, x) for x, y in _uncovered(b, covered_b)]
    differing.sort(key=lambda p: p.b_start if p.kind == "only_b" else p.a_start)
    return shared, differing


def _uncovered(text: str, covered: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Stretches of `text` no passage covers that hold more than spaces."""
    out, pos = [], 0
    for start, end in sorted(covered) + [(len(text), len(text))]:
        if start > pos and text[pos:start].strip():
            out.append((pos, start))
        pos = max(pos, end)
    return out


def explain_pair(a: Article, b: Article, sh_a: np.ndarray, sh_b: np.ndarray, config: DecisionConfig,
                 later: Later = None) -> Explanation:
    verdict = decide(a.norm_text, b.norm_text, sh_a, sh_b, config, later=later, titles=(a.title, b.title))
    shared, differing = passages(a.norm_text, b.norm_text)
    return Explanation(a=a, b=b, verdict=verdict, shared=shared, differing=differing)

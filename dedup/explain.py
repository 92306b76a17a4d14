"""Why two articles are, or are not, duplicates: scores, the decision, shared and differing passages."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from .config import DecisionConfig
from .models import Article
from .verify import Later, Verdict, decide

# Shorter common runs are coincidence (common words), not shared passages.
_MIN_SHARED = 8
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
    a, b = a[:_MAX_CHARS], b[:_MAX_CHARS]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    shared, differing = [], []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            if i2 - i1 >= _MIN_SHARED:
                shared.append(Passage("shared", a[i1:i2], b[j1:j2], i1, j1))
            continue
        kind = {"delete": "only_a", "insert": "only_b", "replace": "changed"}[op]
        differing.append(Passage(kind, a[i1:i2], b[j1:j2], i1, j1))
    return shared, differing


def explain_pair(a: Article, b: Article, sh_a: np.ndarray, sh_b: np.ndarray, config: DecisionConfig,
                 later: Later = None) -> Explanation:
    verdict = decide(a.norm_text, b.norm_text, sh_a, sh_b, config, later=later)
    shared, differing = passages(a.norm_text, b.norm_text)
    return Explanation(a=a, b=b, verdict=verdict, shared=shared, differing=differing)

"""Typos for generated reposts, shared by the benchmarks that make them."""

from __future__ import annotations

import random
from collections.abc import Sequence


def typos(rng: random.Random, text: str, rate: float, alphabet: Sequence[str]) -> str:
    """Characters dropped, and characters of `alphabet` typed in after others, each at rate / 2."""
    out: list[str] = []
    for ch in text:
        roll = rng.random()
        if roll < rate / 2:
            continue
        out.append(ch)
        if roll > 1 - rate / 2:
            out.append(rng.choice(alphabet))
    return "".join(out)

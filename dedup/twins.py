"""Facts that differ between two similar texts: what tells a template twin from a repost.

Reposts change wording around the story (captions, footers, cuts, typos) but never its
facts, so an aligned substitution of a number or of a name, place, organisation or time
on both sides, or passages rewritten on both sides, mark a different event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .alignment import interior_edits
from .names import names_differ

_NUMERAL = re.compile(r"[0-9〇零一二两三四五六七八九十百千万亿]")
# Interior passages this long are more than a typo.
_PASSAGE = 3


@dataclass(frozen=True)
class Conflict:
    a: str
    b: str
    kind: str


def _rewrite(ops: list[tuple[str, int, int, int, int]], a: str, b: str) -> Conflict | None:
    """Both texts hold interior passages of their own: one story rewritten into another.

    A repost may lose passages (cuts) or gain them at the edges (captions, footers), and typos
    touch a character or two; only a rewrite puts new words inside on both sides.
    """
    only_a = [a[i1:i2] for _, i1, i2, _, _ in ops if i2 - i1 >= _PASSAGE]
    only_b = [b[j1:j2] for _, _, _, j1, j2 in ops if j2 - j1 >= _PASSAGE]
    if only_a and only_b:
        return Conflict(max(only_a, key=len), max(only_b, key=len), "rewrite")
    return None


def fact_conflicts(a: str, b: str, limit: int = 8) -> tuple[Conflict, ...]:
    """Rewritten passages, or substituted numbers, dates, times or names, between two normalized texts."""
    ops = interior_edits(a, b)
    found: list[Conflict] = []
    rewrite = _rewrite(ops, a, b)
    if rewrite:
        found.append(rewrite)
    for op, i1, i2, j1, j2 in ops:
        if op != "replace" or len(found) >= limit:
            continue
        seg_a, seg_b = a[i1:i2], b[j1:j2]
        if _NUMERAL.search(seg_a) and _NUMERAL.search(seg_b):
            found.append(Conflict(seg_a, seg_b, "number"))
        elif names_differ(a, i1, i2, b, j1, j2):
            found.append(Conflict(seg_a, seg_b, "name"))
    return tuple(found)

"""Where two normalized texts differ, once their common passages are aligned.

Edits before the first and after the last common passage are cuts and additions at the
edges (captions, footers, excerpts); the edits between them are what the twin guard reads.
"""

from __future__ import annotations

from rapidfuzz.distance import Indel

_ANCHOR = 8
# Alignment cost grows with the product of the lengths; beyond this many characters a side
# is compared on its first part only, which still holds the facts that make a template twin.
_ALIGN_LIMIT = 6000


def _segments(a: str, b: str) -> list[list]:
    """An LCS alignment (rapidfuzz, ~100x faster than difflib) as ["equal"|"diff", i1, i2, j1, j2]
    segments; an insertion next to a deletion is one substitution."""
    segments: list[list] = []
    for op in Indel.opcodes(a[:_ALIGN_LIMIT], b[:_ALIGN_LIMIT]):
        span = [op.src_start, op.src_end, op.dest_start, op.dest_end]
        if op.tag == "equal":
            segments.append(["equal", *span])
        elif segments and segments[-1][0] == "diff":
            segments[-1][2], segments[-1][4] = span[1], span[3]
        else:
            segments.append(["diff", *span])
    return segments


def interior_edits(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
    """Differing regions between the first and last aligned passage: edits at the edges are cuts and additions.

    A passage is an aligned run of at least _ANCHOR characters (fewer in short texts); shorter runs at
    the edges are chance.
    """
    anchor = max(3, min(_ANCHOR, min(len(a), len(b)) // 10))
    segments = _segments(a, b)
    anchors = [k for k, seg in enumerate(segments) if seg[0] == "equal" and seg[2] - seg[1] >= anchor]
    if not anchors:
        return []
    interior = []
    for _, i1, i2, j1, j2 in (seg for seg in segments[anchors[0]:anchors[-1]] if seg[0] == "diff"):
        op = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        interior.append((op, i1, i2, j1, j2))
    return interior

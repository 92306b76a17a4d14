"""Which passages two normalized texts share, wherever they sit, and the slots where matched passages differ.

Reposts move paragraphs, put a new headline on top, add captions and context paragraphs and cut tails; one
end-to-end alignment then pairs unrelated passages and reads them as changed facts. So the texts are first
tiled with their longest common runs found anywhere (greedy string tiling: longest first, each unit used
once), and only a gap that sits between the same two tiles in both texts is a place where one passage says
something else than the other (`Slot`). Everything else that is not shared is one-sided: a cut, an
addition, a moved passage. The edges (before the first and after the last tile) are slots only when the
same tile opens, or closes, the shared text on both sides: a tail cut in the middle of a sentence still
lets the guard read the fact right after the last shared words.

Units: a CJK character is one unit, a Latin word or a digit run another, so English text is tiled by words
and `2024` changes as one number, not as digits an alignment may keep or drop.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import Indel

from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.sketch.shingle import _PRIVATE_PLANE, _PRIVATE_SIZE, _WORD
from dedup.text.normalize import CJK_CLASS

_ANCHOR = 8
# A tile of word units needs fewer units: eight words are a long passage.
_WORD_ANCHOR = 4
# Inside a long differing stretch, clauses that stayed are found by shorter common runs.
_SUB_ANCHOR = 4
# Texts beyond this many units are compared on their first part, which holds the facts of a template twin.
_ALIGN_LIMIT = 6000
# How many occurrences of one opening n-gram are tried (repetitive text would otherwise cost n*m).
_MAX_OCCURRENCES = 16
# One C pass instead of `_to_units`, None without the build.
_text_units = getattr(_native, "text_units", None)
_ESCAPED_RANGE = r"\\u([0-9a-fA-F]{4})-\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})-\\U([0-9a-fA-F]{8})"


def _code_point_ranges(char_class: str) -> bytes:
    """A regex class made of escaped ranges only (`\\u3040-\\u30ff...`, as `CJK_CLASS` is written) as uint32
    (low, high) pairs; anything else in it is refused, since the compiled path would read it differently."""
    if not re.fullmatch(f"(?:{_ESCAPED_RANGE})+", char_class):
        raise ValueError(f"not a class of escaped code point ranges: {char_class!r}")
    points = [int(h, 16) for m in re.finditer(_ESCAPED_RANGE, char_class) for h in m.groups() if h]
    return array("I", points).tobytes()


# The CJK ranges `_WORD` leaves out of words, for the compiled path.
_CJK_RANGES = _code_point_ranges(CJK_CLASS)
_RUN = re.compile(r"\S+")
_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class Units:
    """A text as units: `keys` holds one character per unit. Units map to text offsets linearly between anchors
    (each word, each run of other characters), so the map costs one entry per run, not one per character."""

    keys: str
    anchor_units: tuple[int, ...]
    anchor_chars: tuple[int, ...]
    word_ends: dict[int, int]
    words: int

    def start(self, unit: int) -> int:
        """The text offset where `unit` starts (the text's end for the unit past the last)."""
        if unit >= len(self.keys):
            return self.end(len(self.keys))
        k = bisect_right(self.anchor_units, unit) - 1
        return self.anchor_chars[k] + unit - self.anchor_units[k]

    def end(self, unit: int) -> int:
        """The end, in the text, of the unit before `unit` (the text position a gap ending at `unit` ends at)."""
        if unit <= 0:
            return 0
        last = unit - 1
        return self.word_ends.get(last) or self.start(last) + 1


def unit_count(text: str) -> int:
    """How many units `text` has (what `to_units` would give, without building them)."""
    return len(_WORD.sub("w", text)) - text.count(" ")


@lru_cache(maxsize=1024)
def to_units(text: str) -> Units:
    """Cached (callers only read the result): a stored text and a slot's sides recur across one text's
    comparisons, and a slot is split and then aligned again.

    Units of `text`. A word's key is a private-use character picked by the word's hash (within one process,
    the same word always gets the same key; a collision could only join two words, rarely)."""
    text = text[:_ALIGN_LIMIT * 4]
    if _text_units is not None:  # the same units in one C pass (~21 us a news-length text against ~77)
        keys, units, chars, ends = _text_units(text, _CJK_RANGES, _PRIVATE_PLANE, _PRIVATE_SIZE)
        return Units(keys[:_ALIGN_LIMIT], tuple(units), tuple(chars), ends, len(ends))
    return _to_units(text)


def _to_units(text: str) -> Units:
    """`to_units` in Python: the reference the compiled path is tested against."""
    keys: list[str] = []
    anchor_units: list[int] = []
    anchor_chars: list[int] = []
    word_ends: dict[int, int] = {}
    count = 0

    def add_run(run: str, at: int) -> None:
        nonlocal count
        if not run:
            return
        if _SPACE.search(run):
            for piece in _RUN.finditer(run):
                add_run(piece.group(), at + piece.start())
            return
        anchor_units.append(count)
        anchor_chars.append(at)
        keys.append(run)
        count += len(run)

    pos = 0
    for match in _WORD.finditer(text):
        add_run(text[pos:match.start()], pos)
        anchor_units.append(count)
        anchor_chars.append(match.start())
        word_ends[count] = match.end()
        keys.append(chr(_PRIVATE_PLANE + hash(match.group()) % _PRIVATE_SIZE))
        count += 1
        pos = match.end()
    add_run(text[pos:], pos)
    return Units("".join(keys)[:_ALIGN_LIMIT], tuple(anchor_units), tuple(anchor_chars), word_ends, len(word_ends))


@dataclass(frozen=True)
class Tile:
    i: int  # first unit in a
    j: int  # first unit in b
    size: int


def _free_runs(used: bytearray, k: int) -> list[tuple[int, int]]:
    """Stretches of at least k units not yet in a tile (what the regex `\\x00{k,}` finds), found by byte search:
    the regex engine tries every position of a mostly tiled text (~30 us a news-length text, against ~1)."""
    runs: list[tuple[int, int]] = []
    gap = b"\x00" * k
    at = used.find(gap)
    while at >= 0:   # the first k free units start a free stretch: one free unit before them would start k earlier
        end = used.find(b"\x01", at + k)
        end = len(used) if end < 0 else end
        runs.append((at, end))
        at = used.find(gap, end)
    return runs


def _maximal_matches(a: str, b: str, k: int, runs_a: list[tuple[int, int]],
                     runs_b: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """(size, i, j) of every common run of at least k units within the given stretches of a and b that cannot
    be extended to the left or right inside them."""
    starts: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for lo, hi in runs_b:
        for j in range(lo, hi - k + 1):
            starts[b[j:j + k]].append((j, lo, hi))
    found = []
    for lo_a, hi_a in runs_a:
        for i in range(lo_a, hi_a - k + 1):
            for j, lo_b, hi_b in starts.get(a[i:i + k], ())[:_MAX_OCCURRENCES]:
                if i > lo_a and j > lo_b and a[i - 1] == b[j - 1]:
                    continue
                n = k
                while i + n < hi_a and j + n < hi_b and a[i + n] == b[j + n]:
                    n += 1
                found.append((n, i, j))
    return found


# Units of the passage two texts that differ at both ends are split at (`equal_blocks`).
_SPLIT_PROBE = 32


def equal_blocks(a: str, b: str) -> list[tuple[int, int, int]]:
    """(i, j, size) of the equal blocks of an LCS alignment of a and b (rapidfuzz, in C), in order.

    rapidfuzz trims a common prefix and suffix first, so a pair that differs at one end (a line added before or
    after) aligns in microseconds; one that differs at both ends (a header added to one copy, a footer to the
    other) costs ~1 ms at 2,000 units. Such a pair is split at a passage each text holds once, which the alignment
    goes through, and each half, now differing at one end, is aligned alone."""
    if a and b and a[0] != b[0] and a[-1] != b[-1]:
        split = _shared_once(a, b)
        if split is not None:
            i, j = split
            left, right = equal_blocks(a[:i], b[:j]), equal_blocks(a[i:], b[j:])
            right = [(x + i, y + j, n) for x, y, n in right]
            if left and right and left[-1][0] + left[-1][2] == i and left[-1][1] + left[-1][2] == j \
                    and right[0][:2] == (i, j):
                left[-1] = (left[-1][0], left[-1][1], left[-1][2] + right[0][2])  # one passage across the split
                right = right[1:]
            return left + right
    return [(op.src_start, op.dest_start, op.src_end - op.src_start) for op in Indel.opcodes(a, b)
            if op.tag == "equal"]


def _shared_once(a: str, b: str) -> tuple[int, int] | None:
    """Where a passage from the middle of the shorter text starts in each text, if each holds it exactly once."""
    short, other, swapped = (b, a, True) if len(b) < len(a) else (a, b, False)
    if len(short) < 4 * _SPLIT_PROBE:
        return None
    for at in (len(short) // 2, len(short) // 4, 3 * len(short) // 4):
        probe = short[at:at + _SPLIT_PROBE]
        found = other.find(probe)
        if found >= 0 and other.find(probe, found + 1) < 0 and short.find(probe, at + 1) < 0 \
                and short.find(probe) == at:
            return (found, at) if swapped else (at, found)
    return None


def tiles(a: str, b: str, k: int) -> list[Tile]:
    """Common runs of at least k units, each unit in at most one, in a's order: first the runs an LCS alignment
    (`equal_blocks`) keeps in order, then, greedily and longest first, runs among what is left (moved passages)."""
    used_a, used_b = bytearray(len(a)), bytearray(len(b))
    chosen: list[Tile] = []
    for i, j, size in equal_blocks(a, b):
        if size >= k:
            used_a[i:i + size] = b"\x01" * size
            used_b[j:j + size] = b"\x01" * size
            chosen.append(Tile(i, j, size))
    runs_a, runs_b = _free_runs(used_a, k), _free_runs(used_b, k)
    if runs_a and runs_b:
        for n, i, j in sorted(_maximal_matches(a, b, k, runs_a, runs_b), key=lambda m: (-m[0], m[1], m[2])):
            run = best = best_at = 0
            for x in range(n):  # the longest part of the match not yet tiled on either side
                run = run + 1 if not used_a[i + x] and not used_b[j + x] else 0
                if run > best:
                    best, best_at = run, x - run + 1
            if best < k:
                continue
            ti, tj = i + best_at, j + best_at
            used_a[ti:ti + best] = b"\x01" * best
            used_b[tj:tj + best] = b"\x01" * best
            chosen.append(Tile(ti, tj, best))
    return sorted(chosen, key=lambda t: t.i)


@dataclass(frozen=True)
class Slot:
    """Where the two texts differ inside one matched passage: a[i1:i2] stands where b[j1:j2] stands.

    `edge` is "" between two tiles, "head" before the first shared passage, "tail" after the last: at an
    edge the gap on each side may be a whole added or cut passage, so only what touches the tile counts.
    """

    i1: int
    i2: int
    j1: int
    j2: int
    edge: str = ""


def anchor_size(ua: Units, ub: Units) -> int:
    """Units a tile needs: eight characters (four words in word-level text), fewer in short texts."""
    base = _WORD_ANCHOR if (ua.words * 2 > len(ua.keys) or ub.words * 2 > len(ub.keys)) else _ANCHOR
    return max(3, min(base, min(len(ua.keys), len(ub.keys)) // 10))


@lru_cache(maxsize=8)
def shared_tiles(a: str, b: str) -> tuple[Units, Units, list[Tile]]:
    """Cached: the slots and the tile edges of one comparison use the same tiling."""
    ua, ub = to_units(a), to_units(b)
    return ua, ub, tiles(ua.keys, ub.keys, anchor_size(ua, ub))


def _span(units: Units, u0: int, u1: int, offset: int) -> tuple[int, int]:
    """Text offsets of units u0..u1 (an empty gap sits right after the unit before it)."""
    if u1 > u0:
        return offset + units.start(u0), offset + units.end(u1)
    return offset + units.end(u0), offset + units.end(u0)


def _gaps(ua: Units, ub: Units, found: list[Tile], offset_a: int, offset_b: int, bounded: bool) -> list[Slot]:
    """The gaps between tiles that follow each other in both texts; with `bounded`, the stretches before the
    first and after the last tile too (they lie between the tiles around the region), else as edge slots."""
    rank_b = {t: r for r, t in enumerate(sorted(found, key=lambda t: t.j))}
    out: list[Slot] = []
    first, last = found[0], found[-1]
    if rank_b[first] == 0 and (first.i or first.j) and (bounded or (first.i and first.j)):
        sa, sb = _span(ua, 0, first.i, offset_a), _span(ub, 0, first.j, offset_b)
        out.append(Slot(offset_a, sa[1], offset_b, sb[1], "" if bounded else "head"))
    for left, right in zip(found, found[1:]):
        if rank_b[right] != rank_b[left] + 1:
            continue  # a moved passage: what lies between is not the same place in both texts
        sa = _span(ua, left.i + left.size, right.i, offset_a)
        sb = _span(ub, left.j + left.size, right.j, offset_b)
        if sa[0] < sa[1] or sb[0] < sb[1]:
            out.append(Slot(*sa, *sb))
    end_a, end_b = last.i + last.size, last.j + last.size
    more_a, more_b = end_a < len(ua.keys), end_b < len(ub.keys)
    if rank_b[last] == len(found) - 1 and (more_a or more_b) and (bounded or (more_a and more_b)):
        sa = _span(ua, end_a, len(ua.keys), offset_a)
        sb = _span(ub, end_b, len(ub.keys), offset_b)
        out.append(Slot(*sa, *sb, "" if bounded else "tail"))
    return out


def slots(a: str, b: str) -> list[Slot]:
    """Gaps that sit between the same two shared passages in both texts (one side may be empty), in a's order,
    and the head and tail when the same passage opens or closes the shared text on both sides."""
    ua, ub, found = shared_tiles(a, b)
    return _gaps(ua, ub, found, 0, 0, bounded=False) if found else []


def tile_edges(a: str, b: str) -> list[Slot]:
    """The two ends of every shared passage, as empty edge slots: what stands right before (`head`) and right
    after (`tail`) the same passage in both texts, whatever follows it there."""
    ua, ub, found = shared_tiles(a, b)
    out = []
    for t in found:
        if t.i and t.j:
            out.append(Slot(ua.end(t.i), ua.end(t.i), ub.end(t.j), ub.end(t.j), "head"))
        end_a, end_b = t.i + t.size, t.j + t.size
        if end_a < len(ua.keys) and end_b < len(ub.keys):
            out.append(Slot(ua.start(end_a), ua.start(end_a), ub.start(end_b), ub.start(end_b), "tail"))
    return out


def split(a: str, b: str, slot: Slot, anchor: int = _SUB_ANCHOR) -> list[Slot]:
    """A slot cut at the shorter common runs inside it: clauses that stayed between clauses that changed."""
    side_a, side_b = a[slot.i1:slot.i2], b[slot.j1:slot.j2]
    ua, ub = to_units(side_a), to_units(side_b)
    if anchor == _SUB_ANCHOR and (ua.words * 2 > len(ua.keys) or ub.words * 2 > len(ub.keys)):
        anchor = _WORD_ANCHOR // 2
    found = tiles(ua.keys, ub.keys, anchor)
    if not found:
        return [slot]
    return _gaps(ua, ub, found, slot.i1, slot.j1, bounded=True)


def similarity(x: str, y: str) -> float:
    return Indel.normalized_similarity(x, y)


def edits(a: str, b: str, slot: Slot) -> list[tuple[str, int, int, int, int]]:
    """The unit edits inside one slot (an insertion next to a deletion is one substitution), in text offsets.

    Aligned by units, so a number or an English word changes as a whole (29 / 32, thursday / friday).
    """
    ua, ub = to_units(a[slot.i1:slot.i2]), to_units(b[slot.j1:slot.j2])
    merged: list[list[int]] = []
    after_equal = True
    for op in Indel.opcodes(ua.keys, ub.keys):
        if op.tag == "equal":
            after_equal = True
            continue
        span = [op.src_start, op.src_end, op.dest_start, op.dest_end]
        if merged and not after_equal:
            merged[-1][1], merged[-1][3] = span[1], span[3]
        else:
            merged.append(span)
        after_equal = False
    result: list[tuple[str, int, int, int, int]] = []
    for u1, u2, v1, v2 in merged:
        i1, i2 = slot.i1 + ua.start(u1) if u2 > u1 else slot.i1 + _gap_at(ua, u1), slot.i1 + ua.end(u2)
        j1, j2 = slot.j1 + ub.start(v1) if v2 > v1 else slot.j1 + _gap_at(ub, v1), slot.j1 + ub.end(v2)
        i2, j2 = max(i1, i2), max(j1, j2)
        tag = "replace" if i2 > i1 and j2 > j1 else ("delete" if i2 > i1 else "insert")
        result.append((tag, i1, i2, j1, j2))
    return result


def _gap_at(units: Units, unit: int) -> int:
    """The text position of an empty edit before `unit`: right after the unit before it."""
    return units.end(unit)

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
# A decimal point is part of its number (normalization keeps it between digits): 1.5 and 15 differ.
_DIGITS = frozenset("0123456789.")
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


def _digits_around(text: str, start: int, end: int) -> str:
    """The run of ASCII digits that the edit text[start:end] (all digits, or empty) lies in or touches."""
    if any(ch not in _DIGITS for ch in text[start:end]):
        return ""
    while start > 0 and text[start - 1] in _DIGITS:
        start -= 1
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    return text[start:end]


def _within(short: str, long: str) -> bool:
    """Whether `short` is `long` with characters left out."""
    rest = iter(long)
    return all(ch in rest for ch in short)


def _changed_number(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> Conflict | None:
    """A number whose digits changed though the alignment kept some of them: 29 -> 32 aligns on the `2` and
    shows only an inserted `3` and a deleted `9`, one-sided edits the substitution rule never sees.

    A digit only dropped or only added (2024 -> 204) is a typo's shape, not a different fact, and stays allowed;
    the same digits with the decimal point moved, added or dropped (1.5 -> 15) are a different number.
    """
    number_a, number_b = _digits_around(a, i1, i2), _digits_around(b, j1, j2)
    if not (number_a and number_b):
        return None
    point_moved = number_a != number_b and number_a.replace(".", "") == number_b.replace(".", "")
    if point_moved or (not _within(number_a, number_b) and not _within(number_b, number_a)):
        return Conflict(number_a, number_b, "number")
    return None


@dataclass
class _Edit:
    op: str
    i1: int
    i2: int
    j1: int
    j2: int
    own_a: str  # the characters this edit changes in a (without a shared character it spans)
    own_b: str
    joined: bool = False


def _across_one_character(ops: list[tuple[str, int, int, int, int]], a: str, b: str) -> list[_Edit]:
    """Edits separated by a single aligned character, taken as one substitution.

    An alignment keeps any character two different words or numbers happen to share: 俄罗斯 -> 斯洛伐克
    aligns on the 斯 and shows a deletion before it and an insertion after it, one-sided edits that
    look like cuts. One shared character is no evidence that the words around it are the same. Two
    typos can take the same shape, so a joined edit must be a fact on both sides without the shared
    character (see `fact_conflicts`).
    """
    edits: list[_Edit] = []
    for op, i1, i2, j1, j2 in ops:
        last = edits[-1] if edits else None
        if last is not None and i1 - last.i2 == j1 - last.j2 <= 1:
            last.i2, last.j2, last.joined = i2, j2, True
            last.own_a, last.own_b = last.own_a + a[i1:i2], last.own_b + b[j1:j2]
            last.op = "replace" if last.own_a and last.own_b else last.op
        else:
            edits.append(_Edit(op, i1, i2, j1, j2, a[i1:i2], b[j1:j2]))
    return edits


def fact_conflicts(a: str, b: str, limit: int = 8) -> tuple[Conflict, ...]:
    """Rewritten passages, or substituted numbers, dates, times or names, between two normalized texts."""
    ops = interior_edits(a, b)
    found: list[Conflict] = []
    rewrite = _rewrite(ops, a, b)
    if rewrite:
        found.append(rewrite)
    for edit in _across_one_character(ops, a, b):
        if len(found) >= limit:
            break
        if edit.op != "replace":
            changed = _changed_number(a, edit.i1, edit.i2, b, edit.j1, edit.j2)
            if changed:
                found.append(changed)
            continue
        seg_a, seg_b = a[edit.i1:edit.i2], b[edit.j1:edit.j2]
        if _NUMERAL.search(edit.own_a) and _NUMERAL.search(edit.own_b):
            found.append(Conflict(seg_a, seg_b, "number"))
        elif names_differ(a, edit.i1, edit.i2, b, edit.j1, edit.j2, known_on_both_sides=edit.joined):
            found.append(Conflict(seg_a, seg_b, "name"))
    return tuple(found)

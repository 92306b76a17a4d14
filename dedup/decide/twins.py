"""Facts that differ between two similar texts: what tells a template twin from a repost.

Reposts change wording around the story (captions, footers, cuts, moved paragraphs, typos) but never its
facts. So facts are compared only inside matched passages (`alignment.slots`: the same two shared passages
on both sides with something different between them): a number, date, name, place, organisation or time
substituted there, or a clause rewritten there, marks a different event. What one text has and the other
lacks (captions, footers, context paragraphs, cut tails, a paragraph moved elsewhere) is never a differing
fact, nor is a relative date made absolute, a credit or source line, a look-alike character an OCR or a
typist put in, or the same number written in other digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from dedup.decide.alignment import Slot, edits, similarity, slots, split, tile_edges, unit_count
from dedup.decide.names import (
    inserted_name,
    is_relative_time,
    names_differ,
    names_replaced,
    not_body,
    respelled,
    unit_conflict,
    weekday,
)

# Interior passages this long are more than a typo.
_PASSAGE = 3
# A slot whose sides are both at most this many units replaces a word or a clause inside one matched passage;
# longer different stretches on both sides are a passage cut and another added (an update, a context
# paragraph), unless the two stretches are still mostly alike.
_CLAUSE = 20
_ALIKE = 0.5
# A reworded clause is a fifth or more of a short item (a one-sentence notice): there it is the item's content.
_SHORT_ITEM = 5
# Clauses reworded to another length in at most one matched passage in this many are an editor's touches on a
# long text (an interview tightened here and there); a template rewritten clause by clause is reworded throughout.
_EDITED_SHARE = 8
# Characters a scan or a typist confuses; the same fact written with either.
_LOOK_ALIKES = str.maketrans({"目": "日", "曰": "日", "夭": "天", "〇": "0"})
# Letters a scan reads for digits, inside a run that holds a digit (20l8, 4o).
_DIGIT_LOOK_ALIKES = str.maketrans({"o": "0", "l": "1"})
# A run of digits and look-alike letters; `_digit_run` reads the letters as digits only when the run holds a
# digit. (`[0-9lo]*[0-9][0-9lo]*` rescanned a letter run without a digit from each of its letters: a stored
# text and a search differing by 20,000 `l`/`o` in one passage took 4.5 s, 2 MB would take hours.)
_LOOK_ALIKE_RUN = re.compile(r"[0-9lo]++")
_NUMBER_REACH = 12
_CN_DIGITS = {**{ch: k for k, ch in enumerate("〇一二三四五六七八九")}, "零": 0, "两": 2}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10_000, "亿": 100_000_000}
_TONED = re.compile("[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜńňǹḿ]")
# A run of Latin letters with the spaces around it. Spaces are taken from the start of their run only (a
# leading `\s*` tried from every space of a run that no letter follows: quadratic).
_LATIN_RUN = re.compile(r"(?:(?<!\s)\s++)?[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ]++\s*+")
_WORD_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                 "fifteen sixteen seventeen eighteen nineteen twenty").split()
_NUMBER_TOKEN = re.compile(rf"[0-9]+(?:\.[0-9]+)?|(?<![0-9])[〇零一二两三四五六七八九十百千万亿]+"
                           rf"|\b(?:{'|'.join(_WORD_NUMBERS)})\b")
_KIND = re.compile(r" ?([a-z]+|\S)")
_DAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())
_MONTHS = frozenset("january february march april may june july august september october november december".split())
# A date or time touching a shared passage at an edge: 11月 / 6月 after "将于" in a tail cut.
_EDGE_DATE = r"([0-9]+|[〇零一二两三四五六七八九十]+)(年|月|日|号|时|点)"
_LEADING_DATE = re.compile(_EDGE_DATE)
_TRAILING_DATE = re.compile(_EDGE_DATE + "$")
_DATE_REACH = 12


@dataclass(frozen=True)
class Conflict:
    a: str
    b: str
    kind: str


def _within(short: str, long: str) -> bool:
    """Whether `short` is `long` with characters left out."""
    rest = iter(long)
    return all(ch in rest for ch in short)


def _chinese_value(run: str) -> int:
    """The value of a run of Chinese numerals (二十九 -> 29, 二〇一八 -> 2018 digit by digit)."""
    if all(ch in _CN_DIGITS for ch in run):
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total = section = digit = 0
    for ch in run:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif _CN_UNITS[ch] >= 10_000:
            total += (section + digit) * _CN_UNITS[ch]
            section = digit = 0
        else:
            section += (digit or 1) * _CN_UNITS[ch]
            digit = 0
    return total + section + digit


def _value(run: str) -> str:
    if run[0].isdigit():
        return run
    if run in _WORD_NUMBERS:
        return str(_WORD_NUMBERS.index(run))
    return str(_chinese_value(run))


def _numbers_over(text: str, start: int, end: int) -> dict[str, tuple[str, str]]:
    """The numbers that text[start:end] touches, as written and as digits, by kind: the word or character after
    the number
    (二次 and 2次 say the same; 6月 and 11月 are numbers of one kind, 二(工作) and 六项 are not)."""
    lo, hi = max(0, start - _NUMBER_REACH), min(len(text), end + _NUMBER_REACH)
    return _numbers_in(text[lo:hi], start - lo, end - lo)


@lru_cache(maxsize=65_536)
def _numbers_in(raw: str, start: int, end: int) -> dict[str, tuple[str, str]]:
    """Cached on the window (callers only read the result): a stored text's windows recur in its comparisons
    with every repost, and an edit is checked at the slot edges too."""
    window = _LOOK_ALIKE_RUN.sub(_digit_run, raw.translate(_LOOK_ALIKES))
    kinds: dict[str, tuple[str, str]] = {}
    for match in _NUMBER_TOKEN.finditer(window):
        if match.end() <= start or match.start() >= end:
            continue
        after = _KIND.match(window, match.end())
        kind = after.group(1) if after else ""
        written, value = kinds.get(kind, ("", ""))
        kinds[kind] = (written + match.group(), value + _value(match.group()))
    return kinds


def _digit_run(match: re.Match[str]) -> str:
    """A run of digits and `l`/`o` with the letters read as digits, if it holds a digit (20l8, 4o)."""
    run = match.group()
    return run.translate(_DIGIT_LOOK_ALIKES) if run.strip("lo") else run


def _numbers_differ(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> bool:
    """Both sides state a number of one kind and one is not the other with digits dropped (a typo's shape:
    2024 -> 204)."""
    if i1 == i2 or j1 == j2:
        return False
    kinds_a, kinds_b = _numbers_over(a, i1, i2), _numbers_over(b, j1, j2)
    all_a, all_b = "".join(w for w, _ in kinds_a.values()), "".join(w for w, _ in kinds_b.values())
    if all_a.count(".") != all_b.count("."):
        return True  # 1.5% / 15%: a decimal point is part of the number, not a typo's leftover
    if _within(all_a, all_b) or _within(all_b, all_a):
        return False  # characters dropped between or inside numbers: 35分2025 -> 35025
    for kind in kinds_a.keys() & kinds_b.keys():
        (written_a, x), (written_b, y) = kinds_a[kind], kinds_b[kind]
        if _within(written_a, written_b) or _within(written_b, written_a):
            continue  # a numeral dropped or typed in (十五五 -> 五五)
        if not _within(x, y) and not _within(y, x):
            return True
    return False


def _same_kind_word(own_a: str, own_b: str) -> bool:
    """Two different weekdays or months (word-level text: Thursday / Friday)."""
    words_a, words_b = set(own_a.split()), set(own_b.split())
    return any(words_a & kind and words_b & kind and words_a & kind != words_b & kind for kind in (_DAYS, _MONTHS))


def _rewrite(ops: list[tuple[str, int, int, int, int]], a: str, b: str) -> Conflict | None:
    """Both sides of one short slot hold words of their own: a clause of one story rewritten into another.

    A phrase swapped for another of the same length (踔厉奋发勇毅前行 / 凝心聚力奋发进取) is a template's slot
    filled anew, and so is a clause that makes a fifth of a short item; a clause of a longer text reworded to
    another length (`reworded`) is an editor's touch unless it recurs."""
    only_a = [a[i1:i2] for _, i1, i2, _, _ in ops if unit_count(a[i1:i2]) >= _PASSAGE]
    only_b = [b[j1:j2] for _, _, _, j1, j2 in ops if unit_count(b[j1:j2]) >= _PASSAGE]
    if only_a and only_b:
        return Conflict(max(only_a, key=len), max(only_b, key=len), "rewrite")
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

    An alignment keeps any character two different words happen to share: 俄罗斯 -> 斯洛伐克 aligns on the
    斯 and shows a deletion before it and an insertion after it. One shared character is no evidence that
    the words around it are the same. Two typos can take the same shape, so a joined edit must be a fact
    on both sides without the shared character (see `_edit_conflict`).
    """
    merged: list[_Edit] = []
    for op, i1, i2, j1, j2 in ops:
        last = merged[-1] if merged else None
        if last is not None and i1 - last.i2 == j1 - last.j2 <= 1:
            last.i2, last.j2, last.joined = i2, j2, True
            last.own_a, last.own_b = last.own_a + a[i1:i2], last.own_b + b[j1:j2]
            last.op = "replace" if last.own_a and last.own_b else last.op
        else:
            merged.append(_Edit(op, i1, i2, j1, j2, a[i1:i2], b[j1:j2]))
    return merged


def _without_pinyin(text: str) -> str:
    """Text without the pieces of a pinyin note normalization could not remove (`t ú`, `bìn g`: a space inside)."""
    if not _TONED.search(text):
        return text
    return _LATIN_RUN.sub("", text)


def _noise(own_a: str, own_b: str) -> bool:
    """Look-alike characters (日/目, 〇/0) or a pinyin note with a space in it (t ú): the same words."""
    return _without_pinyin(own_a).translate(_LOOK_ALIKES) == _without_pinyin(own_b).translate(_LOOK_ALIKES)


def _edit_conflict(edit: _Edit, a: str, b: str) -> Conflict | None:
    seg_a, seg_b = a[edit.i1:edit.i2], b[edit.j1:edit.j2]
    if _noise(edit.own_a, edit.own_b):
        return None
    day_a, day_b = weekday(a, edit.i1, edit.i2), weekday(b, edit.j1, edit.j2)
    if day_a and day_b and day_a[-1] != day_b[-1]:
        return Conflict(seg_a, seg_b, "date")
    if day_a or day_b or is_relative_time(a, edit.i1, edit.i2) or is_relative_time(b, edit.j1, edit.j2):
        return None  # 今天 / 14日, 周三 / 11月14日: a relative date made absolute is the same date
    if edit.own_a and edit.own_b and _numbers_differ(a, edit.i1, edit.i2, b, edit.j1, edit.j2):
        return Conflict(seg_a, seg_b, "number")
    if edit.op != "replace":
        return None
    if _same_kind_word(edit.own_a, edit.own_b):
        return Conflict(seg_a, seg_b, "date")
    if names_differ(a, edit.i1, edit.i2, b, edit.j1, edit.j2, known_on_both_sides=edit.joined):
        return Conflict(seg_a, seg_b, "name")
    return None


def _edge_conflict(a: str, b: str, slot: Slot) -> Conflict | None:
    """At an edge, a date of the same kind right against the shared passage, different on the two sides: a
    tail-cut `…将于11月29日至` against `…将于6月2日至6日…` is another year's event, not a cut repost."""
    if slot.edge == "tail":
        ma, mb = _LEADING_DATE.match(a, slot.i1), _LEADING_DATE.match(b, slot.j1)
    else:
        ma = _TRAILING_DATE.search(a, max(0, slot.i2 - _DATE_REACH), slot.i2)
        mb = _TRAILING_DATE.search(b, max(0, slot.j2 - _DATE_REACH), slot.j2)
    if ma and mb and ma.group(2) == mb.group(2) and _numbers_differ(a, *ma.span(1), b, *mb.span(1)):
        return Conflict(ma.group(0), mb.group(0), "date")
    return None


def _one_passage(a: str, b: str, slot: Slot) -> bool:
    """The two sides of a slot are one passage with words changed (or a word added), not a passage cut and
    another added: a clause's length at most on both sides, or still mostly alike."""
    side_a, side_b = a[slot.i1:slot.i2], b[slot.j1:slot.j2]
    if max(unit_count(side_a), unit_count(side_b)) <= _CLAUSE:
        return True
    return bool(side_a) and bool(side_b) and similarity(side_a, side_b) >= _ALIKE


def _passage_conflicts(a: str, b: str, slot: Slot) -> list[Conflict]:
    """Differing facts inside one matched passage."""
    if not_body(a, slot.i1, slot.i2) or not_body(b, slot.j1, slot.j2):
        return []
    side_a, side_b = a[slot.i1:slot.i2], b[slot.j1:slot.j2]
    if side_a and side_b and respelled(a, slot.i1, slot.i2, b, slot.j1, slot.j2):
        return []  # 盖亚那 / 圭亚那: one country in Taiwan and mainland spelling
    if not side_a or not side_b:
        name = inserted_name(a, slot.i1, slot.i2) if side_a else inserted_name(b, slot.j1, slot.j2)
        return [Conflict(side_a, side_b, "name")] if name else []
    whole = unit_conflict(a, slot.i1, slot.i2, b, slot.j1, slot.j2)
    if whole:
        return [Conflict(side_a, side_b, whole)]
    ops = edits(a, b, slot)
    found = [c for c in (_edit_conflict(e, a, b) for e in _across_one_character(ops, a, b)) if c]
    if found:
        return found
    replaced = names_replaced(a, slot.i1, slot.i2, b, slot.j1, slot.j2)
    if replaced:
        return [Conflict(*replaced, "name")]
    rewrite = _rewrite(ops, a, b)
    if rewrite is None or _noise(rewrite.a, rewrite.b):
        return []
    size = max(unit_count(side_a), unit_count(side_b))
    if unit_count(side_a) != unit_count(side_b) and size * _SHORT_ITEM < min(_units_in(a), _units_in(b)):
        return [Conflict(rewrite.a, rewrite.b, "reworded")]
    return [rewrite]


@lru_cache(maxsize=16)
def _units_in(text: str) -> int:
    return unit_count(text)


def _slot_conflicts(a: str, b: str, slot: Slot) -> list[Conflict]:
    if slot.edge:
        edge = _edge_conflict(a, b, slot)
        return [edge] if edge else []
    parts = [slot] if _one_passage(a, b, slot) else [p for p in split(a, b, slot) if _one_passage(a, b, p)]
    return [c for part in parts for c in _passage_conflicts(a, b, part)]


def _renumbered(found: list[Conflict]) -> bool:
    """Three or more numbers all moved by one offset, one after another (11 -> 2, 12 -> 3, 13 -> 4): an excerpt
    that renumbers the items of a list it cut, not facts that changed."""
    pairs = [(c.a, c.b) for c in found if c.kind == "number" and c.a.isdigit() and c.b.isdigit()]
    if len(pairs) < 3 or len(pairs) < len([c for c in found if c.kind == "number"]):
        return False
    offsets = {int(x) - int(y) for x, y in pairs}
    starts = [int(x) for x, _ in pairs]
    return len(offsets) == 1 and all(n == m + 1 for m, n in zip(starts, starts[1:]))


def fact_conflicts(a: str, b: str, limit: int = 8) -> tuple[Conflict, ...]:
    """Substituted numbers, dates, times or names inside the matched passages of two normalized texts, or
    rewritten clauses (one clause reworded to another length alone is an editor's touch; a template whose
    clauses are rewritten here and there is another text)."""
    found: list[Conflict] = []
    matched = slots(a, b)
    for slot in matched:
        found.extend(_slot_conflicts(a, b, slot))
    for edge in tile_edges(a, b):
        conflict = _edge_conflict(a, b, edge)
        if conflict and conflict not in found:
            found.append(conflict)
    if _renumbered(found):
        found = [c for c in found if c.kind != "number"]
    if found and all(c.kind == "reworded" for c in found) and (len(found) == 1 or
                                                                len(found) * _EDITED_SHARE <= len(matched)):
        found = []
    return tuple(found[:limit])

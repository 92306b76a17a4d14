"""The duplicate decision: exact scores over shingle sets, then a guard against template twins.

MinHash only proposes candidates; every verdict is made here from exact Jaccard and
containment. High scores alone cannot tell a repost from a templated item about a
different event (二次会议 vs 三次会议), because such twins share almost every
shingle. Reposts change wording around the story (captions, footers, cuts, typos)
but never its facts, so an aligned substitution of a number, date, time word or
name on both sides vetoes the match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rapidfuzz.distance import Indel

from .config import DecisionConfig
from .script import to_simplified

_NUMERAL = re.compile(r"[0-9〇零一二两三四五六七八九十百千万亿]")
# jieba part-of-speech tags of facts: times, person/place/organisation/other proper names.
# HMM is off: its guesses tag typo-garbled characters as names.
_FACT_TAGS = ("t", "nr", "ns", "nt", "nz")
# Single characters that stand for a country or place (法, 俄, 美, 德).
_ABBREVIATION_TAGS = ("j", "ns")
_CONTEXT = 6
_LONGEST_WORD = 8
# Interior passages this long are more than a typo.
_PASSAGE = 3
_ANCHOR = 8
# Alignment cost grows with the product of the lengths; beyond this many characters a side
# is compared on its first part only, which still holds the facts that make a template twin.
_ALIGN_LIMIT = 6000


@dataclass(frozen=True)
class Scores:
    jaccard: float
    containment: float
    shared: int
    size_a: int
    size_b: int


@dataclass(frozen=True)
class Conflict:
    a: str
    b: str
    kind: str


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


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's dictionary: word -> part-of-speech tag (loaded once, ~1 s)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba.posseg.dt.word_tag_tab


def warm_up() -> None:
    """Load the dictionaries now, not inside the first request (about a second)."""
    _word_tags()
    to_simplified("预热")


def _longest_word_over(text: str, start: int, end: int) -> str:
    """The longest dictionary word of two or more characters that covers text[start:end] ('' if none).

    A direct dictionary lookup: segmenting a window with jieba costs a hundred times more and, on
    the words that matter here (names, places, times), picks the same word.
    """
    tags = _word_tags()
    span = end - start
    for length in range(min(span + 2 * _CONTEXT, _LONGEST_WORD), max(2, span) - 1, -1):
        for begin in range(max(0, end - length), min(start, len(text) - length) + 1):
            word = text[begin:begin + length]
            if word in tags:
                return word
    return ""


def _is_fact_over(text: str, start: int, end: int) -> bool:
    return _word_tags().get(_longest_word_over(text, start, end), "").startswith(_FACT_TAGS)


def _words_over(text: str, start: int, end: int) -> tuple[tuple[str, str], ...]:
    """Dictionary words (with tags) overlapping text[start:end], segmented in a small window around it."""
    lo = max(0, start - _CONTEXT)
    return _window_words(text[lo:end + _CONTEXT], start - lo, end - lo)


@lru_cache(maxsize=65_536)
def _window_words(window: str, start: int, end: int) -> tuple[tuple[str, str], ...]:
    """Cached: an original's windows recur in its comparisons with every repost."""
    import jieba

    tags = _word_tags()
    words: list[tuple[str, str]] = []
    pos = 0
    for word in jieba.dt.cut(window, HMM=False):
        w_start, pos = pos, pos + len(word)
        if w_start < end and pos > start:
            words.append((word, tags.get(word, "x")))
    return tuple(words)


def _segmented_as_facts(text: str, start: int, end: int) -> bool:
    """Segmentation puts whole dictionary words (not stray characters) over the span, one a fact word."""
    words = _words_over(text, start, end)
    return bool(words) and all(len(w) >= 2 for w, _ in words) and any(t.startswith(_FACT_TAGS) for _, t in words)


def _names_differ(a: str, i1: int, i2: int, b: str, j1: int, j2: int) -> bool:
    """The words over the substitution are names, places, organisations or times on both sides.

    A typo garbles a word into characters or a common word, so it does not yield fact words on both
    sides. A single substituted abbreviation (法/俄 in 法文版/俄文版) counts too. Dictionary lookups
    screen first; jieba's segmentation, a hundred times dearer, confirms what they let through.
    """
    if i2 - i1 == 1 and j2 - j1 == 1:
        tags = _word_tags()
        if tags.get(a[i1], "") in _ABBREVIATION_TAGS and tags.get(b[j1], "") in _ABBREVIATION_TAGS:
            return True
    if not (_is_fact_over(a, i1, i2) and _is_fact_over(b, j1, j2)):
        return False
    return _segmented_as_facts(a, i1, i2) and _segmented_as_facts(b, j1, j2)


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


def _interior_ops(a: str, b: str) -> list[tuple[str, int, int, int, int]]:
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
    ops = _interior_ops(a, b)
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
        elif _names_differ(a, i1, i2, b, j1, j2):
            found.append(Conflict(seg_a, seg_b, "name"))
    return tuple(found)


def decide(text_a: str, text_b: str, sh_a: np.ndarray, sh_b: np.ndarray, config: DecisionConfig) -> Verdict:
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
    conflicts = () if text_a == text_b else fact_conflicts(text_a, text_b, limit=3)
    if conflicts:
        shown = "; ".join(f"{c.a} / {c.b}" for c in conflicts[:3])
        return Verdict(False, scores, f"template twin: differing facts ({shown})", conflicts)
    if scores.jaccard >= config.jaccard:
        return Verdict(True, scores, f"jaccard {scores.jaccard:.2f} >= {config.jaccard}, no differing facts")
    return Verdict(
        True, scores,
        f"containment {scores.containment:.2f} >= {config.containment} (excerpt or cut repost), no differing facts",
    )

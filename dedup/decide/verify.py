"""The duplicate decision: exact scores over shingle sets, then a guard against template twins.

MinHash only proposes candidates; every verdict is made here from exact Jaccard and
containment. High scores alone cannot tell a repost from a templated item about a
different event (二次会议 vs 三次会议), because such twins share almost every
shingle; dedup.decide.twins finds the facts that differ.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from rapidfuzz.distance import Indel

from dedup.config import DecisionConfig
from dedup.decide import names
from dedup.decide.alignment import shared_tiles
from dedup.decide.headlines import headline_conflicts
from dedup.decide.twins import Conflict, fact_conflicts
from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.text import compiled_fold as fastpath
from dedup.text.script_variants import to_simplified

# Counts the shared hashes of two sorted sets in one pass (-1: not sorted, numpy counts); None without the build.
_shared_count = getattr(_native, "shared_count", None)
# Which of the two texts came later ("a" or "b"; None: unknown). See `decide`.
Later = Literal["a", "b"] | None
_SWAP: dict[Later, Later] = {"a": "b", "b": "a", None: None}
# The two articles' headlines, when known (a headline is no part of the normalized text).
Titles = tuple[str | None, str | None]
_NO_TITLES: Titles = (None, None)


class When(NamedTuple):
    """What is known of when a text appeared: its publication time (if given), when it arrived here, and its
    arrival order (article ids grow with arrival; a text not stored yet comes after every stored one)."""

    published_at: str | None
    arrived_at: str
    order: int


def later_of(a: When, b: When) -> Later:
    """Which text came later: by publication time when both are dated, by arrival when neither is.

    An undated text was published at or before it arrived, so a dated text published after the other's
    arrival is the later one; otherwise a dated and an undated text cannot be ordered (arrival order says
    nothing about a back-filled, dated article) and the direction is left unknown.
    """
    if a.published_at and b.published_at:
        if a.published_at != b.published_at:
            return "a" if a.published_at > b.published_at else "b"
    elif a.published_at and a.published_at > b.arrived_at:
        return "a"
    elif b.published_at and b.published_at > a.arrived_at:
        return "b"
    elif a.published_at or b.published_at:
        return None
    if a.order == b.order:
        return None
    return "a" if a.order > b.order else "b"


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
    compiled = _shared_count is not None and a.dtype == b.dtype == np.uint32 and a.flags.c_contiguous \
        and b.flags.c_contiguous
    shared = _shared_count(a, b) if compiled else -1  # type: ignore[misc]
    if shared < 0:
        shared = int(np.intersect1d(a, b, assume_unique=True).size)
    union = len(a) + len(b) - shared
    return Scores(shared / union, shared / min(len(a), len(b)), shared, len(a), len(b))


_frozen = False


def warm_up(dictionaries: bool = True) -> None:
    """Load the dictionaries now, not inside the first request (about a second); with `dictionaries` False each
    loads when first needed (a command that reads one text may need none: jieba's segmentation is rare).

    Then, once per process, move everything start-up created (modules, dictionaries) out of the
    garbage collector's sight: those objects live as long as the process, and every full
    collection would otherwise walk all of them again (about 30 ms each, a tenth of ingest time).
    """
    global _frozen
    if dictionaries:
        names.warm_up()
        to_simplified("预热")
        fastpath.fold_table()
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


class VerdictMemo:
    """Verdicts by the pair of normalized texts they were made on.

    A verdict depends only on the two texts (and the engine's fixed decision config), and a story's
    reposts often normalize to the same text, so the same pair comes back again and again. Keys are
    the texts themselves (and which one came later, which decides partial copies): equality is exact,
    and the strings are already held by the known-article cache. A pair is stored once, under its texts
    in sorted order (the time order swapped with them; the conflicts of a non-duplicate verdict may name
    the texts either way round). Oldest entries go
    first once `size` is reached: at 20,000 pairs the memo holds at most a few tens of MB, the texts
    mostly shared with the known-article cache.
    """

    def __init__(self, config: DecisionConfig, size: int = 20_000) -> None:
        self.config = config
        self.size = size
        self._items: dict[tuple[str, str, Later, Titles], Verdict] = {}

    def decide(self, text_a: str, text_b: str, shingles_a: Callable[[], np.ndarray],
               shingles_b: Callable[[], np.ndarray], later: Later = None, titles: Titles = _NO_TITLES) -> Verdict:
        if text_b < text_a:
            text_a, text_b, shingles_a, shingles_b = text_b, text_a, shingles_b, shingles_a
            later, titles = _SWAP[later], (titles[1], titles[0])
        key = (text_a, text_b, later, titles)
        verdict = self._items.get(key)
        if verdict is None:
            verdict = decide(text_a, text_b, shingles_a(), shingles_b(), self.config, later=later, titles=titles)
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


def cut_from(verdict: Verdict, part_size: int, whole_size: int, config: DecisionConfig) -> bool:
    """Is a text of `part_size` shingles, with this verdict against a text of `whole_size`, a part cut from that
    text: a duplicate by containment alone (not similar as a whole) and the smaller side. Excerpts of one
    source are one story with it, and so with each other, though neither contains the other."""
    return verdict.is_duplicate and verdict.scores.jaccard < config.jaccard and part_size < whole_size


def decide(text_a: str, text_b: str, sh_a: np.ndarray, sh_b: np.ndarray, config: DecisionConfig,
           *, later: Later = None, titles: Titles = _NO_TITLES) -> Verdict:
    """Duplicate or not, from exact scores; `later` names the text that came later, `titles` are the two
    articles' headlines (when known).

    Direction decides partial copies: a later, shorter text contained in an earlier, longer one is an
    excerpt repost (duplicate), but a later article many times longer that quotes an earlier brief or
    statement in full (a commentary, follow-up, round-up or timeline) is a new article. A pair similar as a whole
    (Jaccard at or above the threshold) is a repost whichever came first; with `later` unknown only the
    scores decide. Headlines that state different facts of one kind (`6注` / `1396注`) make alike bodies two
    events: a successive update or the next draw often keeps its body and puts its news on top.
    """
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
    if scores.jaccard < config.jaccard and later is not None and _longer(scores) == later and _absorbed(scores):
        return Verdict(
            False, scores,
            f"the later, longer text contains the earlier one (containment {scores.containment:.2f}, jaccard "
            f"{scores.jaccard:.2f} < {config.jaccard}): a new article quoting it, not a repost",
        )
    leads = _own_leads(text_a, text_b) if scores.jaccard < config.jaccard else None
    if leads:
        return Verdict(
            False, scores,
            f"each text opens with a passage the other lacks ({leads[0]} / {leads[1]} characters): the shared part "
            f"is reused material under two articles' own leads (jaccard {scores.jaccard:.2f} < {config.jaccard})",
        )
    headline = headline_conflicts(*titles, text_a, text_b)
    if headline:
        shown = "; ".join(f"{c.a} / {c.b}" for c in headline[:3])
        return Verdict(False, scores, f"different events: the headlines state different facts ({shown})", headline)
    if text_a == text_b:
        conflicts: tuple[Conflict, ...] = ()
    elif scores.jaccard < config.jaccard:
        conflicts = _excerpt_conflicts(text_a, text_b, scores)
    else:
        conflicts = _conflicts(text_a, text_b)
    if conflicts:
        shown = "; ".join(f"{c.a} / {c.b}" for c in conflicts[:3])
        return Verdict(False, scores, f"template twin: differing facts ({shown})", conflicts)
    if scores.jaccard >= config.jaccard:
        return Verdict(True, scores, f"jaccard {scores.jaccard:.2f} >= {config.jaccard}, no differing facts")
    return Verdict(
        True, scores,
        f"containment {scores.containment:.2f} >= {config.containment} (excerpt or cut repost), no differing facts",
    )


# Characters of the long text kept on each side of the passage an excerpt aligns with, as a share of the
# excerpt's length (room for an edited edge; the guard takes the extra as a cut).
_EXCERPT_MARGIN = 0.2


def _excerpt_conflicts(text_a: str, text_b: str, scores: Scores) -> tuple[Conflict, ...]:
    """Differing facts of a containment match, looked for where the shorter text sits in the longer one.

    Compared end to end, a short passage and a long text differ mostly by everything the passage leaves
    out, and a substituted figure inside the passage drowns in that; compared with the passage of the long
    text it aligns with (plus a margin), the substitution shows, as between two texts of one length.
    """
    short_is_a = scores.size_a < scores.size_b
    short, long = (text_a, text_b) if short_is_a else (text_b, text_a)
    if len(long) <= len(short) * (1 + 2 * _EXCERPT_MARGIN):
        return _conflicts(text_a, text_b)
    span = _span_in(short, long)
    if span is None:
        return _conflicts(text_a, text_b)
    start, end = span
    margin = int(len(short) * _EXCERPT_MARGIN)
    passage = _matched_span(short, long[max(0, start - margin):end + margin])
    return _conflicts(short, passage) if short_is_a else _conflicts(passage, short)


_PROBE = 12
_PROBES = 16


def _span_in(short: str, long: str) -> tuple[int, int] | None:
    """Where `short` starts and ends in `long`, from probes (short runs of `short` found verbatim in `long`),
    or None when none is found. The start is the median offset the probes imply; the end is where the last
    probes say the short text's end lands, at least `len(short)` past the start: a text condensed from the long
    one throughout (an edited repost) spreads over more of it than its own length, and a window cut at its
    length would drop the matched passages of its second half. Linear string searches, where a fuzzy
    alignment of a long excerpt in a long text costs tens of milliseconds."""
    step = max(1, (len(short) - _PROBE) // _PROBES)
    found = [(at, pos) for at in range(0, max(1, len(short) - _PROBE + 1), step)
             if (pos := long.find(short[at:at + _PROBE])) >= 0]
    if not found:
        return None
    offsets = sorted(pos - at for at, pos in found)
    start = offsets[len(offsets) // 2]
    ends = [pos + len(short) - at for at, pos in found if pos >= start]
    return start, max([start + len(short), *ends])


# Shorter common runs do not mark where a copied passage starts or ends.
_ANCHOR_RUN = 6
# Characters kept past the first and last shared runs: a date or figure right at the edge of a cut item
# (`…将于11月29日至` vs `…将于6月2日至6日`) is a fact the twin guard reads there, not an edge to drop.
_EDGE_REACH = 12


def _matched_span(short: str, passage: str) -> str:
    """`passage` cut to the span between its first and last runs shared with `short` (plus a few characters):
    what the excerpt added at an edge (its own lead-in, a credit) then faces nothing, as a cut repost's edge
    does."""
    runs = [op for op in Indel.opcodes(short, passage)
            if op.tag == "equal" and op.dest_end - op.dest_start >= _ANCHOR_RUN]
    if not runs:
        return passage
    return passage[max(0, runs[0].dest_start - _EDGE_REACH):runs[-1].dest_end + _EDGE_REACH]


# An earlier text under this share of the later, longer one is absorbed by it (a round-up, a timeline, a
# commentary quoting a brief); above it, the later text is the earlier one extended (a flash and its update,
# a context paragraph added), which the judgement rules count as the same item.
_ABSORBED = 0.25
# What a later text quotes in full is a brief or a statement: a few short paragraphs (shingles are about
# characters). A longer earlier text found whole in a later one is not quoted but extended or cut from: the
# later text is its fuller version (a flash and the full report, a news item and the notice it excerpts, whose
# arrival order says little when a crawl delivers undated pages in file order).
_BRIEF = 500


def _absorbed(scores: Scores) -> bool:
    short, long = sorted((scores.size_a, scores.size_b))
    return short < _BRIEF and short < _ABSORBED * long


def _longer(scores: Scores) -> Later:
    """The side with more shingles (a containment-only match never has two equal sides)."""
    if scores.size_a == scores.size_b:
        return None
    return "a" if scores.size_a > scores.size_b else "b"


# An opening the other text lacks is a lead of its own when it is at least this share of the shorter text and
# this many units (a repeated headline, a dateline or an outlet's `据…消息` is 20-50 characters), and when it
# tells other news: under this share of its unit pairs (bigrams) occur anywhere in the other text. A lead that
# restates the shared passage (an outlet's summary on top of a relayed statement) holds about half of them.
_LEAD_SHARE = 0.1
_LEAD_MIN = 50
_LEAD_ECHO = 0.25


def _own_leads(text_a: str, text_b: str) -> tuple[int, int] | None:
    """The units each text opens with before the first passage they share, when both are leads of their own.

    A containment match says the smaller text is held in the larger one: an excerpt or a cut copy, whose
    unshared edges are a dateline, a credit, a repeated headline or a summary of what follows. When each text
    instead opens with a lead of its own, about something else and absent from the other text, neither is the
    other cut or extended at the ends: two articles tell their own news and reuse one passage (a symptom list,
    a background paragraph) after it. Such a pair is a repost only when alike as a whole (Jaccard).
    """
    first, second = sorted((text_a, text_b))
    units_1, units_2, found = shared_tiles(first, second)
    if not found:
        return None
    lead_1, lead_2 = min(t.i for t in found), min(t.j for t in found)
    need = max(_LEAD_MIN, _LEAD_SHARE * min(len(units_1.keys), len(units_2.keys)))
    if min(lead_1, lead_2) < need:
        return None
    echoes = (_echo(units_1.keys[:lead_1], units_2.keys), _echo(units_2.keys[:lead_2], units_1.keys))
    if max(echoes) >= _LEAD_ECHO:
        return None
    return (lead_1, lead_2) if first == text_a else (lead_2, lead_1)


def _echo(lead: str, other: str) -> float:
    """The share of the lead's unit pairs found anywhere in the other text."""
    pairs = {lead[k:k + 2] for k in range(len(lead) - 1)}
    if not pairs:
        return 0.0
    return len(pairs & {other[k:k + 2] for k in range(len(other) - 1)}) / len(pairs)

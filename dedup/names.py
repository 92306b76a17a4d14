"""Is a substituted passage a name, place, organisation or time on both sides? (jieba's dictionary)

A typo garbles a word into stray characters or a common word; a template twin puts another
proper name or time in the same slot. Direct dictionary lookups screen cheaply; jieba's
segmentation of a small window confirms.
"""

from __future__ import annotations

from functools import lru_cache

# jieba part-of-speech tags of facts: times, person/place/organisation/other proper names.
# jieba's HMM stays off: its guesses tag typo-garbled characters as names.
_FACT_TAGS = ("t", "nr", "ns", "nt", "nz")
# Single characters that stand for a country or place (法, 俄, 美, 德).
_ABBREVIATION_TAGS = ("j", "ns")
_CONTEXT = 6
_LONGEST_WORD = 8


@lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's dictionary: word -> part-of-speech tag (loaded once, ~1 s)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)
    jieba.initialize()
    return jieba.posseg.dt.word_tag_tab


def warm_up() -> None:
    """Load jieba's dictionary now, not inside the first request (about a second)."""
    _word_tags()


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


def names_differ(a: str, i1: int, i2: int, b: str, j1: int, j2: int, *, known_on_both_sides: bool = False) -> bool:
    """The words over the substitution are names, places, organisations or times on both sides.

    A typo garbles a word into characters or a common word, so it does not yield fact words on both
    sides. A single substituted abbreviation (法/俄 in 法文版/俄文版) counts too. Dictionary lookups
    screen first; jieba's segmentation, a hundred times dearer, confirms what they let through.
    `known_on_both_sides` turns off the one case that accepts a word the dictionary lacks.
    """
    if i2 - i1 == 1 and j2 - j1 == 1:
        tags = _word_tags()
        if tags.get(a[i1], "") in _ABBREVIATION_TAGS and tags.get(b[j1], "") in _ABBREVIATION_TAGS:
            return True
    fact_a, fact_b = _is_fact_over(a, i1, i2), _is_fact_over(b, j1, j2)
    if fact_a and fact_b:
        return _segmented_as_facts(a, i1, i2) and _segmented_as_facts(b, j1, j2)
    # A whole word replaced by another: one side a name the dictionary knows, the other a word it does not
    # know at all (a name like 米锋 for 王建国). Both spans must be two characters or more (a typo changes
    # one), and a known common word on the other side (来时 for 四点) reads as a typo, not as a name.
    if fact_a != fact_b and not known_on_both_sides and i2 - i1 >= 2 and j2 - j1 >= 2:
        unknown = b[j1:j2] if fact_a else a[i1:i2]
        if unknown not in _word_tags():
            return _segmented_as_facts(a, i1, i2) if fact_a else _segmented_as_facts(b, j1, j2)
    return False

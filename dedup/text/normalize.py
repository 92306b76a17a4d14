"""One ordered normalization: what a repost changes is folded away, what a story says is kept.

The order matters and each step relies on the ones before it; see the comments in
`normalize_text`. The result is the text every signature and every comparison uses.
Punctuation goes before the per-character folds (NFKC, t2s) because those are the
costly steps and text without punctuation is mostly already NFKC-normal.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from dedup.config import NormalizationConfig
from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.text import compiled_fold as fastpath
from dedup.text.boilerplate import strip_boilerplate
from dedup.text.extract import extract
from dedup.text.pagecode import drop_code_lines
from dedup.text.script_variants import to_simplified

CJK_CLASS = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\U00020000-\U0003134f"
_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ"
# A pinyin syllable: optional initial, a final. Tone marks optional, so "(zhang)" also goes.
_SYLLABLE = rf"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?[aeiouv{_TONED}]{{1,4}}(?:ng|n|r)?"
# `建設(shè)`: a parenthesised run of lowercase pinyin syllables right after a CJK character.
# Uppercase (GDP), CJK (扩大) and non-pinyin words (app) do not match.
_PINYIN_NOTE = re.compile(rf"[(（](?:{_SYLLABLE}){{1,3}}[)）]")
_CJK_CHAR = re.compile(rf"[{CJK_CLASS}]")
_WORD_RUN = re.compile(r"[^\W_]+")
# Letters of alphabetic scripts (Latin, Greek, Cyrillic...): only they keep spaces between words.
_ALPHABETIC = re.compile(r"[A-Za-z\u00c0-\u024f\u0370-\u052f\uff21-\uff3a\uff41-\uff5a]")


# The steps the compiled fold does together; it is used only when all of them are on.
_FOLD_ALL = frozenset({"drop_punctuation", "fold_width", "to_simplified", "lowercase"})


@lru_cache(maxsize=8)
def _switches(config: NormalizationConfig) -> frozenset[str]:
    return frozenset(name for name in _FOLD_ALL if getattr(config, name))


@dataclass(frozen=True)
class Normalized:
    text: str
    title: str | None
    date: str | None
    # (key, normalized line) of each learnable line kept; filled only when learned boilerplate was asked for
    lines: tuple[tuple[int, str], ...] = ()
    # lines removed as page script/style or as learned boilerplate: an empty text with some is boilerplate only
    dropped: int = 0


def strip_pinyin(text: str) -> str:
    """Drop pinyin notes that directly follow a CJK character (one space allowed between)."""
    if "(" not in text and "（" not in text:
        return text
    parts: list[str] = []
    last = 0
    for match in _PINYIN_NOTE.finditer(text):
        start = match.start()
        before = start - 1 if start > 0 and text[start - 1] not in " \u3000" else start - 2
        if before >= 0 and _CJK_CHAR.match(text, before) and before >= last - 1:
            parts.append(text[last:before + 1])
            last = match.end()
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def _is_spaced_letter(ch: str) -> bool:
    """Letters of alphabetic scripts keep a space between words; CJK characters and digits do not."""
    return ch.isalpha() and ord(ch) < 0x2E80


# What stands between two numbers decides what the normalized text keeps there: a decimal point stays a
# point (150.33 is not 15033), other punctuation becomes one separator (12.9%、13.7% is not 12.913.7),
# and only spaces (sprinkled into a repost) join the digits as before.
DECIMAL_POINTS = frozenset(".\uff0e")
NUMBER_SEPARATOR = "/"


def _joint(last: str, gap: str, first: str, spaced: bool) -> str:
    """What to write between two word runs, given the last character of one, the gap and the next's first."""
    if last.isdecimal() and first.isdecimal():
        marks = gap.strip()
        if not marks:
            return ""
        return "." if marks in DECIMAL_POINTS else NUMBER_SEPARATOR
    if spaced and _is_spaced_letter(last) and _is_spaced_letter(first):
        return " "
    return ""


def drop_punctuation(text: str, *, accelerated: bool = True) -> str:
    """Punctuation, symbols, `??` mojibake and U+FFFD go; spaces sprinkled between CJK or digits go; a
    decimal point between digits stays, and other punctuation between two numbers leaves one separator.

    The C accelerator gives the same result in one pass; this regex path is its fallback and reference.
    """
    if accelerated and _native is not None:
        return _native.drop_punctuation(text)
    spaced = _ALPHABETIC.search(text) is not None
    out: list[str] = []
    end = 0
    for match in _WORD_RUN.finditer(text):
        run = match.group()
        if out:
            out.append(_joint(out[-1][-1], text[end:match.start()], run[0], spaced))
        out.append(run)
        end = match.end()
    return "".join(out)


def _drop_learned(text: str, learned: Collection[int],
                  title: str | None) -> tuple[str, tuple[tuple[int, str], ...], int]:
    """Lines whose key is learned boilerplate go, unless they restate the article's own title (a sidebar
    headline is this article's headline here); the keys of the learnable lines that stay are returned."""
    from dedup.text.learned_boilerplate import fold_title, line_key, restates_title, title_grams  # learned imports
    # this module

    grams: list[str] | None = None  # the title's words, only once a learned line asks for them (rarely)
    kept: list[str] = []
    keys: dict[int, str] = {}
    all_lines = text.splitlines()
    for line in all_lines:
        keyed = line_key(line)
        if keyed is not None:
            if keyed[0] in learned:
                if grams is None:
                    grams = title_grams(fold_title(title))
                if not restates_title(keyed[1], grams):
                    continue
            keys.setdefault(*keyed)
        kept.append(line)
    return "\n".join(kept), tuple(keys.items()), len(all_lines) - len(kept)


def delete_noise(text: str, config: NormalizationConfig) -> tuple[str, int]:
    """Normalization's deleting steps 1b-3, in their order, and how many page code lines went. One function for
    the normalizer and for the map back to the published text (dedup.text.source_map), so both delete alike."""
    dropped = 0
    # 1b. Page script and style captured as text lines (recognised by their statistics).
    if config.drop_code:
        text, dropped = drop_code_lines(text)
    # 2. Pinyin notes need parentheses and case (to tell `(shè)` from `(GDP)`).
    if config.strip_pinyin:
        text = strip_pinyin(text)
    # 3. Boilerplate lines and notes: needs line breaks, pinyin gone, and punctuation. Its patterns match
    #    every script and width, so it runs before folding.
    if config.drop_boilerplate:
        text = strip_boilerplate(text)
    return text, dropped


def normalize_text(raw: str, config: NormalizationConfig, *, is_html: bool | None = None,
                   learned: Collection[int] | None = None, headline: str | None = None,
                   compiled: bool = True) -> Normalized:
    """The normalized text; with `learned` (keys of learned boilerplate lines) those lines go too, except
    lines about the article's `headline` (else the title found in the markup), and the keys of the remaining lines come
    back for learning. `compiled=False` runs the Python reference for every step (tests and benchmarks
    compare the two; the result is the same)."""
    title = date = None
    text = raw
    lines: tuple[tuple[int, str], ...] = ()
    # 1. Markup out first: front matter gives title/date; HTML/Markdown give reader-visible text,
    #    entities unescaped, scripts/styles/navigation dropped.
    if config.extract_markup:
        extracted = extract(text, is_html=is_html)
        text, title, date = extracted.text, extracted.title, extracted.date
    # 1b-3. Page code lines, pinyin notes, boilerplate lines and notes (delete_noise, in that order).
    text, dropped = delete_noise(text, config)
    # 3b. Lines learned as this stream's boilerplate (dedup.text.learned_boilerplate): needs the lines, before they
    # join.
    if learned is not None:
        text, lines, removed = _drop_learned(text, learned, headline or title)
        dropped += removed
    # 4-7 at once, compiled, when every kept character folds on its own (see dedup.text.compiled_fold).
    if compiled and _FOLD_ALL <= _switches(config):
        folded = fastpath.fold(text)
        if folded is not None:
            return Normalized(text=folded, title=title, date=date, lines=lines, dropped=dropped)
    # 4. Punctuation out, before the costly per-character folds.
    if config.drop_punctuation:
        text = drop_punctuation(text, accelerated=compiled)
    # 5. Width folding (NFKC): full-width letters and digits, compatibility forms. Rarely needed
    #    once punctuation is gone; folding may create punctuation (⑴ -> (1)), so drop it again.
    if config.fold_width and not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
        if config.drop_punctuation:
            text = drop_punctuation(text, accelerated=compiled)
    # 6. Traditional (mainland, Taiwan, Hong Kong variants) to simplified.
    if config.to_simplified:
        text = to_simplified(text)
    # 7. Lowercase Latin letters.
    if config.lowercase:
        text = text.lower()
    return Normalized(text=text, title=title, date=date, lines=lines, dropped=dropped)

"""The compiled normalization path: which parts of it this process runs, and the table it folds with.

`dedup/text/normalize.py` stays the reference. The compiled fold (`_native.fold_text`) does its steps 4-7
(punctuation, width, traditional to simplified, case) in one pass for texts where they reduce to one
character at a time: every kept character is NFKC-stable and cannot compose with its neighbour, is no
character OpenCC's t2s converts, the text holds none of the few phrases t2s converts although none of
their characters converts alone (回覆; so OpenCC would copy the text: its phrase conversion runs only where
such characters occur), and every character lowercases to one character without context. The table says, for each BMP
character, what the reference turns it into, or that the text must go the reference way. It is derived
here, at first use, from the reference's own sources: OpenCC's dictionaries (dumped with the `opencc_dict`
tool the opencc package ships), `script.variant_fold_table`, `unicodedata` and `str.lower`. A second table, built
in the same pass, folds without the script step: the learned-boilerplate line keys (`fold_line`).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
import unicodedata
from array import array
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path

import opencc

from dedup.sketch.native import _native  # the optional C accelerator, or None
from dedup.text.script_variants import variant_fold_table

log = logging.getLogger(__name__)

REFERENCE = 0xFFFFFFFF  # a table entry: this character needs the reference steps
PHRASE = 0x80000000  # a table entry's flag: this character marks converting phrases (see Triggers)
_T2S_DICTS = ("CJK_Compatibility_Ideographs", "TSPhrases", "TSCharactersExt", "TSCharacters")
_HANGUL_VOWELS_AND_TAILS = (range(0x1161, 0x1176), range(0x11A8, 0x11C3))


def _opencc_dir() -> Path:
    return Path(opencc.__file__).parent / "clib"


def _dump_entries(name: str, folder: Path) -> dict[str, bool]:
    """Keys of one OpenCC dictionary and whether each converts (its first value differs from it), read from
    the dictionary's text dump (`opencc_dict` ships with the package)."""
    clib = _opencc_dir()
    target = folder / f"{name}.txt"
    env = {**os.environ, "LD_LIBRARY_PATH": str(clib / "lib64")}
    subprocess.run([str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"),
                    "-o", str(target), "-f", "ocd2", "-t", "text"], check=True, capture_output=True, env=env,
                   timeout=60)
    entries: dict[str, bool] = {}
    for line in target.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if key:
            entries[key] = entries.get(key, False) or values.split(" ")[0] != key
    return entries


@dataclass(frozen=True)
class Triggers:
    """What makes OpenCC's t2s change a text: without a `converting` character and without any of the
    `phrases`, it copies the text unchanged (every key it could match would give itself back).

    `converting`: one-character keys that convert. `phrases`: the converting phrases none of whose characters
    converts alone (回覆 -> 回复); `phrase_marks` holds one character of each, so a text without them holds
    none of these phrases."""

    converting: frozenset[str]
    phrases: tuple[str, ...]
    phrase_marks: frozenset[str]


@lru_cache(maxsize=1)
def t2s_triggers() -> Triggers | None:
    """Read from OpenCC's dictionaries; None when they cannot be read (then the fold is not used)."""
    try:
        with tempfile.TemporaryDirectory(prefix="dedup-opencc-keys-") as tmp:
            dumps = [_dump_entries(name, Path(tmp)) for name in _T2S_DICTS]
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError) as exc:
        log.warning("OpenCC's dictionaries could not be read (%s): normalization runs the Python path", exc)
        return None
    converts: dict[str, bool] = {}
    for entries in dumps:
        for key, changes in entries.items():
            converts[key] = converts.get(key, False) or changes
    single = {key for key in converts if len(key) == 1}
    converting = frozenset(key for key in single if converts[key])
    phrases = sorted((key for key, changes in converts.items()
                      if changes and len(key) > 1 and not converting.intersection(key)), key=lambda k: (-len(k), k))
    # a phrase's mark: one of its characters that is itself a key (it does not convert alone), else any
    marks = frozenset(max(single.intersection(phrase) or phrase) for phrase in phrases)
    return Triggers(converting, tuple(phrases), marks)


@lru_cache(maxsize=1)
def _phrase_pattern() -> re.Pattern[str]:
    """The converting phrases as one regex: the reference for `holds_phrase`."""
    triggers = t2s_triggers()
    return re.compile("|".join(map(re.escape, triggers.phrases if triggers else ())) or "(?!)")


@lru_cache(maxsize=1)
def _phrases_by_mark() -> tuple[tuple[str, tuple[tuple[str, int], ...]], ...]:
    """For each phrase mark, the phrases holding it and where: every phrase holds a mark, so an occurrence of a
    phrase is found from an occurrence of one of its marks."""
    triggers = t2s_triggers()
    if triggers is None:
        return ()
    by_mark: dict[str, list[tuple[str, int]]] = {}
    for phrase in triggers.phrases:
        for offset, ch in enumerate(phrase):
            if ch in triggers.phrase_marks:
                by_mark.setdefault(ch, []).append((phrase, offset))
    return tuple((mark, tuple(entries)) for mark, entries in sorted(by_mark.items()))


def holds_phrase(text: str) -> bool:
    """Whether a converting phrase occurs in `text` (what `_phrase_pattern().search` says), read only where a
    mark occurs: 坏 is a common simplified character and marks a tenth of the phrases, so about half of all news
    texts ask, and a search of the 110-phrase alternation over a whole text costs ~30 us."""
    for mark, entries in _phrases_by_mark():
        at = text.find(mark)
        while at >= 0:
            for phrase, offset in entries:
                if at >= offset and text.startswith(phrase, at - offset):
                    return True
            at = text.find(mark, at + 1)
    return False


# Where canonical decompositions can be: everything below the ideographs of plane 2, except the unified CJK
# ideographs (never decomposed), the Hangul syllables (decomposed by rule, not listed), surrogates and private use.
# Skipping those makes the scan of `_composes_after` a tenth of all code points; a test checks it against the
# full scan.
_DECOMPOSABLE = (range(0x3400), range(0xA000, 0xAC00), range(0xD7A4, 0xD800), range(0xF900, 0x20000),
                 range(0x2F800, 0x2FA20))


def _composes_after(ranges: tuple[range, ...] = _DECOMPOSABLE) -> set[int]:
    """Characters that can combine with the one before them under NFKC (quick check 'maybe')."""
    seconds = {c for r in _HANGUL_VOWELS_AND_TAILS for c in r}
    decomposition = unicodedata.decomposition
    for code in chain.from_iterable(ranges):
        parts = decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    return seconds


def _needs_reference(ch: str, composing: set[int]) -> bool:
    """Whether a character's fold depends on more than itself (NFKC, composition, combining, context case)."""
    return (ord(ch) in composing or unicodedata.combining(ch) != 0
            or unicodedata.normalize("NFKC", ch) != ch or ch == "\u03a3" or len(ch.lower()) != 1)


@lru_cache(maxsize=1)
def _tables() -> tuple[bytes, bytes] | None:
    """The fold table and the line table, built in one pass over the BMP (see `fold_table`, `line_table`)."""
    if _native is None or not hasattr(_native, "fold_text"):
        return None
    triggers = t2s_triggers()
    if triggers is None:
        return None
    folds = variant_fold_table()
    composing = _composes_after()
    table, lines = array("I", range(0x10000)), array("I", range(0x10000))
    for code in range(0x10000):
        ch = chr(code)
        if not ch.isalnum():
            continue  # dropped with the punctuation; never looked up
        if _needs_reference(ch, composing):
            table[code] = lines[code] = REFERENCE
            continue
        lines[code] = ord(ch.lower())
        folded = folds.get(code, ch).lower()
        if ch in triggers.converting or len(folded) != 1:
            table[code] = REFERENCE
        else:
            table[code] = ord(folded) | (PHRASE if ch in triggers.phrase_marks else 0)
    return table.tobytes(), lines.tobytes()


def fold_table() -> bytes | None:
    """65,536 native uint32: each BMP character as normalize_text's steps 5-7 leave it (PHRASE-flagged when
    it marks a converting phrase), or REFERENCE.
    None when the compiled fold cannot be used (no extension, or OpenCC's keys unreadable)."""
    tables = _tables()
    return tables[0] if tables is not None else None


def line_table() -> bytes | None:
    """The fold table without the script conversion: each BMP character as width folding and lowercasing leave
    it, or REFERENCE (the learned-boilerplate line keys, dedup.text.learned_boilerplate, fold this way)."""
    tables = _tables()
    return tables[1] if tables is not None else None


_disabled: set[str] = set()


def disable(*features: str) -> None:
    """Turn compiled features ("fold", "sign") off for this process, or back on with `enable`: benchmarks
    measure the paths side by side in one run. Results are the same either way."""
    _disabled.update(features)


def enable(*features: str) -> None:
    _disabled.difference_update(features)


def sign_enabled() -> bool:
    return "sign" not in _disabled


def fold(text: str) -> str | None:
    """normalize_text's steps 4-7 (all on) in one compiled pass; None when the text needs the reference."""
    table = fold_table()
    if table is None or "fold" in _disabled or _native is None:
        return None
    folded = _native.fold_text(text, table)
    if isinstance(folded, tuple):  # a character of a converting phrase: fold unless the phrase itself is there
        folded, plain = folded
        if holds_phrase(plain):
            return None
    return folded


def fold_line(text: str) -> str | None:
    """A line's punctuation out, width folded and lowercased (`learned_boilerplate._fold`) in one compiled pass;
    None when the line needs the reference."""
    table = line_table()
    if table is None or "fold" in _disabled or _native is None:
        return None
    return _native.fold_text(text, table)


def compiled_features() -> dict[str, bool]:
    """Which compiled parts this process uses, for start-up logs, `dedup --version` and `/healthz`.

    Keys: `extension` (dedup/_native built and importable: punctuation, shingles, MinHash, band index and
    screening run compiled), `fold` (normalization's punctuation, width, script and case steps in one
    compiled pass for texts that need no OpenCC phrase conversion), `sign` (shingles and MinHash of a text
    in one call). Computing `fold` builds the fold table (well under a second, once per process)."""
    extension = _native is not None
    return {"extension": extension, "fold": fold_table() is not None and "fold" not in _disabled,
            "sign": extension and hasattr(_native, "sign") and sign_enabled()}


def describe() -> str:
    """One line for logs: which normalization and signing path runs."""
    features = compiled_features()
    if not features["extension"]:
        return "normalization and signing: Python path (dedup.sketch._native not built)"
    used = ", ".join(name for name, on in features.items() if on)
    missing = ", ".join(name for name, on in features.items() if not on)
    return f"normalization and signing: compiled ({used})" + (f"; Python path for {missing}" if missing else "")

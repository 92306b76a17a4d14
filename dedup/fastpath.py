"""The compiled normalization path: which parts of it this process runs, and the table it folds with.

`dedup/normalize.py` stays the reference. The compiled fold (`_native.fold_text`) does its steps 4-7
(punctuation, width, traditional to simplified, case) in one pass for texts where they reduce to one
character at a time: every kept character is NFKC-stable and cannot compose with its neighbour, appears
in no key of OpenCC's t2s dictionaries (so OpenCC would copy it: its phrase conversion runs only where
such a character occurs), and lowercases to one character without context. The table says, for each BMP
character, what the reference turns it into, or that the text must go the reference way. It is derived
here, at first use, from the reference's own sources: OpenCC's dictionaries (dumped with the `opencc_dict`
tool the opencc package ships), `script.variant_fold_table`, `unicodedata` and `str.lower`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
import unicodedata
from array import array
from functools import lru_cache
from pathlib import Path

import opencc

from .script import variant_fold_table

try:
    from . import _native
except ImportError:  # pragma: no cover - built without a compiler
    _native = None

log = logging.getLogger(__name__)

REFERENCE = 0xFFFFFFFF  # a table entry: this character needs the reference steps
_T2S_DICTS = ("CJK_Compatibility_Ideographs", "TSPhrases", "TSCharactersExt", "TSCharacters")
_HANGUL_VOWELS_AND_TAILS = (range(0x1161, 0x1176), range(0x11A8, 0x11C3))


def _opencc_dir() -> Path:
    return Path(opencc.__file__).parent / "clib"


def _dump_keys(name: str, folder: Path) -> list[str]:
    """Keys of one OpenCC dictionary, read from its text dump (`opencc_dict` ships with the package)."""
    clib = _opencc_dir()
    target = folder / f"{name}.txt"
    env = {**os.environ, "LD_LIBRARY_PATH": str(clib / "lib64")}
    subprocess.run([str(clib / "bin" / "opencc_dict"), "-i", str(clib / "share" / "opencc" / f"{name}.ocd2"),
                    "-o", str(target), "-f", "ocd2", "-t", "text"], check=True, capture_output=True, env=env,
                   timeout=60)
    keys = []
    for line in target.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if len(key) == 1 or (key and values.split(" ")[0] != key):  # identity phrases change nothing
            keys.append(key)
    return keys


@lru_cache(maxsize=1)
def t2s_triggers() -> frozenset[str]:
    """Characters without which OpenCC's t2s leaves a text unchanged: every one-character key, and one
    character of every phrase that converts (one of its one-character keys when it has one, which all
    do today). Empty when the dictionaries cannot be read: then the fold is not used."""
    try:
        with tempfile.TemporaryDirectory(prefix="dedup-opencc-keys-") as tmp:
            keys = [key for name in _T2S_DICTS for key in _dump_keys(name, Path(tmp))]
    except (OSError, subprocess.SubprocessError, UnicodeDecodeError) as exc:
        log.warning("OpenCC's dictionaries could not be read (%s): normalization runs the Python path", exc)
        return frozenset()
    single = {key for key in keys if len(key) == 1}
    triggers = set(single)
    for key in keys:
        if len(key) > 1 and not single.intersection(key):
            triggers.add(max(key))  # no one-character key in it: any of its characters will do
    return frozenset(triggers)


def _composes_after() -> set[int]:
    """Characters that can combine with the one before them under NFKC (quick check 'maybe')."""
    seconds = {c for r in _HANGUL_VOWELS_AND_TAILS for c in r}
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            seconds.add(int(parts[1], 16))
    return seconds


def _needs_reference(ch: str, triggers: frozenset[str], composing: set[int]) -> bool:
    return (ch in triggers or ord(ch) in composing or unicodedata.combining(ch) != 0
            or unicodedata.normalize("NFKC", ch) != ch or ch == "\u03a3" or len(ch.lower()) != 1)


@lru_cache(maxsize=1)
def fold_table() -> bytes | None:
    """65,536 native uint32: each BMP character as normalize_text's steps 5-7 leave it, or REFERENCE.
    None when the compiled fold cannot be used (no extension, or OpenCC's keys unreadable)."""
    if _native is None or not hasattr(_native, "fold_text"):
        return None
    triggers = t2s_triggers()
    if not triggers:
        return None
    folds = variant_fold_table()
    composing = _composes_after()
    table = array("I", range(0x10000))
    for code in range(0x10000):
        ch = chr(code)
        if not ch.isalnum():
            continue  # dropped with the punctuation; never looked up
        if _needs_reference(ch, triggers, composing):
            table[code] = REFERENCE
            continue
        folded = folds.get(code, ch).lower()
        table[code] = ord(folded) if len(folded) == 1 else REFERENCE
    return table.tobytes()


def fold(text: str) -> str | None:
    """normalize_text's steps 4-7 (all on) in one compiled pass; None when the text needs the reference."""
    table = fold_table()
    if table is None:
        return None
    return _native.fold_text(text, table)


def compiled_features() -> dict[str, bool]:
    """Which compiled parts this process uses, for start-up logs, `dedup --version` and `/healthz`.

    Keys: `extension` (dedup/_native built and importable: punctuation, shingles, MinHash, band index and
    screening run compiled), `fold` (normalization's punctuation, width, script and case steps in one
    compiled pass for texts that need no OpenCC phrase conversion), `sign` (shingles and MinHash of a text
    in one call). Computing `fold` builds the fold table (well under a second, once per process)."""
    extension = _native is not None
    return {"extension": extension, "fold": fold_table() is not None,
            "sign": extension and hasattr(_native, "sign")}


def describe() -> str:
    """One line for logs: which normalization and signing path runs."""
    features = compiled_features()
    if not features["extension"]:
        return "normalization and signing: Python path (dedup._native not built)"
    used = ", ".join(name for name, on in features.items() if on)
    missing = ", ".join(name for name, on in features.items() if not on)
    return f"normalization and signing: compiled ({used})" + (f"; Python path for {missing}" if missing else "")

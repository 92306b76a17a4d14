"""What normalization removed from an article's raw text, line by line, for display beside a comparison.

`explain` compares normalized texts, where captions' neighbours, copyright footers and source lines are already
gone; a reader comparing two reposts wants to see those too. Rather than re-implement the rules, each raw line
is normalized on its own and looked up in the article's normalized text: a line whose content is not there was
removed. The label says which boilerplate rule matches the line, so the page can say why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from dedup.config import NormalizationConfig
from dedup.text import boilerplate as bp
from dedup.text.extract import extract
from dedup.text.normalize import normalize_text, strip_pinyin

_MAX_LINES = 2_000


@dataclass(frozen=True)
class Removed:
    line: str  # the raw line (after markup extraction), or the inline note cut out of a story line
    kind: str  # notice | source | navigation | byline | link | note | other
    label: str  # a short human description


_LABELS = {
    "notice": "copyright / legal notice",
    "source": "source, editor or author line",
    "navigation": "navigation or share link",
    "byline": "byline or photo caption",
    "link": "bare link",
    "note": "inline source or byline note",
    "other": "removed by normalization",
}


def classify(line: str) -> str:
    """Which boilerplate rule a removed line matches (the first that does, notices first). Pinyin notes go
    first, as in normalization: `轉(zhuǎn)自:` is a source label only without its `(zhuǎn)`."""
    s = strip_pinyin(line).strip()
    if bp._NOTICE.search(s):
        return "notice"
    if bp._SOURCE_LINE.match(s):
        return "source"
    if bp._NAV_LINE.match(s):
        return "navigation"
    if bp._BYLINE_LINE.match(s):
        return "byline"
    if bp._URL.search(s) and not re.sub(bp._URL, "", s).strip(" \t<>()[]|｜"):
        return "link"
    return "other"


def removed_lines(raw: str, norm_text: str, config: NormalizationConfig | None = None,
                  *, is_html: bool | None = None) -> list[Removed]:
    """Raw lines (and inline notes) whose words do not reach `norm_text`, in reading order."""
    config = config or NormalizationConfig()
    text = extract(raw, is_html=is_html).text if config.extract_markup else raw
    plain = replace(config, extract_markup=False, drop_boilerplate=False)
    out: list[Removed] = []
    for line in text.splitlines()[:_MAX_LINES]:
        content = normalize_text(line, plain).text
        if not content:
            continue  # blank or punctuation only: nothing a reader would miss
        if content in norm_text:
            continue
        out.extend(_removed_from(line, norm_text, config))
    return out


def _removed_from(line: str, norm_text: str, config: NormalizationConfig) -> list[Removed]:
    """A story line that survived minus its notes reports only the notes; otherwise the whole line."""
    notes = [m.group(0) for pattern in (bp._SOURCE_NOTE, bp._BYLINE_NOTE) for m in pattern.finditer(line)]
    kept = normalize_text(line, replace(config, extract_markup=False)).text
    if notes and kept and kept in norm_text:
        return [Removed(note, "note", _LABELS["note"]) for note in notes]
    kind = classify(line)
    return [Removed(line.strip(), kind, _LABELS[kind])]

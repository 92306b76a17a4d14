"""Where each character of a normalized text came from in the article as a reader sees it.

Comparisons run on normalized text (no punctuation, no paragraphs, simplified script), but a reader wants the
highlights on the text as published. This maps every normalized character back to an offset in the reader-visible
text (markup stripped by `extract`, paragraphs and punctuation kept), and tells which visible characters
normalization removed (boilerplate lines, inline source notes, pinyin notes).

It reuses the normalizer's own steps instead of re-implementing them: the deleting steps (pinyin notes,
boilerplate) are run on the visible text and their output aligned back to it line by line (linear: they only
cut notes out, or put a space in their place); the folding steps
(punctuation, width, script, case) are applied one character at a time. Only lines the deleting steps changed
need a character alignment, so the cost stays near one normalization for ordinary articles.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

from dedup.config import NormalizationConfig
from dedup.text.extract import extract
from dedup.text.normalize import delete_noise, normalize_text

# How far ahead the character alignment looks to re-synchronise after a fold that is not one character for one
# (a phrase converted by OpenCC, a width fold that composes or expands).
_RESYNC = 4
# Characters of the output looked up to find where the visible text resumes after a cut.
_ANCHOR = 8
# Characters the normalizer writes that no visible character folds to: the space between two Latin words, the
# decimal point and the separator it keeps between numbers.
_INSERTED = frozenset(" ./")


@dataclass(frozen=True)
class SourceMap:
    """`starts[i]`/`ends[i]`: the span of `visible` that normalized character i came from (-1 when the
    normalizer inserted it: the space between two Latin words). `removed[k]`: visible characters normalization
    dropped although they were words (boilerplate, notes), not mere punctuation or spacing."""

    visible: str
    norm_text: str
    starts: list[int]
    ends: list[int]
    removed: list[bool]

    def span(self, start: int, end: int) -> tuple[int, int] | None:
        """The visible span of normalized characters [start, end), or None when none of them has a source."""
        firsts = [self.starts[i] for i in range(start, min(end, len(self.starts))) if self.starts[i] >= 0]
        lasts = [self.ends[i] for i in range(start, min(end, len(self.ends))) if self.ends[i] >= 0]
        return (min(firsts), max(lasts)) if firsts else None


def visible_text(raw: str, config: NormalizationConfig, *, is_html: bool | None = None) -> str:
    """The article as a reader sees it: markup out (when the normalizer extracts it), everything else kept."""
    return extract(raw, is_html=is_html).text if config.extract_markup else raw


@lru_cache(maxsize=1)
def _fold_config(config: NormalizationConfig) -> NormalizationConfig:
    return replace(config, extract_markup=False, drop_code=False, strip_pinyin=False, drop_boilerplate=False)


@lru_cache(maxsize=65_536)
def _fold(ch: str, config: NormalizationConfig) -> str:
    """One character through the folding steps: '' for punctuation and spaces, else its folded form."""
    return normalize_text(ch, _fold_config(config)).text


def _lines(text: str) -> list[tuple[int, str]]:
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        out.append((pos, line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")))
        pos += len(line)
    return out


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def kept_mask(visible: str, config: NormalizationConfig) -> list[bool]:
    """Which visible characters survive the deleting steps. Their output lines come from the visible lines in
    order, with notes cut out or replaced by a space; each is matched to the next line it can come from."""
    kept = [False] * len(visible)
    source = _lines(visible)
    i = 0
    # learned boilerplate depends on the stream, not the article: the alignment skips those lines
    for out_line in delete_noise(visible, config)[0].splitlines():
        needle = "".join(out_line.split())
        while i < len(source) and not _is_subsequence(needle, source[i][1]):
            i += 1
        if i == len(source):
            break
        offset, line = source[i]
        if out_line == line:
            kept[offset:offset + len(line)] = [True] * len(line)
        else:
            for pos in _kept_in_line(line, out_line):
                kept[offset + pos] = True
        i += 1
    return kept


def _kept_in_line(line: str, out: str) -> list[int]:
    """Positions of `line` that reach `out`, the same line with notes cut out or replaced by a space. Equal
    characters pair up; after a cut, the next few characters of `out` are looked up further along `line`
    (a cut is a note or a link, which does not repeat the words after it). Linear, unlike a general diff."""
    kept: list[int] = []
    i = j = 0
    while i < len(line) and j < len(out):
        if line[i] == out[j]:
            kept.append(i)
            i, j = i + 1, j + 1
        elif out[j].isspace():
            j += 1  # the space a cut left
        else:
            found = line.find(out[j:j + _ANCHOR], i + 1)
            if found < 0:
                found = line.find(out[j], i + 1)
            if found < 0:
                break
            i = found
    return kept


def source_map(raw: str, norm_text: str, config: NormalizationConfig | None = None,
               *, is_html: bool | None = None) -> SourceMap:
    """Map `norm_text` (the normalizer's output for `raw` under `config`) onto the reader-visible text."""
    config = config or NormalizationConfig()
    visible = visible_text(raw, config, is_html=is_html)
    kept = kept_mask(visible, config)
    folded: list[str] = []  # one folded character each, with the visible span it came from
    owners: list[tuple[int, int]] = []
    words = [False] * len(visible)  # characters that fold to something: not punctuation or spacing
    for pos, ch in enumerate(visible):
        piece = _fold(ch, config)
        words[pos] = bool(piece)
        if piece and kept[pos]:
            folded.extend(piece)
            owners.extend([(pos, pos + 1)] * len(piece))
    starts, ends = _align(norm_text, folded, owners)
    covered = [False] * len(visible)
    for start, end in zip(starts, ends):
        if start >= 0:
            covered[start:end] = [True] * (end - start)
    return SourceMap(visible, norm_text, starts, ends, [w and not c for w, c in zip(words, covered)])


def _align(norm: str, folded: list[str], owners: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Walk both sequences; equal characters pair up. A character only in `norm` was put there by the
    normalizer (a space between Latin words, a decimal point or a separator between numbers): it gets the
    visible gap it stands for. A run only in `folded` was dropped (lines learned as boilerplate). Any other
    difference is a fold that is not one-for-one: paired, then both look a few characters ahead to resync."""
    starts, ends = [-1] * len(norm), [-1] * len(norm)
    joined = "".join(folded)
    inserted: list[int] = []
    i = j = 0
    while i < len(norm) and j < len(folded):
        if norm[i] == folded[j]:
            starts[i], ends[i] = owners[j]
            i, j = i + 1, j + 1
        elif norm[i] in _INSERTED:
            inserted.append(i)
            i += 1
        elif (skip := joined.find(norm[i:i + _ANCHOR], j + 1)) > 0 and not _agrees(norm, folded, i, j):
            j = skip  # folded[j:skip] never reached the normalized text
        else:
            di, dj = _resync(norm, folded, i, j) or (1, 1)
            starts[i], ends[i] = owners[j][0], owners[min(j + dj, len(owners)) - 1][1]
            for k in range(i + 1, i + di):
                starts[k], ends[k] = starts[i], ends[i]
            i, j = i + di, j + dj
    for k in inserted:
        before = ends[k - 1] if k > 0 else -1
        after = next((starts[n] for n in range(k + 1, len(norm)) if starts[n] >= 0), -1)
        if 0 <= before < after:
            starts[k], ends[k] = before, after
    return starts, ends


def _agrees(norm: str, folded: list[str], i: int, j: int) -> bool:
    """Whether a small resync (a fold that is not one-for-one) explains the difference at (i, j)."""
    return _resync(norm, folded, i, j) is not None


def _resync(norm: str, folded: list[str], i: int, j: int) -> tuple[int, int] | None:
    """The smallest steps (di, dj) after which both sequences agree again for a few characters; None when
    none within reach."""
    for total in range(2, 2 * _RESYNC + 1):
        for di in range(1, min(total, _RESYNC + 1)):
            dj = total - di
            if dj > _RESYNC:
                continue
            ahead = norm[i + di:i + di + 3]
            if ahead and ahead == "".join(folded[j + dj:j + dj + len(ahead)]):
                return di, dj
    return None

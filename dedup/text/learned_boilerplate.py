"""Boilerplate learned from the stream: lines a site repeats under many different headlines.

Fixed patterns (dedup.text.boilerplate) know notices and source lines in general; every site also has
its own copyright footer, recruitment promo, sidebar of other headlines or share widget, and some
crawls deliver nothing else as the "text" of a page. Such a line is recognised by where it occurs:
under many articles whose titles have nothing in common, and it has nothing in common with those
titles either. A story paragraph recurs too (reposts, often retitled), but it shares words with the
headlines it runs under. So a title is evidence about a line only when the line holds (almost) none
of the title's character bigrams, and titles are compared with each other by their bigrams too: a
line counts as boilerplate once it has been seen under `min_titles` mutually dissimilar titles that
are not about it, within one scope (the article's source when it has one, else the whole corpus).

Lines are keyed by a hash of their normalized form (punctuation gone, width and case folded), so
the same footer in full-width or with other spacing is one line. The counts live in the store
(table `learned_boilerplate`), so every worker counts the same evidence and a restart keeps it;
each worker keeps the set of learned keys in memory and re-reads what other workers learned every
`refresh_seconds` (at once for the keys of an article it is counting).

An article that arrived before its footer was known carries the footer in its stored text and
signature. Each line remembers the articles that carried it (up to `CARRIERS`), and when it is
learned the engine re-normalizes and re-places those articles at once, so the early ones stop
matching through the footer too; the nightly re-cluster then sees only stripped texts.
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dedup.text.compiled_fold import fold_line
from dedup.text.normalize import drop_punctuation

# A line shorter than this (normalized) is not learned: short lines ("0", "胜负彩", a name) recur in
# unrelated stories as words do, and dropping them would change the story, not its furniture.
MIN_LINE_CHARS = 10
# Articles remembered per line, to re-sign when it is learned.
CARRIERS = 64
# Titles sharing this share of the smaller title's character bigrams are one story's headlines.
_SIMILAR_TITLES = 0.5
# A line holding this share of a title's bigrams (digits-only bigrams aside) is about that title's story.
_ABOUT_TITLE = 0.1
_RESTATES_TITLE = 0.5
SAMPLE_CHARS = 200


def _fold(text: str, *, compiled: bool = True) -> str:
    """Punctuation out first (cheap, in C), then width folding only where still needed (as normalize does); in
    one compiled pass when every character folds on its own (dedup.text.compiled_fold), the same text."""
    folded = fold_line(text) if compiled else None
    if folded is not None:
        return folded
    text = drop_punctuation(text)
    if not unicodedata.is_normalized("NFKC", text):
        text = drop_punctuation(unicodedata.normalize("NFKC", text))
    return text.lower()


def line_key(line: str) -> tuple[int, str] | None:
    """A line's key (signed 64-bit) and normalized form, or None when it is too short to learn."""
    folded = _fold(line)
    if len(folded) < MIN_LINE_CHARS:
        return None
    digest = hashlib.blake2b(folded.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True), folded


def _bigrams(title: str) -> set[str]:
    return {title[i:i + 2] for i in range(len(title) - 1)} or {title}


def similar_titles(a: str, b: str) -> bool:
    """One story's headlines share words; a footer's carriers' headlines do not."""
    if a == b:
        return True
    ga, gb = _bigrams(a), _bigrams(b)
    return len(ga & gb) >= _SIMILAR_TITLES * min(len(ga), len(gb))


def title_grams(title: str) -> list[str]:
    """The bigrams that tell what a headline is about; digits-only ones (dates, years) are left out, so a
    footer's `1996-2018` is not about a `2018` headline."""
    return [g for g in _bigrams(title) if not g.isdecimal()] if title else []


def about_title(line: str, grams: list[str], share: float = _ABOUT_TITLE) -> bool:
    """Whether a line shares words with a headline (its `title_grams`): then it is story text, however often
    it recurs, and is no evidence of boilerplate."""
    return bool(grams) and sum(map(line.__contains__, grams)) >= share * len(grams)  # map: no generator frame


def restates_title(line: str, grams: list[str]) -> bool:
    """Whether a line says what the headline says (most of its bigrams): a learned line (a sidebar headline,
    a shared lead) that restates an article's own headline is kept in that article. Stricter than
    `about_title`, so that a word shared by chance does not keep a footer."""
    return about_title(line, grams, _RESTATES_TITLE)


def fold_title(title: str | None) -> str:
    return _fold(title or "")


@dataclass
class LineRecord:
    """What the store holds about one line in one scope."""

    titles: list[str] = field(default_factory=list)
    carriers: list[int] = field(default_factory=list)
    learned_at: str | None = None
    sample: str = ""


@dataclass(frozen=True)
class Sighting:
    """One stored article's learnable lines, to be counted under its title in its scope."""

    scope: str
    title: str | None
    lines: tuple[tuple[int, str], ...]
    article_id: int


class BoilerplateLearner:
    """The learned keys of this process, kept in step with the store."""

    def __init__(self, store, min_titles: int, refresh_seconds: float,  # type: ignore[no-untyped-def]
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.min_titles = min_titles
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self.generation = 0
        self._learned: frozenset[int] = frozenset()
        self._since: str | None = None
        self._next_refresh = 0.0

    @property
    def enabled(self) -> bool:
        return self.min_titles > 0

    def learned(self) -> frozenset[int]:
        """The keys learned so far, re-read from the store when `refresh_seconds` have passed."""
        if self.enabled and self.clock() >= self._next_refresh:
            self.refresh()
        return self._learned

    def refresh(self) -> None:
        rows = self.store.learned_boilerplate(self._since)
        self._next_refresh = self.clock() + self.refresh_seconds
        if rows:
            self._since = max(learned_at for _, learned_at in rows)
            self._add(key for key, _ in rows)

    def _add(self, keys: Iterable[int]) -> None:
        new = set(keys) - self._learned
        if new:
            self._learned = self._learned | new
            self.generation += 1

    def observe(self, sightings: Sequence[Sighting]) -> list[int]:
        """Count a batch's articles in arrival order, inside the caller's transaction (one read and one write
        per scope). Returns the articles to re-sign, in order: the carriers of each line learned now, and every
        article of the batch that carries a line learned before (by another worker, or earlier in the batch)."""
        if not self.enabled:
            return []
        wanted: dict[str, set[int]] = {}
        for sighting in sightings:
            wanted.setdefault(sighting.scope, set()).update(key for key, _ in sighting.lines)
        records = {scope: self.store.boilerplate_rows(scope, list(keys)) for scope, keys in wanted.items()}
        changed: dict[str, dict[int, LineRecord]] = {scope: {} for scope in records}
        resign: dict[int, None] = {}
        learned: set[int] = set()
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        for sighting in sightings:
            folded = fold_title(sighting.title)
            grams = title_grams(folded)
            scope_records = records[sighting.scope]
            for key, sample in sighting.lines:
                record = scope_records.get(key)
                if record is not None and record.learned_at is not None:
                    resign[sighting.article_id] = None
                    learned.add(key)
                    continue
                if about_title(sample, grams):  # story text of this article: no evidence, nothing to write
                    continue
                if record is None and not folded:
                    # No title, no evidence: only lines some headline was seen with get this article as a carrier.
                    # A row per line of every headless article would grow the table with the corpus (one random-key
                    # insert an article) for lines that mostly never recur.
                    continue
                if record is None:
                    record = scope_records[key] = LineRecord(sample=sample[:SAMPLE_CHARS])
                if folded and not any(similar_titles(folded, seen) for seen in record.titles):
                    record.titles.append(folded)
                if sighting.article_id not in record.carriers and len(record.carriers) < CARRIERS:
                    record.carriers.append(sighting.article_id)
                if len(record.titles) >= self.min_titles:
                    record.learned_at = now
                    learned.add(key)
                    resign.update(dict.fromkeys(record.carriers))
                changed[sighting.scope][key] = record
        for scope, rows in changed.items():
            self.store.save_boilerplate_rows(scope, rows)
        self._add(learned)
        return list(resign)

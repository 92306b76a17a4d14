"""Raw text to what the decision needs (normalized text, shingles, signature, anchors), as a pure function of the
text and the parameters, so that worker processes can run it (dedup.parallel) with the same result as the engine."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from dedup.candidates.containment import anchors
from dedup.config import NormalizationConfig, SignatureConfig
from dedup.errors import BoilerplateOnly, EmptyText, TextTooLarge
from dedup.sketch.signature import sign_text
from dedup.text.learned_boilerplate import MIN_LINE_CHARS
from dedup.text.normalize import Normalized, normalize_text


@dataclass(frozen=True)
class Prepared:
    normalized: Normalized
    shingles: np.ndarray
    values: np.ndarray
    content_hash: str
    anchors: np.ndarray  # containment anchors (dedup.candidates.containment), computed once for the lookup and the
    # insert
    generation: int = 0  # of the learned boilerplate it was normalized under
    headline: str | None = None  # the article's title (given, else found in the markup): it can state the news

    def __reduce__(self) -> tuple:
        """The arrays travel as their bytes: pickling an ndarray costs ~5 us each way, and workers send one
        Prepared per article to the deciding process (dedup.parallel), which unpickles them on its critical path."""
        arrays = tuple((a.dtype.str, a.shape, a.tobytes()) for a in (self.shingles, self.values, self.anchors))
        return _unpickled, (self.normalized, arrays, self.content_hash, self.generation, self.headline)


def _unpickled(normalized: Normalized, arrays: tuple[tuple[str, tuple[int, ...], bytes], ...], content_hash: str,
               generation: int, headline: str | None) -> Prepared:
    shingles, values, anchors = (np.frombuffer(raw, dtype=dtype).reshape(shape).copy() for dtype, shape, raw in arrays)
    return Prepared(normalized, shingles, values, content_hash, anchors, generation, headline)


@dataclass(frozen=True)
class Recipe:
    """The parameters preparation depends on, besides the learned boilerplate."""

    norm: NormalizationConfig
    sig: SignatureConfig
    max_bytes: int
    anchor_rate: int


def prepare_text(raw: str, recipe: Recipe, *, learned: frozenset[int] | None, generation: int,
                 is_html: bool | None = None, title: str | None = None) -> Prepared:
    """Normalize, shingle and sign; learned boilerplate lines go unless they are about the `title`.

    The size is checked first: normalization is linear, so the size limit bounds the CPU one request can
    take (every entry point, ingest and search, comes here)."""
    encoded = raw.encode("utf-8", "surrogatepass")
    if len(encoded) > recipe.max_bytes:
        raise TextTooLarge(f"text too large: {len(encoded)} bytes, limit {recipe.max_bytes}; "
                           "set DEDUP_MAX_ARTICLE_BYTES to accept larger texts")
    normalized = normalize_text(raw, recipe.norm, is_html=is_html, learned=learned, headline=title)
    if normalized.dropped and len(normalized.text) < MIN_LINE_CHARS:
        raise BoilerplateOnly(
            "no text is left once page script/style and the lines this site repeats under other titles "
            "(learned boilerplate) are removed; a body of boilerplate only is not compared with stories")
    shingles, values = sign_text(normalized.text, recipe.sig)
    if len(shingles) == 0:
        raise EmptyText("the text is empty after normalization (markup, boilerplate and punctuation removed)")
    digest = hashlib.sha256(encoded).hexdigest()
    return Prepared(normalized, shingles, values, digest, anchors(shingles, recipe.anchor_rate), generation,
                    title or normalized.title)

"""Stored signatures against the stored texts, for `dedup check`.

The index is filled from the stored signatures, so on the embedded default (an in-process index rebuilt at
start-up) comparing the two finds nothing; what can be wrong is the signature itself: made under other
parameters (`stale`: not indexed, so never proposed as a candidate, until a re-cluster re-signs it) or not the
signature of the stored text (`wrong`: the index proposes the article for texts it does not resemble and
misses its reposts). A wrong one is recomputed from the stored normalized text; a stale one is left to the
re-cluster, which normalizes its raw text again under the current settings.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from dedup.models import Article
from dedup.sketch.shingle import shingle_hashes
from dedup.sketch.signature import minhash_values

if TYPE_CHECKING:
    from dedup.engine import Engine


def _fresh(engine: Engine, article: Article) -> Article | None:
    """The article with the signature of its stored text, or None when its stored one is right or is not the
    current version's (an article re-signed to an empty text keeps no usable signature: nothing to check)."""
    if article.sig_version != engine.version or not article.norm_text:
        return None
    shingles = shingle_hashes(article.norm_text, engine.sig_config)
    values = minhash_values(shingles, engine.sig_config).tobytes()
    if values == article.hashvalues and len(shingles) == article.shingle_count:
        return None
    return replace(article, hashvalues=values, shingle_count=len(shingles))


def audit(engine: Engine) -> tuple[dict[str, int], list[int]]:
    """Counts (`stale_signatures`, `wrong_signatures`) and the ids of the wrong ones. A read-only scan, outside
    the writers' lock (it recomputes every signature)."""
    wrong = [a.id for a in engine.store.iter_articles() if _fresh(engine, a) is not None]
    stale = len(engine.store.stale_article_ids(engine.version))
    return {"stale_signatures": stale, "wrong_signatures": len(wrong)}, wrong


def repair(engine: Engine, ids: list[int]) -> int:
    """Store and index the right signatures of these articles (checked again: inside the caller's write
    transaction, which other writers may have preceded). Returns how many were fixed."""
    fixed = 0
    for article in engine.store.get_articles(ids):
        fresh = _fresh(engine, article)
        if fresh is None:
            continue
        engine.store.update_article(fresh)
        engine.reindex_stored(article)
        fixed += 1
    return fixed

"""Bulk work on every core: articles are prepared (validated, normalized, shingled, signed) in worker processes,
and decided and written in the calling process, in input order.

The verdicts are those of one process: preparation is a pure function of the text, the parameters and the learned
boilerplate (dedup.prepare), and each chunk is prepared under the boilerplate learned when it was sent; an article
carrying a line learned after that is prepared again by the engine before it is decided (`Engine._current`), as
within one batch. Workers run ahead of the decisions by a bounded number of chunks.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

from . import validate
from .errors import DedupError
from .models import ArticleIn, IngestResult
from .prepare import Prepared, Recipe, prepare_text

T = TypeVar("T")
# One prepared article, or why it cannot be ingested.
Ready = tuple[validate.Fields, Prepared] | DedupError

_recipe: Recipe | None = None


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def prepare_item(item: ArticleIn, recipe: Recipe, learned: frozenset[int] | None, generation: int) -> Ready:
    try:
        fields = validate.article_fields(item)
        return fields, prepare_text(fields.raw, recipe, learned=learned, generation=generation,
                                    is_html=fields.is_html, title=fields.title)
    except DedupError as exc:
        return exc


def _init(recipe: Recipe) -> None:
    global _recipe
    _recipe = recipe


def _prepare_chunk(items: list[ArticleIn], learned: frozenset[int] | None, generation: int) -> list[Ready]:
    assert _recipe is not None
    return [prepare_item(item, _recipe, learned, generation) for item in items]


def ingest_stream(engine, chunks: Iterable[Sequence[T]], jobs: int, *,  # type: ignore[no-untyped-def]
                  article: Callable[[T], ArticleIn] = lambda x: x,  # type: ignore[assignment,return-value]
                  ahead: int = 4) -> Iterator[tuple[Sequence[T], list[IngestResult | Exception]]]:
    """Each chunk with its results (as `Engine.ingest_many` gives them), chunks in order. With `jobs` > 1 the
    articles are prepared by that many worker processes, up to `ahead` chunks per worker before the decisions."""
    if jobs <= 1:
        for chunk in chunks:
            yield chunk, engine.ingest_many([article(x) for x in chunk])
        return
    # fork: a worker needs nothing re-imported (a console script's main module would be run again by spawn).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init, initargs=(engine.recipe,)) as pool:
        pending: deque[tuple[Sequence[T], Future]] = deque()
        source = iter(chunks)

        def send() -> bool:
            chunk = next(source, None)
            if chunk is None:
                return False
            learned, generation = engine.snapshot()
            pending.append((chunk, pool.submit(_prepare_chunk, [article(x) for x in chunk], learned, generation)))
            return True

        while len(pending) < jobs * ahead and send():
            pass
        while pending:
            chunk, future = pending.popleft()
            ready = future.result()
            send()
            yield chunk, engine.ingest_many([article(x) for x in chunk], prepared=ready)

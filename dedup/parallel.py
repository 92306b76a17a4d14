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
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import chain, islice
from typing import TypeVar

from dedup import validate
from dedup.errors import DedupError
from dedup.models import ArticleIn, IngestResult
from dedup.prepare import Prepared, Recipe, prepare_text

T = TypeVar("T")
# One prepared article, or why it cannot be ingested.
Ready = tuple[validate.Fields, Prepared] | DedupError

_recipe: Recipe | None = None
# Preparation is a fifth to two fifths of the work (docs/benchmarks.md, "--jobs"); the deciding process does the rest,
# so more preparing processes than this would only wait for it.
_MOST_JOBS = 4


def default_jobs() -> int:
    """Processes preparing articles when none are asked for: the cores this process may run on, at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity API (macOS, Windows)
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MOST_JOBS))


def prepare_item(item: ArticleIn, recipe: Recipe, learned: frozenset[int] | None, generation: int) -> Ready:
    try:
        fields = validate.article_fields(item)
        return fields, prepare_text(fields.raw, recipe, learned=learned, generation=generation,
                                    is_html=fields.is_html, title=fields.title)
    except DedupError as exc:
        return exc


# How much lower the preparing processes' scheduling priority is than the deciding process's.
_WORKER_NICENESS = 10


def _init(recipe: Recipe) -> None:
    """Workers die on SIGTERM and SIGINT as the pool expects, whatever handler the parent installed. They run at a
    lower priority: the deciding process is the critical path, and workers that run ahead of it (`ingest_stream`)
    would otherwise take its core whenever more processes than cores are runnable."""
    global _recipe
    _recipe = recipe
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if hasattr(os, "nice"):
        os.nice(_WORKER_NICENESS)


def _pool(engine, jobs: int) -> ProcessPoolExecutor:  # type: ignore[no-untyped-def]
    # fork: a worker needs nothing re-imported (a console script's main module would be run again by spawn).
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(jobs, mp_context=context, initializer=_init, initargs=(engine.recipe,))


def _prepare_texts(texts: list[tuple[str, str | None]], learned: frozenset[int] | None,
                   generation: int) -> list[Prepared | DedupError]:
    assert _recipe is not None
    out: list[Prepared | DedupError] = []
    for raw, title in texts:
        try:
            out.append(prepare_text(raw, _recipe, learned=learned, generation=generation, title=title))
        except DedupError as exc:
            out.append(exc)
    return out


@contextmanager
def text_preparer(engine, jobs: int) -> Iterator[Callable[[list[tuple[str, str | None]]], list]]:  # type: ignore[no-untyped-def]
    """A function preparing (raw text, title) pairs as `engine.prepare` does, each a `Prepared` or the error;
    with `jobs` > 1 spread over that many worker processes (the re-cluster's re-signing)."""
    def here(texts: list[tuple[str, str | None]]) -> list:
        out = []
        for raw, title in texts:
            try:
                out.append(engine.prepare(raw, title=title))
            except DedupError as exc:
                out.append(exc)
        return out

    if jobs <= 1:
        yield here
        return
    with _pool(engine, jobs) as pool:
        def spread(texts: list[tuple[str, str | None]]) -> list:
            learned, generation = engine.snapshot()
            step = max(1, -(-len(texts) // jobs))
            parts = [pool.submit(_prepare_texts, texts[i:i + step], learned, generation)
                     for i in range(0, len(texts), step)]
            return [p for part in parts for p in part.result()]
        yield spread


def _prepare_chunk(items: list[ArticleIn], learned: frozenset[int] | None, generation: int) -> list[Ready]:
    assert _recipe is not None
    return [prepare_item(item, _recipe, learned, generation) for item in items]


def ingest_stream(engine, chunks: Iterable[Sequence[T]], jobs: int, *,  # type: ignore[no-untyped-def]
                  article: Callable[[T], ArticleIn] = lambda x: x,  # type: ignore[assignment,return-value]
                  ahead: int = 4) -> Iterator[tuple[Sequence[T], list[IngestResult | Exception]]]:
    """Each chunk with its results (as `Engine.ingest_many` gives them), chunks in order. With `jobs` > 1 the
    articles are prepared by that many worker processes, up to `ahead` chunks per worker before the decisions."""
    source = iter(chunks)
    first = list(islice(source, 2))
    source = chain(first, source)
    if len(first) < 2:
        jobs = 1  # nothing to overlap: a worker would only add its start and the copying
    if jobs <= 1:
        for chunk in source:
            yield chunk, engine.ingest_many([article(x) for x in chunk])
        return
    with _pool(engine, jobs) as pool:
        pending: deque[tuple[Sequence[T], Future]] = deque()

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

"""A lookup hands at most `limit` band candidates to screening, those sharing the most bands, newest first;
in process and in the shared Redis index alike."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.candidates.bands import BandIndex
from dedup.candidates.index import SignatureIndex
from dedup.settings import Settings
from tests.api_backends import redis_prefix
from tests.conftest import service_url

SETTINGS = Settings(redis_url=None)


def _crowd(rows: int, bands: int, seed: int = 5) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """A query signature; 300 stored ones sharing exactly one of its bands (chance candidates, ids 1-300) and
    three sharing many (near copies, ids 301-303: 12, 8 and 4 bands)."""
    rng = np.random.default_rng(seed)
    perm = SETTINGS.num_perm
    query = rng.integers(0, 2**32, size=perm, dtype=np.uint32)
    stored = {}
    for i in range(1, 301):
        values = rng.integers(0, 2**32, size=perm, dtype=np.uint32)
        band = i % bands
        values[band * rows:(band + 1) * rows] = query[band * rows:(band + 1) * rows]
        stored[i] = values
    for i, shared in ((301, 12), (302, 8), (303, 4)):
        values = rng.integers(0, 2**32, size=perm, dtype=np.uint32)
        values[:shared * rows] = query[:shared * rows]
        stored[i] = values
    return query, stored


@pytest.mark.parametrize("accelerated", [True, False])
@pytest.mark.parametrize("merged", [0, 150, 303], ids=["recent", "half merged", "all merged"])
def test_in_process_bound_keeps_the_ids_sharing_most_bands_then_the_newest(accelerated, merged):
    index = BandIndex(SETTINGS.num_perm, SETTINGS.lsh_threshold)
    query, stored = _crowd(index.rows, index.bands)
    for i, values in stored.items():
        index.insert(i, values, 100)
        if i == merged:  # the postings so far into the sorted arrays, the rest in the recent buckets
            index.merge()
    assert index.query(query, accelerated=accelerated) == sorted(stored)
    bounded = index.query(query, accelerated=accelerated, limit=50)
    assert index.found == 303
    assert bounded == sorted([301, 302, 303] + list(range(254, 301)))
    assert index.query(query, accelerated=accelerated, limit=400) == sorted(stored)


def test_shared_index_bound_matches_the_in_process_one():
    url = service_url("DEDUP_TEST_REDIS_URL")
    settings = Settings(redis_url=url)
    local = BandIndex(settings.num_perm, settings.lsh_threshold)
    query, stored = _crowd(local.rows, local.bands)
    with redis_prefix(url) as prefix:
        index = SignatureIndex(settings.signature(), settings.lsh_threshold, redis_url=url, prefix=prefix)
        index.insert_many([(i, v, 100) for i, v in stored.items()])
        index.mark_complete()
        for i, values in stored.items():
            local.insert(i, values, 100)
        assert index.query(query, limit=50) == local.query(query, limit=50)
        assert index.found == 303 and len(index.query(query)) == 303


def test_engine_screens_at_most_the_configured_band_candidates(tmp_path):
    from dedup.engine import Engine
    settings = Settings(database_url=str(tmp_path / "d.db"), redis_url=None, max_band_candidates=20)
    engine = Engine(settings)
    try:
        query, stored = _crowd(engine.index.rows, engine.index.bands)
        for i, values in stored.items():  # long texts: under the main band layout only, as in the crowd's design
            engine.index.insert(i, values, 1000)
        seen = []
        engine._screen = lambda prepared, ids: seen.append(ids) or []  # the ids handed to screening
        prepared = engine.prepare("这是一篇用来查询的文章，内容并不重要。" * 3)
        prepared = type(prepared)(prepared.normalized, prepared.shingles, query, prepared.content_hash,
                                  prepared.anchors)
        engine._candidates(prepared, None)
        assert seen == [[284 + k for k in range(17)] + [301, 302, 303]]
    finally:
        engine.close()

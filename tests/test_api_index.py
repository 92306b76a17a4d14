"""The shared Redis index used by the service: pipelined queries and bulk heals agree with datasketch's own."""

from __future__ import annotations

import numpy as np
import pytest

from dedup.candidates.index import IndexLost, SignatureIndex
from dedup.settings import Settings
from dedup.sketch.signature import as_lean_minhash
from tests.api_backends import redis_prefix
from tests.conftest import service_url


def test_redis_index_pipelined_query_and_bulk_insert_match_datasketch():
    url = service_url("DEDUP_TEST_REDIS_URL")
    settings = Settings(redis_url=url)
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2**32, size=settings.num_perm, dtype=np.uint32)
    signatures = {}
    for i in range(1, 41):
        values = base.copy()
        flip = rng.random(settings.num_perm) < i / 40  # from near copies to unrelated signatures
        values[flip] = rng.integers(0, 2**32, size=int(flip.sum()), dtype=np.uint32)
        signatures[i] = values
    with redis_prefix(url) as prefix:
        index = SignatureIndex(settings.signature(), settings.lsh_threshold, redis_url=url, prefix=prefix)
        index.insert_many([(i, values, 1000) for i, values in list(signatures.items())[:20]])
        for i, values in list(signatures.items())[20:]:
            index.insert(i, values, 1000)
        assert index.ids() == set(signatures) and len(index) == 40
        index.mark_complete()  # what the engine does once a sync has filled the index
        for values in list(signatures.values()) + [base]:
            expected = sorted(index.lsh.query(as_lean_minhash(values, settings.signature())))
            assert index.query(values) == expected
        assert 1 in index.query(base)
        index.lsh.keys._redis.delete(index._marker)  # as after a restart without persistence
        with pytest.raises(IndexLost, match="lost its contents"):
            index.query(base)

"""The C screen and the numpy screen keep the same candidates in the same order."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.candidates.screen import screen_order
from tests.conftest import needs_native


@needs_native
@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2**32 - 1), st.integers(min_value=1, max_value=40),
       st.integers(min_value=0, max_value=600), st.floats(min_value=0.0, max_value=1.0),
       st.floats(min_value=0.0, max_value=1.0))
def test_accelerated_and_numpy_screens_agree(seed, count, n, j_min, c_min):
    rng = np.random.default_rng(seed)
    query = rng.integers(0, 4, size=128, dtype=np.uint32)  # few distinct values: many equal counts, many ties
    matrix = rng.integers(0, 4, size=(50, 128), dtype=np.uint32)
    sizes = rng.choice([0.0, 1.0, 7.0, 120.0, 400.0], size=50)
    rows = [int(r) for r in rng.integers(0, 50, size=count)]
    fast = screen_order(matrix, sizes, rows, query, n, j_min, c_min)
    slow = screen_order(matrix, sizes, rows, query, n, j_min, c_min, accelerated=False)
    assert fast == slow
    # By id through a mapping that lacks some of them (ids removed while a lookup ran).
    row_of = {1000 + r: r for r in range(50) if r % 3}
    ids = [1000 + r for r in rows]
    fast = screen_order(matrix, sizes, ids, query, n, j_min, c_min, row_of=row_of)
    slow = screen_order(matrix, sizes, ids, query, n, j_min, c_min, row_of=row_of, accelerated=False)
    assert fast == slow and all(ids[k] in row_of for k in fast)


def test_an_identical_signature_is_kept_and_ranked_first():
    matrix = np.array([[1] * 128, [2] * 128, [1] * 64 + [3] * 64], dtype=np.uint32)
    sizes = np.array([100.0, 100.0, 100.0])
    order = screen_order(matrix, sizes, [1, 2, 0], np.ones(128, dtype=np.uint32), 100, 0.35, 0.45)
    assert order == [2, 1]  # positions in the row list: row 0 (identical), then row 2 (half equal); row 1 dropped

"""Which LSH candidates are worth an exact verification, and in which order.

MinHash estimates only filter and order candidates (a verdict is always exact): those whose
estimated Jaccard and implied containment both sit far below the decision thresholds are
dropped, the rest are verified best estimate first. The C accelerator does this in one call;
the numpy path is the fallback and the reference the tests compare it with.
"""

from __future__ import annotations

import numpy as np

from dedup.sketch.native import _native  # the optional C accelerator, or None


def screen_order(matrix: np.ndarray, sizes: np.ndarray, items: list[int], values: np.ndarray, n: int,
                 j_min: float, c_min: float, *, row_of: dict[int, int] | None = None,
                 accelerated: bool = True) -> list[int]:
    """Positions (into `items`) of the signature-matrix rows to verify against `values`, best first.

    Items are row numbers, or keys of `row_of` (items it lacks are skipped). `sizes` holds each row's
    shingle count (0: unknown, containment then counts as 1); `n` is the query's shingle count. Ties
    keep the order of `items`.
    """
    if not items:
        return []
    if accelerated and _native is not None:
        return _native.screen(matrix, sizes, items, values, float(n), j_min, c_min, row_of)
    positions = [k for k, item in enumerate(items) if row_of is None or item in row_of]
    rows = items if row_of is None else [row_of[items[k]] for k in positions]
    if not rows:
        return []
    picked = np.asarray(rows, dtype=np.int64)
    jaccard = (matrix[picked] == values).mean(axis=1)
    size = sizes[picked]
    shared = jaccard * (n + size) / (1.0 + jaccard)
    containment = np.where(size > 0, shared / np.maximum(1.0, np.minimum(n, size)), 1.0)
    keep = (jaccard >= j_min) | (containment >= c_min)
    score = np.maximum(jaccard, np.minimum(containment, 1.0))
    return [positions[k] for k in np.argsort(-score, kind="stable") if keep[k]]

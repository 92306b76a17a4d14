"""A bound on the band candidates one lookup hands to screening, so its cost does not grow with the store.

The band index sits below the decision rule (so that cut reposts come up), and there a pair sharing only
background (one common sentence, Jaccard ~0.05) shares a band by chance: with the main layout's 37 bands of 3 rows,
0.5% of such pairs; with the 28 bands of 2 rows kept for short texts (dedup.candidates.layouts), 7%. The number of
such chance candidates grows linearly with the store, while the true duplicates of an article stay few: a safety
net, then, for short texts' dense lookups and for stores whose articles reuse many sentences.

An id's count of shared bands estimates its Jaccard (b bands of r rows: b * J^r shared on average): a pair at the
decision's Jaccard 0.5 shares 4.6 of 37 main bands (7 of 28 dense ones), while chance candidates share exactly
one. So when a lookup finds more than `limit` ids, the ones sharing the most bands are kept, and among equals the
newest (highest id: reposts follow their story within days). Excerpts of long texts, which share no band at all,
come from the containment path (dedup.candidates.containment), which has its own bound.
"""

from __future__ import annotations

import numpy as np

# Band candidates screened per lookup, at most: well above the verified duplicates one article has (the dev set's
# largest cluster holds 14, `max_matches` reports 20), far below the chance candidates of a large store.
MAX_BAND_CANDIDATES = 150


def strongest(ids: np.ndarray, shared: np.ndarray, limit: int | None) -> list[int]:
    """Sorted unique `ids` (each sharing `shared` bands with the query), at most `limit`: most bands shared first,
    then the newest."""
    if limit is not None and len(ids) > limit:
        ids = np.sort(ids[np.lexsort((-ids, -shared))[:limit]])
    return ids.tolist()

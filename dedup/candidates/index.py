"""Candidate lookup: LSH bands in process (dedup.candidates.bands), or a datasketch MinHashLSH in Redis.

The LSH threshold sits below the decision thresholds so that excerpts and cut reposts
(low Jaccard, high containment) still come back as candidates; the verifier decides.
"""

from __future__ import annotations

import logging
import pickle
from urllib.parse import urlparse

import numpy as np
from datasketch import MinHashLSH
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from dedup.candidates.bands import BandIndex
from dedup.candidates.bound import strongest
from dedup.candidates.containment import LocalContainmentIndex, RedisContainmentIndex
from dedup.candidates.interface import CandidateIndex
from dedup.candidates.layouts import BandLayout, as_layouts, describe
from dedup.config import SignatureConfig
from dedup.errors import DedupError
from dedup.sketch.signature import as_lean_minhash

log = logging.getLogger("dedup.candidates.index")


def _redis_config(url: str, prefix: str) -> dict:
    parsed = urlparse(url)
    # A Redis outage must turn into a quick 503, not seconds of redis-py's default ten retries per call.
    params: dict = {"host": parsed.hostname or "127.0.0.1", "port": parsed.port or 6379,
                    "socket_connect_timeout": 2, "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 2)}
    if parsed.path and parsed.path.strip("/"):
        params["db"] = int(parsed.path.strip("/"))
    if parsed.password:
        params["password"] = parsed.password
    return {"type": "redis", "basename": prefix.encode(), "redis": params}


class IndexLost(RedisError):
    """The shared index no longer holds what it was filled with: Redis came back empty (restarted without
    persistence, or flushed). A Redis error, so callers treat it like an outage: nothing is stored, and the
    index is rebuilt from the database before it is used again."""


class UnsafeIndex(DedupError):
    """The shared index's Redis may drop keys on its own (an eviction policy other than noeviction): every lookup
    would then answer from a partial index, and reposts would silently be stored as new stories."""

    code = "unsafe_index"


def eviction_policy(client) -> str | None:  # type: ignore[no-untyped-def]
    """Redis's maxmemory-policy: CONFIG GET, else INFO memory (managed Redis often disables CONFIG); None when
    neither command is allowed. Connection errors propagate: an unreachable Redis is an outage, not a policy."""
    try:
        return client.config_get("maxmemory-policy").get("maxmemory-policy")
    except ResponseError as exc:  # unknown (renamed) command or no permission
        log.info("Redis refuses CONFIG GET (%s); reading maxmemory-policy from INFO memory", str(exc)[:200])
    try:
        return client.info("memory").get("maxmemory_policy")
    except ResponseError:
        return None


def eviction_problem(policy: str | None) -> str | None:
    """Why a Redis with this policy cannot hold the index, or None when it can (only noeviction keeps every key)."""
    if policy == "noeviction":
        return None
    if policy is None:
        return ("cannot read Redis's maxmemory-policy (CONFIG GET and INFO are both refused): the shared index "
                "needs noeviction; check it on the server and set DEDUP_REDIS_CHECK_EVICTION=false to start anyway")
    return (f"Redis evicts keys (maxmemory-policy {policy}): the shared index would silently lose entries and "
            "reposts would be stored as new stories; set maxmemory-policy noeviction (redis.conf or CONFIG SET)")


class SignatureIndex:
    """Article ids keyed by LSH bands of their signatures.

    A marker key is written once the index holds every stored signature (`mark_complete`, at the end of a
    sync) and read in the same round trip as every lookup: when Redis loses its data the marker goes with
    it, and the lookup raises `IndexLost` instead of answering from an empty index.
    """

    def __init__(self, config: SignatureConfig, layouts: float | tuple[BandLayout, ...], *,
                 redis_url: str | None = None, prefix: str = "dedup", anchor_rate: int = 16) -> None:
        self.config = config
        self.shared = redis_url is not None
        self.layouts = layouts = as_layouts(layouts, config.num_perm)
        # One datasketch MinHashLSH per layout, each under its own key prefix; the first (every text) also keeps
        # the ids, the others only the texts of their length.
        self.tables = [MinHashLSH(num_perm=config.num_perm, params=(layout.bands, layout.rows),
                                  storage_config=_redis_config(redis_url, f"{prefix}:{config}:{layout}")
                                  if redis_url else None, prepickle=self.shared)
                       for layout in layouts]
        self.lsh = self.tables[0]
        self._marker = f"{prefix}:{config}:{describe(layouts)}:complete"
        self.found = 0  # ids the last query found before its bound
        # Excerpts of long texts, which no Jaccard band proposes (dedup.candidates.containment); same Redis as the
        # bands.
        self.contained: LocalContainmentIndex | RedisContainmentIndex = (
            RedisContainmentIndex(self.lsh.keys._redis, f"{prefix}:{config}:{anchor_rate}", anchor_rate)
            if self.shared else LocalContainmentIndex(anchor_rate))

    def eviction_problem(self) -> str | None:
        """See `eviction_problem`; the in-process index never evicts."""
        if not self.shared:
            return None
        return eviction_problem(eviction_policy(self.lsh.keys._redis))

    def mark_complete(self) -> None:
        if self.shared:
            self.lsh.keys._redis.set(self._marker, 1)

    def _storing(self, shingle_count: int) -> list[MinHashLSH]:
        return [table for layout, table in zip(self.layouts, self.tables) if layout.stores(shingle_count)]

    def insert(self, article_id: int, values: np.ndarray, shingle_count: int = 0) -> None:
        self._remove_bands(article_id)
        if self.shared:
            self._insert_pipelined(article_id, values, shingle_count)
            return
        minhash = as_lean_minhash(values, self.config)
        for table in self._storing(shingle_count):
            table.insert(article_id, minhash, check_duplication=False)

    def remove(self, article_id: int) -> None:
        self.contained.remove(article_id)
        self._remove_bands(article_id)

    def _remove_bands(self, article_id: int) -> None:
        """Every indexed article is in the main table: the others are asked only about those (one round trip for
        a new article, as with one table)."""
        if article_id not in self.lsh:
            return
        for table in self.tables:
            if table is self.lsh or article_id in table:
                table.remove(article_id)

    def screen(self, values: np.ndarray, ids: list[int], shingle_count: int, j_min: float,
               c_min: float) -> list[int] | None:
        """No signatures are held here (datasketch keeps only band keys): the engine screens on stored ones."""
        return None

    def query(self, values: np.ndarray, *, shingle_count: int | None = None, limit: int | None = None) -> list[int]:
        """Sorted ids sharing a band with `values` under the layouts a text of `shingle_count` shingles looks up
        (unknown: the main one only); with `limit`, at most that many, those sharing the most bands
        (dedup.candidates.bound)."""
        tables = [table for layout, table in zip(self.layouts, self.tables) if layout.queries(shingle_count)]
        if self.shared:
            return self._query_pipelined(values, tables, limit)
        minhash = as_lean_minhash(values, self.config)
        found = sorted(set().union(*(table.query(minhash) for table in tables)))
        self.found = len(found)
        return found

    def __contains__(self, article_id: int) -> bool:
        return self.lsh.__contains__(article_id)

    def __len__(self) -> int:
        return len(self.lsh.keys.keys()) if not self.shared else self.lsh.keys.size()

    def ids(self) -> set[int]:
        """Every indexed article id in one call (Redis keys are pickled by datasketch; unpickle them here)."""
        if not self.shared:
            return set(self.lsh.keys.keys())
        return {pickle.loads(key) for key in self.lsh.keys.keys()}

    def insert_many(self, items: list[tuple[int, np.ndarray, int]]) -> None:
        """Bulk insert of ids not yet indexed; on Redis one pipelined session instead of a round trip per band."""
        signed = [(article_id, as_lean_minhash(values, self.config), count) for article_id, values, count in items]
        for layout, table in zip(self.layouts, self.tables):
            with table.insertion_session(buffer_size=10_000) as session:
                for article_id, minhash, shingle_count in signed:
                    if layout.stores(shingle_count):
                        session.insert(article_id, minhash, check_duplication=False)

    def _query_pipelined(self, values: np.ndarray, tables: list[MinHashLSH], limit: int | None = None) -> list[int]:
        """All band lookups in one Redis round trip; datasketch's own query makes one per band (37 at 0.3)."""
        minhash = as_lean_minhash(values, self.config)
        pipe = self.lsh.hashtables[0]._redis.pipeline(transaction=False)
        for lsh in tables:
            for (start, end), table in zip(lsh.hashranges, lsh.hashtables):
                pipe.smembers(table.redis_key(lsh._H(minhash.hashvalues[start:end])))
        pipe.exists(self._marker)
        *buckets, complete = pipe.execute()
        if not complete:
            raise IndexLost("the shared index (Redis) lost its contents (restarted empty or flushed); it is rebuilt "
                            "from the database before the next request: nothing was stored or changed; retry")
        found: set[bytes] = set().union(*buckets)
        self.found = len(found)
        if limit is None or len(found) <= limit:
            return sorted(pickle.loads(key) for key in found)
        ids = {key: pickle.loads(key) for key in found}
        unique, shared = np.unique(np.fromiter((ids[key] for bucket in buckets for key in bucket), dtype=np.int64),
                                   return_counts=True)
        return strongest(unique, shared, limit)

    def _insert_pipelined(self, article_id: int, values: np.ndarray, shingle_count: int) -> None:
        """datasketch's layout written in one Redis transaction instead of two round trips per band."""
        minhash = as_lean_minhash(values, self.config)
        key = pickle.dumps(article_id)
        pipe = self.lsh.keys._redis.pipeline(transaction=True)
        for lsh in self._storing(shingle_count):
            bands = [lsh._H(minhash.hashvalues[start:end]) for start, end in lsh.hashranges]
            lsh.keys._insert(pipe, key, *bands)
            for band, table in zip(bands, lsh.hashtables):
                table._insert(pipe, band, key)
        pipe.execute()


def open_index(config: SignatureConfig, layouts: float | tuple[BandLayout, ...], *, redis_url: str | None = None,
               prefix: str = "dedup", check_eviction: bool = True, anchor_rate: int = 16) -> CandidateIndex:
    """The shared datasketch index in Redis when a URL is given, else the fast in-process one; either carries its
    containment index (`.contained`, same interface in process and in Redis).

    A Redis that may evict keys is refused (`UnsafeIndex`) unless `check_eviction` is off: silent misses are
    worse than not starting.
    """
    if redis_url:
        index = SignatureIndex(config, layouts, redis_url=redis_url, prefix=prefix, anchor_rate=anchor_rate)
        problem = index.eviction_problem() if check_eviction else None
        if problem:
            raise UnsafeIndex(problem)
        return index
    return BandIndex(config.num_perm, layouts, anchor_rate)


def _conforming(bands: BandIndex, shared: SignatureIndex) -> tuple[CandidateIndex, CandidateIndex]:
    """Never called: mypy checks here that both indexes implement the engine's interface."""
    return bands, shared

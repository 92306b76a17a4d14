"""The use cases: ingest, query, delete, explain. Owns transactions; knows nothing of HTTP."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from . import validate
from .cluster import pick_representative, representative_key, summarize
from .config import signature_version
from .errors import EmptyText, NotFound
from .explain import Explanation, explain_pair
from .index import SignatureIndex
from .models import Article, ArticleIn, Cluster, IngestResult, Match
from .normalize import Normalized, normalize_text
from .settings import Settings
from .shingle import shingle_hashes
from .signature import minhash_values
from .store import SqlStore, open_store
from .verify import Verdict, decide

_CACHE_SIZE = 20_000
# Candidates whose estimated Jaccard and containment are both this far below the decision
# thresholds are not verified: MinHash at 128 permutations errs by ~0.035 (one sd) near 0.5.
_ESTIMATE_MARGIN = 0.15


@dataclass(frozen=True)
class Prepared:
    normalized: Normalized
    shingles: np.ndarray
    values: np.ndarray
    content_hash: str


@dataclass(frozen=True)
class ScoredMatch:
    article: Article
    verdict: Verdict


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Engine:
    def __init__(self, settings: Settings, store: SqlStore | None = None, index: SignatureIndex | None = None,
                 *, rebuild: bool = True) -> None:
        self.settings = settings
        self.norm_config = settings.normalization()
        self.sig_config = settings.signature()
        self.decision = settings.decision()
        self.version = signature_version(self.norm_config, self.sig_config)
        self.store = store or open_store(settings.database_url)
        self.index = index or SignatureIndex(self.sig_config, self.decision.lsh_threshold,
                                             redis_url=settings.redis_url, prefix=settings.redis_prefix)
        self._lock = threading.RLock()
        self._shingle_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        if rebuild:
            self.sync_index()

    # -- preparation --------------------------------------------------------------------------
    def prepare(self, raw: str, *, is_html: bool | None = None) -> Prepared:
        normalized = normalize_text(raw, self.norm_config, is_html=is_html)
        shingles = shingle_hashes(normalized.text, self.sig_config)
        if len(shingles) == 0:
            raise EmptyText("the text is empty after normalization (markup, boilerplate and punctuation removed)")
        values = minhash_values(shingles, self.sig_config)
        digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
        return Prepared(normalized, shingles, values, digest)

    def _shingles_of(self, article: Article) -> np.ndarray:
        cached = self._shingle_cache.get(article.id)
        if cached is None:
            cached = shingle_hashes(article.norm_text, self.sig_config)
            self._shingle_cache[article.id] = cached
            if len(self._shingle_cache) > _CACHE_SIZE:
                self._shingle_cache.popitem(last=False)
        return cached

    def _promising(self, prepared: Prepared, candidates: list[Article]) -> list[Article]:
        """Drop candidates whose MinHash estimates sit far below both thresholds (a filter, not a verdict)."""
        usable = [c for c in candidates if c.hashvalues and c.sig_version == self.version]
        if not usable:
            return [c for c in candidates if c.sig_version != self.version]
        matrix = np.frombuffer(b"".join(c.hashvalues for c in usable), dtype=np.uint32).reshape(len(usable), -1)
        jaccard = (matrix == prepared.values).mean(axis=1)
        n = len(prepared.shingles)
        sizes = np.array([c.shingle_count for c in usable], dtype=np.float64)
        shared = jaccard * (n + sizes) / (1.0 + jaccard)
        containment = shared / np.maximum(1.0, np.minimum(n, sizes))
        keep = (jaccard >= self.decision.jaccard - _ESTIMATE_MARGIN) | (
            containment >= self.decision.containment - _ESTIMATE_MARGIN)
        stale = [c for c in candidates if c.sig_version != self.version]
        return [c for c, k in zip(usable, keep) if k] + stale

    def _verified(self, prepared: Prepared, exclude: int | None = None) -> list[ScoredMatch]:
        ids = [i for i in self.index.query(prepared.values) if i != exclude]
        found = []
        for article in self._promising(prepared, self.store.get_articles(ids)):
            verdict = decide(prepared.normalized.text, article.norm_text, prepared.shingles,
                             self._shingles_of(article), self.decision)
            if verdict.is_duplicate:
                found.append(ScoredMatch(article, verdict))
        found.sort(key=lambda m: (-m.verdict.scores.containment, -m.verdict.scores.jaccard, m.article.id))
        return found

    def _duplicates(self, a: Article, b: Article) -> bool:
        return decide(a.norm_text, b.norm_text, self._shingles_of(a), self._shingles_of(b),
                      self.decision).is_duplicate

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, item: ArticleIn) -> IngestResult:
        fields = validate.article_fields(item)
        prepared = self.prepare(fields.raw, is_html=fields.is_html)
        with self._lock, self.store.transaction():
            return self._ingest_prepared(item, fields, prepared)

    def ingest_many(self, items: Sequence[ArticleIn]) -> list[IngestResult | Exception]:
        """Ingest in order in one transaction; a bad item yields its error and does not stop the others."""
        ready: list[tuple[int, ArticleIn, validate.Fields, Prepared]] = []
        results: list[IngestResult | Exception] = [None] * len(items)  # type: ignore[list-item]
        for pos, item in enumerate(items):
            try:
                fields = validate.article_fields(item)
                ready.append((pos, item, fields, self.prepare(fields.raw, is_html=fields.is_html)))
            except Exception as exc:  # noqa: BLE001 - reported per item
                results[pos] = exc
        with self._lock, self.store.transaction():
            for pos, item, fields, prepared in ready:
                results[pos] = self._ingest_prepared(item, fields, prepared)
        return results

    def _ingest_prepared(self, item: ArticleIn, fields: validate.Fields, prepared: Prepared) -> IngestResult:
        existing = self.store.get_article_by_url(fields.url)
        if existing is not None and existing.content_hash == prepared.content_hash \
                and existing.sig_version == self.version:
            return self._result_for(existing, "unchanged")
        article = Article(
            id=existing.id if existing else 0, url=fields.url,
            title=fields.title or prepared.normalized.title, source=fields.source,
            published_at=fields.published_at or validate.published_at(prepared.normalized.date),
            ingested_at=_now(), raw_text=fields.raw, norm_text=prepared.normalized.text,
            content_hash=prepared.content_hash, cluster_id=None, sig_version=self.version,
            hashvalues=prepared.values.tobytes(), shingle_count=len(prepared.shingles),
        )
        if existing is not None:
            self._leave_cluster(existing)
            self.store.update_article(article)
            self._shingle_cache.pop(article.id, None)
        else:
            self.store.add_article(article)
        matches = self._verified(prepared, exclude=article.id)
        self._assign(article, matches)
        self.index.insert(article.id, prepared.values)
        self._shingle_cache[article.id] = prepared.shingles
        return self._result(article, matches, "updated" if existing else "created")

    def _assign(self, article: Article, matches: list[ScoredMatch]) -> None:
        """Join the best-matching cluster whose representative this article duplicates; merge only verified reps."""
        accepted: list[Cluster] = []
        for cluster_id in dict.fromkeys(m.article.cluster_id for m in matches if m.article.cluster_id is not None):
            cluster = self.store.get_cluster(cluster_id)
            if cluster is None:
                continue
            rep = next((m.article for m in matches if m.article.id == cluster.representative_id), None)
            if rep is None:
                rep_article = self.store.get_article(cluster.representative_id)
                if rep_article is None or not self._duplicates(article, rep_article):
                    continue
            accepted.append(cluster)
        if not accepted:
            self.store.set_cluster([article.id], article.id)
            self.store.save_cluster(summarize(article.id, [article]))
            article.cluster_id = article.id
            return
        target = accepted[0]
        target_rep = self.store.get_article(target.representative_id)
        merged = [target.id]
        for other in accepted[1:]:
            other_rep = self.store.get_article(other.representative_id)
            if target_rep is not None and other_rep is not None and self._duplicates(target_rep, other_rep):
                merged.append(other.id)
        survivor = min(merged)
        for cluster_id in merged:
            if cluster_id != survivor:
                self.store.set_cluster([m.id for m in self.store.cluster_members(cluster_id)], survivor)
                self.store.delete_cluster(cluster_id)
                self.store.add_alias(cluster_id, survivor)
        self.store.set_cluster([article.id], survivor)
        article.cluster_id = survivor
        self._refresh_cluster(survivor)

    def _refresh_cluster(self, cluster_id: int) -> None:
        members = self.store.cluster_members(cluster_id)
        if members:
            self.store.save_cluster(summarize(cluster_id, members))
        else:
            self.store.delete_cluster(cluster_id)

    def _leave_cluster(self, article: Article) -> None:
        self.index.remove(article.id)
        if article.cluster_id is not None:
            self.store.set_cluster([article.id], None)
            self._refresh_cluster(article.cluster_id)

    def _result(self, article: Article, matches: list[ScoredMatch], status: str) -> IngestResult:
        public = [self._match(m) for m in matches]
        dup_of = self._duplicate_of(article, matches)
        return IngestResult(
            id=article.id, url=article.url, cluster_id=article.cluster_id or article.id,
            is_duplicate=bool(matches), duplicate_of=dup_of.url if dup_of else None,
            duplicate_of_id=dup_of.id if dup_of else None, matches=public, status=status,
        )

    def _duplicate_of(self, article: Article, matches: list[ScoredMatch]) -> Article | None:
        """The earliest (by representative order) article this one duplicates."""
        if not matches:
            return None
        return pick_representative([m.article for m in matches])

    def _result_for(self, article: Article, status: str) -> IngestResult:
        prepared_shingles = self._shingles_of(article)
        values = np.frombuffer(article.hashvalues, dtype=np.uint32)
        prepared = Prepared(Normalized(article.norm_text, article.title, None), prepared_shingles, values,
                            article.content_hash)
        return self._result(article, self._verified(prepared, exclude=article.id), status)

    @staticmethod
    def _match(m: ScoredMatch) -> Match:
        s = m.verdict.scores
        return Match(id=m.article.id, url=m.article.url, jaccard=round(s.jaccard, 4),
                     containment=round(s.containment, 4), cluster_id=m.article.cluster_id, reason=m.verdict.reason)

    # -- queries ------------------------------------------------------------------------------
    def query_text(self, text: str, *, is_html: bool | None = None) -> list[Match]:
        prepared = self.prepare(validate.raw_text(text), is_html=is_html)
        return [self._match(m) for m in self._verified(prepared)]

    def duplicates_of(self, article_id: int) -> list[Match]:
        article = self.get_article(article_id)
        return self._result_for(article, "unchanged").matches

    def get_article(self, article_id: int) -> Article:
        article = self.store.get_article(article_id)
        if article is None:
            raise NotFound(f"no article with id {article_id}")
        return article

    def get_article_by_url(self, url: str) -> Article:
        article = self.store.get_article_by_url(url)
        if article is None:
            raise NotFound(f"no article with url {url!r}")
        return article

    def delete_article(self, article_id: int) -> None:
        with self._lock, self.store.transaction():
            article = self.get_article(article_id)
            self._leave_cluster(article)
            self.store.delete_article(article_id)
            self._shingle_cache.pop(article_id, None)

    def resolve_cluster_id(self, cluster_id: int) -> int:
        if self.store.get_cluster(cluster_id) is not None:
            return cluster_id
        alias = self.store.resolve_alias(cluster_id)
        if alias is None:
            raise NotFound(f"no cluster with id {cluster_id}")
        return alias

    def get_cluster(self, cluster_id: int) -> tuple[Cluster, list[Article]]:
        cluster = self.store.get_cluster(self.resolve_cluster_id(cluster_id))
        if cluster is None:
            raise NotFound(f"no cluster with id {cluster_id}")
        members = sorted(self.store.cluster_members(cluster.id), key=representative_key)
        return cluster, members

    def list_clusters(self, min_size: int = 1, limit: int = 50,
                      before: tuple[str, int] | None = None) -> list[Cluster]:
        return self.store.list_clusters(min_size, limit, before)

    def all_clusters(self, min_size: int = 1) -> list[tuple[Cluster, list[Article]]]:
        out = []
        before = None
        while True:
            page = self.store.list_clusters(min_size, 1000, before)
            if not page:
                return out
            for cluster in page:
                out.append((cluster, sorted(self.store.cluster_members(cluster.id), key=representative_key)))
            before = (page[-1].last_seen, page[-1].id)

    def explain(self, a_id: int, b_id: int) -> Explanation:
        a, b = self.get_article(a_id), self.get_article(b_id)
        return explain_pair(a, b, self._shingles_of(a), self._shingles_of(b), self.decision)

    def representative_scores(self, cluster: Cluster, members: list[Article]) -> dict[int, Verdict]:
        rep = next(m for m in members if m.id == cluster.representative_id)
        return {m.id: decide(rep.norm_text, m.norm_text, self._shingles_of(rep), self._shingles_of(m),
                             self.decision) for m in members}

    # -- index maintenance --------------------------------------------------------------------
    def sync_index(self) -> dict[str, int]:
        """Make the index hold exactly the stored signatures of the current version."""
        stored: set[int] = set()
        present = self.index.ids()
        missing: list[tuple[int, np.ndarray]] = []
        added = 0
        for article_id, version, blob in self.store.iter_signatures():
            if version != self.version:
                continue
            stored.add(article_id)
            if article_id not in present:
                missing.append((article_id, np.frombuffer(blob, dtype=np.uint32)))
            if len(missing) >= 5_000:
                self.index.insert_many(missing)
                added, missing = added + len(missing), []
        self.index.insert_many(missing)
        added += len(missing)
        removed = 0
        for key in present - stored:
            self.index.remove(key)
            removed += 1
        return {"indexed": len(stored), "added": added, "removed": removed}

    def representative_of(self, members: list[Article]) -> Article:
        return pick_representative(members)

    def close(self) -> None:
        self.store.close()

    def heal_index(self) -> dict[str, int]:
        """`sync_index` under the write locks (thread and, on PostgreSQL, cross-process), for start-up.

        A worker starting beside running ones must not drop an id another worker has just indexed but not yet
        committed; holding the writers' lock while comparing means no ingest is half-done meanwhile.
        """
        with self._lock, self.store.transaction():
            return self.sync_index()

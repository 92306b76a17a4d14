"""The use cases: ingest, query, delete, explain. Owns transactions; knows nothing of HTTP."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from . import validate
from .bands import BandIndex
from .batch import ClusterBook
from .browse import SourceStats, source_stats
from .cluster import rep_key, representative_key, summarize
from .config import signature_version
from .errors import DedupError, EmptyText, NotFound
from .explain import Explanation, explain_pair
from .index import SignatureIndex, open_index
from .known import Known, KnownCache
from .models import Article, ArticleIn, Cluster, IngestResult, Match
from .normalize import Normalized, normalize_text
from .screen import screen_order
from .settings import Settings
from .shingle import shingle_hashes
from .signature import minhash_values
from .source_map import SourceMap, source_map
from .store import SqlStore, open_store
from .verify import Verdict, VerdictMemo, decide, warm_up

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
    article: Known
    verdict: Verdict


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Engine:
    def __init__(self, settings: Settings, store: SqlStore | None = None,
                 index: SignatureIndex | BandIndex | None = None,
                 *, rebuild: bool = True) -> None:
        self.settings = settings
        self.norm_config = settings.normalization()
        self.sig_config = settings.signature()
        self.decision = settings.decision()
        self.version = signature_version(self.norm_config, self.sig_config)
        self.store = store or open_store(settings.database_url)
        self.index = index or open_index(self.sig_config, self.decision.lsh_threshold,
                                         redis_url=settings.redis_url, prefix=settings.redis_prefix)
        self.known = KnownCache(self.store, self.sig_config)
        self.verdicts = VerdictMemo(self.decision)
        self._lock = threading.RLock()
        warm_up()
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

    def _shingles_of(self, article: Article | Known) -> np.ndarray:
        if isinstance(article, Known):
            return self.known.shingles(article)
        known = self.known.get(article.id)
        if known is not None and known.norm_text == article.norm_text:
            return self.known.shingles(known)
        return shingle_hashes(article.norm_text, self.sig_config)

    def _screen(self, prepared: Prepared, ids: list[int]) -> list[Known]:
        """Candidates in order of estimated similarity, without those whose MinHash estimates sit far
        below both thresholds (a filter and an order, not a verdict)."""
        if not ids:
            return []
        j_min = self.decision.jaccard - _ESTIMATE_MARGIN
        c_min = self.decision.containment - _ESTIMATE_MARGIN
        n = len(prepared.shingles)
        if isinstance(self.index, BandIndex):
            return self.known.get_many(self.index.screen(prepared.values, ids, n, j_min, c_min))
        # Shared index: screen on signatures alone (cached, or small rows without text), then load the
        # texts of the survivors only.
        rows = [(k.id, k.version, k.values.tobytes(), k.shingle_count) for k in self.known.cached(ids)]
        seen = {r[0] for r in rows}
        rows += self.store.signature_rows([i for i in ids if i not in seen])
        current = [r for r in rows if r[1] == self.version]
        stale = [r[0] for r in rows if r[1] != self.version]
        if not current:
            return self.known.get_many(stale)
        matrix = np.frombuffer(b"".join(r[2] for r in current), dtype=np.uint32).reshape(len(current), -1)
        sizes = np.array([r[3] for r in current], dtype=np.float64)
        order = screen_order(matrix, sizes, list(range(len(current))), prepared.values, n, j_min, c_min)
        return self.known.get_many([current[k][0] for k in order] + stale)

    def _verified(self, prepared: Prepared, exclude: int | None = None,
                  book: ClusterBook | None = None) -> list[ScoredMatch]:
        """Verified duplicates, best estimated first, at most `max_matches` of them."""
        ids = [i for i in self.index.query(prepared.values) if i != exclude]
        found = []
        for known in self._screen(prepared, ids):
            verdict = self._decide(prepared, known)
            if verdict.is_duplicate:
                found.append(ScoredMatch(known, verdict))
                if len(found) >= self.settings.max_matches:
                    break
        if found:
            ids = [m.article.id for m in found]
            current = book.cluster_ids(ids) if book else self.store.clusters_of(ids)[0]
            for m in found:
                m.article.cluster_id = current.get(m.article.id)
        found.sort(key=lambda m: (-m.verdict.scores.containment, -m.verdict.scores.jaccard, m.article.id))
        return found

    def _decide(self, prepared: Prepared, known: Known) -> Verdict:
        return self.verdicts.decide(prepared.normalized.text, known.norm_text, lambda: prepared.shingles,
                                    lambda: self.known.shingles(known))

    def _duplicates(self, a: Known, b: Known) -> bool:
        return self.verdicts.decide(a.norm_text, b.norm_text, lambda: self.known.shingles(a),
                                    lambda: self.known.shingles(b)).is_duplicate

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, item: ArticleIn) -> IngestResult:
        result = self.ingest_many([item])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(self, items: Sequence[ArticleIn]) -> list[IngestResult | Exception]:
        """Ingest in order in one transaction; a bad item yields its error and does not stop the others."""
        ready: list[tuple[int, validate.Fields, Prepared]] = []
        results: list[IngestResult | Exception] = [None] * len(items)  # type: ignore[list-item]
        for pos, item in enumerate(items):
            try:
                fields = validate.article_fields(item)
                ready.append((pos, fields, self.prepare(fields.raw, is_html=fields.is_html)))
            except DedupError as exc:
                results[pos] = exc
        if not ready:
            return results
        with self._lock:
            book = ClusterBook(self.store)
            try:
                with self.store.transaction():
                    heads = self.store.heads_by_url([fields.url for _, fields, _ in ready])
                    book.reserve_ids(sum(fields.url not in heads for _, fields, _ in ready))
                    for pos, fields, prepared in ready:
                        results[pos] = self._ingest_one(fields, prepared, heads, book)
                    book.flush()
            except BaseException:
                self._forget_indexed(book.indexed)
                raise
        return results

    def _forget_indexed(self, article_ids: list[int]) -> None:
        """Undo index insertions of a batch whose transaction did not commit."""
        for article_id in article_ids:
            self.index.remove(article_id)
            self.known.drop(article_id)

    def _ingest_one(self, fields: validate.Fields, prepared: Prepared, heads: dict[str, dict],
                    book: ClusterBook) -> IngestResult:
        head = heads.get(fields.url)
        if head is not None and head["content_hash"] == prepared.content_hash and head["version"] == self.version:
            book.flush()
            return self._result_for(self.get_article(head["id"]), "unchanged")
        article = self._new_article(fields, prepared, head["id"] if head else 0)
        if head is not None:
            book.flush()
            self._leave_cluster(self.get_article(head["id"]))
            self.store.update_article(article)
            self.known.drop(article.id)
        matches = self._verified(prepared, exclude=article.id or None, book=book)
        target = self._choose_cluster(prepared, matches, book)
        if head is None:
            book.add_article(article)
        self._place(article, target, book)
        self._index_insert(article.id, prepared)
        book.indexed.append(article.id)
        self._remember(article, prepared)
        heads[fields.url] = {"id": article.id, "content_hash": article.content_hash, "version": self.version,
                             "cluster_id": article.cluster_id}
        return self._result(article, matches, "updated" if head else "created")

    def reindex(self, article_id: int, prepared: Prepared) -> None:
        """Index a stored article's new signature (after re-signing) and forget its cached record."""
        self.known.drop(article_id)
        self._index_insert(article_id, prepared)

    def _index_insert(self, article_id: int, prepared: Prepared) -> None:
        if isinstance(self.index, BandIndex):
            self.index.insert(article_id, prepared.values, len(prepared.shingles))
        else:
            self.index.insert(article_id, prepared.values)

    def _new_article(self, fields: validate.Fields, prepared: Prepared, article_id: int) -> Article:
        return Article(
            id=article_id, url=fields.url, title=fields.title or prepared.normalized.title, source=fields.source,
            published_at=fields.published_at or validate.published_at(prepared.normalized.date),
            ingested_at=_now(), raw_text=fields.raw, norm_text=prepared.normalized.text,
            content_hash=prepared.content_hash, cluster_id=None, sig_version=self.version,
            hashvalues=prepared.values.tobytes(), shingle_count=len(prepared.shingles),
        )

    def _remember(self, article: Article, prepared: Prepared) -> None:
        known = Known(id=article.id, url=article.url, norm_text=article.norm_text,
                      published_at=article.published_at, ingested_at=article.ingested_at, values=prepared.values,
                      shingle_count=len(prepared.shingles), version=self.version, cluster_id=article.cluster_id)
        known.shingles = prepared.shingles
        self.known.put(known)

    def _place(self, article: Article, target: int | None, book: ClusterBook) -> None:
        """Record the article in its cluster: a new one it founds, or the chosen existing one."""
        unwritten = book.is_unwritten(article.id)
        if target is None and not unwritten and self.store.get_cluster(article.id) is not None:
            # An updated article whose old cluster still lives under its id: the old cluster moves
            # to its earliest remaining member so the id can name the article's new cluster.
            self._rename_cluster(article.id)
            book.invalidate()
        if target is None:
            book.found(article)
            article.cluster_id = article.id
            return
        if not unwritten and book.assigned.get(article.id) is None and article.cluster_id != target:
            self.store.set_clusters([(article.id, target)])
        cluster = book.get(target)
        rep = book.rep_keys.get(target) or self._rep_key_of(cluster.representative_id)
        book.join(target, article, rep)
        article.cluster_id = target

    def _rep_key_of(self, article_id: int) -> tuple:
        known = self.known.get(article_id)
        return rep_key(known.published_at if known else None, article_id)

    def _choose_cluster(self, prepared: Prepared, matches: list[ScoredMatch], book: ClusterBook) -> int | None:
        """The best-matching cluster whose representative this article duplicates; merges only verified reps."""
        accepted: list[Cluster] = []
        for cluster_id in dict.fromkeys(m.article.cluster_id for m in matches if m.article.cluster_id is not None):
            cluster = book.get(cluster_id)
            if cluster is not None and self._duplicates_rep(prepared, cluster, matches):
                accepted.append(cluster)
        if not accepted:
            return None
        target = accepted[0]
        target_rep = self.known.get(target.representative_id)
        merged = [c.id for c in accepted[1:] if target_rep is not None
                  and (other := self.known.get(c.representative_id)) is not None
                  and self._duplicates(target_rep, other)]
        if not merged:
            return target.id
        book.flush()
        return self._merge([target.id, *merged], book)

    def _duplicates_rep(self, prepared: Prepared, cluster: Cluster, matches: list[ScoredMatch]) -> bool:
        if any(m.article.id == cluster.representative_id for m in matches):
            return True
        rep = self.known.get(cluster.representative_id)
        return rep is not None and self._decide(prepared, rep).is_duplicate

    def _merge(self, cluster_ids: list[int], book: ClusterBook) -> int:
        survivor = min(cluster_ids)
        for cluster_id in cluster_ids:
            if cluster_id != survivor:
                self.store.set_cluster([m.id for m in self.store.cluster_members(cluster_id)], survivor)
                self.store.delete_cluster(cluster_id)
                self.store.add_alias(cluster_id, survivor)
        self._refresh_cluster(survivor)
        book.forget(set(cluster_ids))
        return survivor

    def _rename_cluster(self, cluster_id: int) -> None:
        members = self.store.cluster_members(cluster_id)
        successor = min(m.id for m in members)
        self.store.set_cluster([m.id for m in members], successor)
        self.store.delete_cluster(cluster_id)
        self._refresh_cluster(successor)

    def _refresh_cluster(self, cluster_id: int) -> None:
        members = self.store.cluster_members(cluster_id)
        if members:
            self.store.save_cluster(summarize(cluster_id, members))
        else:
            self.store.delete_cluster(cluster_id)

    def _leave_cluster(self, article: Article) -> None:
        self.index.remove(article.id)
        self.known.drop(article.id)
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

    @staticmethod
    def _duplicate_of(article: Article, matches: list[ScoredMatch]) -> Known | None:
        """The earliest (by representative order) article this one duplicates."""
        if not matches:
            return None
        return min((m.article for m in matches), key=lambda k: rep_key(k.published_at, k.id))

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

    # -- browsing -----------------------------------------------------------------------------
    def browse_clusters(self, min_size: int = 2, limit: int = 20, *, sort: str = "recent",
                        after: tuple | None = None, source: str | None = None,
                        active: tuple[str | None, str | None] = (None, None)) -> list[Cluster]:
        """A page of clusters by last activity or by size (`after`: the last one's (last_seen | size, id)),
        optionally with an article of `source`, last active in [active[0], active[1])."""
        return self.store.browse_clusters(min_size, limit, sort=sort, after=after, source=source, active=active)

    def count_clusters(self, min_size: int = 2, source: str | None = None,
                       active: tuple[str | None, str | None] = (None, None)) -> int:
        return self.store.count_clusters(min_size, source, active)

    def cluster_cards(self, cluster_ids: list[int]) -> tuple[dict[int, Article], dict[int, list[tuple]]]:
        """What a list of clusters shows: each one's representative and its members' (source, url), in two
        queries for the whole page rather than loading every member's text."""
        return self.store.representatives(cluster_ids), self.store.member_sources(cluster_ids)

    def source_stats(self, only: str | None = None, top: int = 10) -> list[SourceStats]:
        """Per source: articles, stories first published, reposts made and suffered, over time; with `only`,
        that source's `top` most reposted stories too."""
        found = source_stats(self.store.source_activity(), only)
        if only is not None and found:
            found[0].top_stories = self.store.most_reposted(only, top)
        return found

    def source_map(self, article: Article) -> SourceMap:
        """Where each normalized character of a stored article sits in its reader-visible text."""
        return source_map(article.raw_text, article.norm_text, self.norm_config)

    # -- index maintenance --------------------------------------------------------------------
    def sync_index(self) -> dict[str, int]:
        """Make the index hold exactly the stored signatures of the current version."""
        stored: set[int] = set()
        present = self.index.ids()
        missing: list[tuple[int, np.ndarray, int]] = []
        added = 0
        for article_id, version, blob, shingle_count in self.store.iter_signatures():
            if version != self.version:
                continue
            stored.add(article_id)
            if article_id not in present:
                missing.append((article_id, np.frombuffer(blob, dtype=np.uint32), shingle_count))
            if len(missing) >= 5_000:
                self.index.insert_many(missing)
                added, missing = added + len(missing), []
        self.index.insert_many(missing)
        added += len(missing)
        removed = 0
        for key in present - stored:
            self.index.remove(key)
            removed += 1
        self.index.mark_complete()
        return {"indexed": len(stored), "added": added, "removed": removed}

    def close(self) -> None:
        self.store.close()

    def heal_index(self) -> dict[str, int]:
        """`sync_index` under the write locks (thread and, on PostgreSQL, cross-process), for start-up.

        A worker starting beside running ones must not drop an id another worker has just indexed but not yet
        committed; holding the writers' lock while comparing means no ingest is half-done meanwhile.
        """
        with self._lock, self.store.transaction():
            return self.sync_index()

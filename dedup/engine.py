"""The use cases: ingest, query, delete, explain. Owns transactions; knows nothing of HTTP."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np

from dedup import validate
from dedup.candidates.catch_up import ChangeFollower
from dedup.candidates.containment import anchors
from dedup.candidates.index import open_index
from dedup.candidates.interface import CandidateIndex
from dedup.candidates.layouts import band_layouts
from dedup.candidates.screen import screen_order
from dedup.clusters.article_cache import Known, KnownCache
from dedup.clusters.batch_writes import ClusterBook
from dedup.clusters.bookkeeping import rep_key, representative_key, summarize
from dedup.clusters.corrections import CANNOT, MUST, rules_for, withdraw_for_deleted
from dedup.clusters.origins import SourceStats, source_stats
from dedup.clusters.upkeep import ClusterUpkeep
from dedup.config import signature_version
from dedup.decide.explain import Explanation, explain_pair
from dedup.decide.verify import Later, Verdict, VerdictMemo, When, cut_from, decide, joins_family, later_of, warm_up
from dedup.errors import DedupError, EmptyText, NotFound, RevisionMismatch
from dedup.models import Article, ArticleIn, Cluster, IngestResult, Match, revision
from dedup.ops.alerts import Candidate, WatchBook, start_sender
from dedup.ops.export import iter_rows
from dedup.prepare import Prepared, Recipe, prepare_text
from dedup.recluster.run_log import list_runs
from dedup.settings import Settings
from dedup.sketch import signature_audit
from dedup.sketch.shingle import shingle_hashes
from dedup.store import SqlStore, open_store
from dedup.text import compiled_fold as fastpath
from dedup.text.learned_boilerplate import BoilerplateLearner, Sighting
from dedup.text.normalize import Normalized
from dedup.text.source_map import SourceMap, source_map

log = logging.getLogger("dedup.engine")

# The arrival order of a text not stored yet: after every stored article.
_ARRIVING = sys.maxsize

# Candidates whose estimated Jaccard and containment are both this far below the decision
# thresholds are not verified: MinHash at 128 permutations errs by ~0.035 (one sd) near 0.5.
_ESTIMATE_MARGIN = 0.15


@dataclass(frozen=True)
class ScoredMatch:
    article: Known
    verdict: Verdict


@dataclass
class IndexJournal:
    """The index changes of one write transaction, so they can be undone if it does not commit."""

    touched: list[int] = field(default_factory=list)
    previous: dict[int, Article] = field(default_factory=dict)  # the stored article that was indexed before

    def note(self, article_id: int, previous: Article | None) -> None:
        if article_id in self.touched:
            return  # the first change of an id knows what was there before the transaction
        self.touched.append(article_id)
        if previous is not None:
            self.previous[article_id] = previous


def _when(article: Article | Known) -> When:
    return When(article.published_at, article.ingested_at, article.id)


def _metadata(article: Article) -> tuple[str | None, str | None, str | None]:
    """What an ingest of the same text can change: title, source, publication time (the article as sent: a
    field left out is cleared, as with a new text)."""
    return article.title, article.source, article.published_at


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Engine:
    def __init__(self, settings: Settings, store: SqlStore | None = None,
                 index: CandidateIndex | None = None,
                 *, rebuild: bool = True, preload: bool = True) -> None:
        """`preload`: load the dictionaries (fold tables, jieba's) now, as a server does before its first request;
        False loads each when first needed, as a command line run does: many need few of them."""
        self.settings = settings
        self.norm_config = settings.normalization()
        self.sig_config = settings.signature()
        self.decision = settings.decision()
        self.version = signature_version(self.norm_config, self.sig_config)
        self.store = store or open_store(settings.database_url, busy_timeout=settings.db_busy_timeout)
        self.layouts = band_layouts(self.sig_config.num_perm, self.decision)
        self.index: CandidateIndex = index or open_index(self.sig_config, self.layouts,
                                         redis_url=settings.redis_url, prefix=settings.redis_prefix,
                                         check_eviction=settings.redis_check_eviction,
                                         anchor_rate=settings.anchor_rate)
        self.anchor_rate = settings.anchor_rate
        self.recipe = Recipe(self.norm_config, self.sig_config, settings.max_article_bytes, settings.anchor_rate)
        self.known = KnownCache(self.store, self.sig_config)
        self.verdicts = VerdictMemo(self.decision)
        self.learner = BoilerplateLearner(self.store, settings.boilerplate_min_titles,
                                          settings.boilerplate_refresh_seconds)
        self._lock = threading.RLock()
        self._journal: IndexJournal | None = None
        self.upkeep = ClusterUpkeep(self.store)
        self.watches = WatchBook(self.store, settings)
        self.alerts_written = threading.Event()  # set after a commit that wrote deliveries: wakes the sender
        self.changes = ChangeFollower(self.store, self.index, self.known, self.version, self.sig_config,
                                      self.anchor_rate)
        warm_up(dictionaries=preload)
        log.info(fastpath.describe())
        if rebuild:
            self.sync_index()
        else:
            self.changes.seen(self.store.index_change_seq())

    # -- preparation --------------------------------------------------------------------------
    def prepare(self, raw: str, *, is_html: bool | None = None, title: str | None = None) -> Prepared:
        """Normalize, shingle and sign (dedup.prepare) under the boilerplate learned so far."""
        generation = self.learner.generation
        learned = self.learner.learned() if self.learner.enabled else None
        return prepare_text(raw, self.recipe, learned=learned, generation=max(generation, self.learner.generation),
                            is_html=is_html, title=title)

    def snapshot(self) -> tuple[frozenset[int] | None, int]:
        """The learned boilerplate and its generation, for preparing articles in other processes."""
        learned = self.learner.learned() if self.learner.enabled else None
        return learned, self.learner.generation

    def _prepare_item(self, item: ArticleIn) -> tuple[validate.Fields, Prepared] | DedupError:
        try:
            fields = validate.article_fields(item)
            return fields, self.prepare(fields.raw, is_html=fields.is_html, title=fields.title)
        except DedupError as exc:
            return exc

    def _current(self, fields: validate.Fields, prepared: Prepared) -> Prepared:
        """The article prepared again when lines it carries were learned as boilerplate since it was prepared
        (by an earlier article of its batch)."""
        if prepared.generation == self.learner.generation:
            return prepared
        learned = self.learner.learned()
        if not any(key in learned for key, _ in prepared.normalized.lines):
            return prepared
        return self.prepare(fields.raw, is_html=fields.is_html, title=fields.title)

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
        in_memory = self.index.screen(prepared.values, ids, n, j_min, c_min)
        if in_memory is not None:
            return self.known.get_many(in_memory)
        # An index without signatures (Redis): screen on signatures alone (cached, or small rows without text),
        # then load the texts of the survivors only.
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

    def _candidates(self, prepared: Prepared, exclude: int | None) -> list[Known]:
        """Band candidates (similar as a whole) screened by estimate, then containment candidates (one text
        inside the other, dedup.candidates.containment) that the bands missed or the whole-text estimate dropped."""
        ids = [i for i in self.index.query(prepared.values, shingle_count=len(prepared.shingles),
                                           limit=self.settings.max_band_candidates) if i != exclude]
        screened = self._screen(prepared, ids)
        seen = {k.id for k in screened}
        seen.add(exclude)  # type: ignore[arg-type]
        contained = [i for i in self.index.contained.query(prepared.anchors) if i not in seen]
        if not contained:
            return screened
        return screened + [k for k in self.known.get_many(contained) if k.version == self.version]

    def _verified(self, prepared: Prepared, exclude: int | None = None,
                  book: ClusterBook | None = None, when: When | None = None) -> list[ScoredMatch]:
        """Verified duplicates, best estimated first, at most `max_matches` of them. `when` is the
        prepared text's publication time and arrival (partial copies depend on which came first); by default
        it arrives now."""
        when = when or When(None, _now(), _ARRIVING)
        found = []
        for known in self._candidates(prepared, exclude):
            verdict = self._decide(prepared, known, later_of(when, _when(known)))
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

    def _decide(self, prepared: Prepared, known: Known, later: Later) -> Verdict:
        return self.verdicts.decide(prepared.normalized.text, known.norm_text, lambda: prepared.shingles,
                                    lambda: self.known.shingles(known), later, (prepared.headline, known.title))

    def _duplicates(self, a: Known, b: Known) -> bool:
        return self.verdicts.decide(a.norm_text, b.norm_text, lambda: self.known.shingles(a),
                                    lambda: self.known.shingles(b),
                                    later_of(_when(a), _when(b)), (a.title, b.title)).is_duplicate

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, item: ArticleIn, *, if_match: Sequence[str] | None = None) -> IngestResult:
        """`if_match`: revisions the stored article of this URL must have ("*": any), else `RevisionMismatch` and
        nothing is written; checked inside the write transaction, so two writers holding the same revision cannot
        both succeed (a lost update)."""
        result = self.ingest_many([item], if_match=if_match)[0]
        if isinstance(result, Exception):
            raise result
        return result

    def ingest_many(self, items: Sequence[ArticleIn], *, if_match: Sequence[str] | None = None,
                    prepared: Sequence[tuple[validate.Fields, Prepared] | DedupError] | None = None,
                    ) -> list[IngestResult | Exception]:
        """Ingest in order in one transaction; a bad item yields its error and does not stop the others.
        `if_match` (see `ingest`) is for a single item. `prepared`: each item's fields and preparation (or its
        error) when another process made them (dedup.parallel)."""
        if if_match is not None and len(items) != 1:
            raise ValueError("if_match conditions a single article")
        ready: list[tuple[int, validate.Fields, Prepared]] = []
        results: list[IngestResult | Exception] = [None] * len(items)  # type: ignore[list-item]
        for pos, item in enumerate(items):
            outcome = prepared[pos] if prepared is not None else self._prepare_item(item)
            if isinstance(outcome, DedupError):
                results[pos] = outcome
            else:
                ready.append((pos, *outcome))
        if not ready:
            return results
        reposts: list[Candidate] = []
        with self.writing():
            book = ClusterBook(self.store)
            heads = self.store.heads_by_url([fields.url for _, fields, _ in ready])
            book.reserve_ids(sum(fields.url not in heads for _, fields, _ in ready))
            done: list[tuple[int, validate.Fields, Prepared]] = []
            for pos, fields, article_prep in ready:
                if if_match is not None:
                    head = heads.get(fields.url)
                    self._check_revision(self.store.get_article(head["id"]) if head else None, if_match)
                try:
                    article_prep = self._current(fields, article_prep)
                except DedupError as exc:
                    results[pos] = exc
                    continue
                results[pos] = self._ingest_one(fields, article_prep, heads, book, reposts)
                done.append((pos, fields, article_prep))
            self._learn(done, results, book)
            book.flush()
            alerts = self.watches.record(reposts)  # the outbox: in this transaction, after the cluster writes
        if alerts:
            self.alerts_written.set()
        return results

    @staticmethod
    def _check_revision(article: Article | None, if_match: Sequence[str]) -> None:
        if article is None:
            raise RevisionMismatch("no stored article to match the given revision: it was never stored or was "
                                   "deleted")
        current = revision(article)
        if "*" not in if_match and current not in if_match:
            raise RevisionMismatch(f"article {article.id} changed since it was read: it is at revision {current}, "
                                   f"not {', '.join(if_match)[:200] or 'the one given'}; read it again and re-apply "
                                   "the change")

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The writers' locks (this process's, and the database's) and one transaction, with every index change
        made inside journaled and undone if the transaction does not commit: a failed update or delete must
        leave the stored version findable, a failed insert must leave nothing behind."""
        with self._lock:
            if self._journal is not None:  # nested: the outer transaction owns the journal
                with self.store.transaction():
                    yield
                return
            journal = self._journal = IndexJournal()
            try:
                with self.store.transaction():
                    self.store.lock_writers()
                    self.changes.apply(self.sync_index)
                    yield
                    written = self.changes.written()
                self.changes.seen(written)  # committed: our own changes are applied
            except BaseException:
                self._undo(journal)
                raise
            finally:
                self._journal = None

    # -- other writers ------------------------------------------------------------------------
    def catch_up(self) -> int:
        """Apply what other processes wrote since this one last looked (`dedup ingest` beside a server on one
        SQLite file, another server on PostgreSQL): their articles enter this process's in-process index, their
        updates and deletes replace or leave it, and cached records of them are dropped (a shared index is
        theirs too: there only the cache is refreshed). Incremental, from the store's change log
        (`dedup.candidates.catch_up`);
        free while nothing is committed. Called before every request that reads the index; writers catch up
        under their lock (`writing`). Returns how many articles were re-read."""
        version = self.store.data_version()  # read first: a commit after it is seen by the next call
        found = 0
        if self.changes.pending(version):
            with self._lock:  # not a store transaction: on PostgreSQL that would wait for other processes' writers
                found = self.changes.apply(self.sync_index)
        self.changes.seen_version = version  # only once applied: a concurrent reader meanwhile waits on the lock
        return found

    def index_size(self) -> int:
        """Articles in the index, after catching up with other writers (what /metrics and /readyz report)."""
        self.catch_up()
        return len(self.index)

    def _undo(self, journal: IndexJournal) -> None:
        """Put the index back as it was before a transaction that rolled back."""
        try:
            for article_id in journal.touched:
                self.index.remove(article_id)
                self.known.drop(article_id)
            for article in journal.previous.values():
                self._index_article(article)
        except Exception as exc:  # noqa: BLE001 - the index is out of reach (Redis down): its heal re-syncs it
            # An expected outage, not a bug: name it in one line (a traceback would read as a crash in the log).
            log.warning("could not undo %d index changes of a rolled-back transaction (%s: %s); the index is "
                        "re-synced from the database when it is reachable again", len(journal.touched),
                        type(exc).__name__, exc)

    def _ingest_one(self, fields: validate.Fields, prepared: Prepared, heads: dict[str, dict],
                    book: ClusterBook, reposts: list[Candidate]) -> IngestResult:
        """`reposts` collects the articles this ingest made duplicates (new, or moved into another cluster), for
        the alert outbox."""
        head = heads.get(fields.url)
        status = "updated" if head else "created"
        article = self._new_article(fields, prepared, head["id"] if head else 0)
        if head is not None and head["content_hash"] == prepared.content_hash and head["version"] == self.version:
            book.flush()
            stored = self.get_article(head["id"])
            if _metadata(stored) == _metadata(article):
                return self._result_for(stored, "unchanged")
            if (stored.published_at, stored.norm_text) == (article.published_at, article.norm_text):
                return self._update_metadata(stored, article)
            status = "metadata_updated"  # a new publication time: the verdict may change, placed again below
        if head is not None:
            book.flush()
            self._leave_cluster(self.get_article(head["id"]))
            self.store.update_article(article)
            self.known.drop(article.id)
        when = When(article.published_at, article.ingested_at, article.id or _ARRIVING)
        matches = self._verified(prepared, exclude=article.id or None, book=book, when=when)
        target, judged = self._choose_cluster(prepared, matches, book, when, article.id)
        if head is None:
            book.add_article(article)
        self._place(article, target, book)
        self._index_insert(article.id, prepared)
        self._remember(article, prepared)
        heads[fields.url] = {"id": article.id, "content_hash": article.content_hash, "version": self.version,
                             "cluster_id": article.cluster_id}
        result = self._result(article, matches, judged, status)
        if result.judged is not None and (head is None or head["cluster_id"] != article.cluster_id):
            reposts.append(Candidate(article, result.judged, result.matches))
        return result

    def _update_metadata(self, stored: Article, new: Article) -> IngestResult:
        """Same text, new title or source: written in place (a new revision), the article stays where it is (the
        decision reads neither); its cluster's dates are summarized again."""
        article = replace(stored, title=new.title, source=new.source, published_at=new.published_at,
                          ingested_at=new.ingested_at)
        self.store.update_metadata(article)
        self.known.drop(article.id)
        self.upkeep.refresh([article.cluster_id] if article.cluster_id is not None else [])
        return self._result_for(article, "metadata_updated")

    # -- learned boilerplate ------------------------------------------------------------------
    def _learn(self, done: list[tuple[int, validate.Fields, Prepared]], results: list, book: ClusterBook) -> None:
        """Count the batch's stored articles' lines as evidence of boilerplate (per source, else corpus-wide).
        Articles that carry a line learned now (earlier ones, or this batch's) are re-signed at once, and the
        results of this batch's re-signed articles are made again from what is stored."""
        if not self.learner.enabled:
            return
        counted = [(pos, fields, prepared) for pos, fields, prepared in done  # a text seen before: counted then
                   if prepared.normalized.lines and results[pos].status in ("created", "updated")]
        resign = self.learner.observe([
            Sighting(fields.source or "*", fields.title or prepared.normalized.title, prepared.normalized.lines,
                     results[pos].id) for pos, fields, prepared in counted])
        for article_id in resign:
            self._resign(article_id, book)
        again = set(resign)
        for pos, _, _ in counted:
            if results[pos].id in again:
                results[pos] = self._result_for(self.get_article(results[pos].id), results[pos].status)

    def learned_boilerplate(self, limit: int = 100) -> list[dict]:
        """The most recently learned boilerplate lines: scope, when, titles seen, the line's start."""
        return [{"scope": scope, "learned_at": at, "titles": titles, "line": sample}
                for scope, at, titles, sample in self.store.learned_boilerplate_lines(limit)]

    def _resign(self, article_id: int, book: ClusterBook) -> None:
        """Normalize a stored article again under the boilerplate learned since it arrived, and place it again
        like an updated article: it leaves its cluster and joins what its remaining text duplicates. With no
        text left it stays alone, out of the index, with an empty text that matches nothing."""
        book.flush()
        old = self.store.get_article(article_id)
        if old is None:
            return
        try:
            prepared: Prepared | None = self.prepare(old.raw_text, title=old.title)
        except EmptyText:
            prepared = None
        text = prepared.normalized.text if prepared is not None else ""
        if text == old.norm_text:
            return
        self._leave_cluster(old)
        new = replace(old, norm_text=text, cluster_id=None)
        if prepared is not None:
            new.hashvalues, new.shingle_count = prepared.values.tobytes(), len(prepared.shingles)
        self.store.update_article(new)
        when = _when(new)
        matches = self._verified(prepared, exclude=article_id, book=book, when=when) if prepared is not None else []
        target = (self._choose_cluster(prepared, matches, book, when, article_id)[0]
                  if prepared is not None and matches else None)
        self._place(new, target, book)
        if prepared is not None:
            self._index_insert(article_id, prepared)
            self._remember(new, prepared)

    def reindex_stored(self, article: Article) -> None:
        """Index a stored article again as it is stored now (a repaired signature), journaled like any write:
        a rollback puts back what was indexed before."""
        self._index_remove(article)
        self.changes.reindex([article.id])

    def reindex(self, article_id: int, prepared: Prepared) -> None:
        """Index a stored article's new signature (after re-signing) and forget its cached record."""
        self.known.drop(article_id)
        self._index_insert(article_id, prepared)

    def _index_insert(self, article_id: int, prepared: Prepared) -> None:
        if self._journal is not None:
            self._journal.note(article_id, None)
        self._index_values(article_id, prepared.values, len(prepared.shingles))
        self.index.contained.insert(article_id, prepared.anchors)

    def _index_article(self, article: Article) -> None:
        """Index a stored article again (the undo of a rolled-back removal): its signature and its anchors."""
        self._index_values(article.id, np.frombuffer(article.hashvalues, dtype=np.uint32), article.shingle_count)
        self.index.contained.insert(article.id, anchors(self._shingles_of(article), self.anchor_rate))

    def _index_values(self, article_id: int, values: np.ndarray, shingle_count: int) -> None:
        self.index.insert(article_id, values, shingle_count)

    def _index_remove(self, article: Article) -> None:
        """Take an article out of the index; inside a write transaction, remember what it was indexed under."""
        if self._journal is not None:
            indexed = article.sig_version == self.version and bool(article.hashvalues) and article.id in self.index
            self._journal.note(article.id, article if indexed else None)
        self.index.remove(article.id)

    def _new_article(self, fields: validate.Fields, prepared: Prepared, article_id: int) -> Article:
        return Article(
            id=article_id, url=fields.url, title=fields.title or prepared.normalized.title, source=fields.source,
            published_at=fields.published_at or validate.published_at(prepared.normalized.date),
            ingested_at=_now(), raw_text=fields.raw, norm_text=prepared.normalized.text,
            content_hash=prepared.content_hash, cluster_id=None, sig_version=self.version,
            hashvalues=prepared.values.tobytes(), shingle_count=len(prepared.shingles),
        )

    def _remember(self, article: Article, prepared: Prepared) -> None:
        known = Known(id=article.id, url=article.url, norm_text=article.norm_text, title=article.title,
                      published_at=article.published_at, ingested_at=article.ingested_at, values=prepared.values,
                      shingle_count=len(prepared.shingles), version=self.version, cluster_id=article.cluster_id)
        known.shingles = prepared.shingles
        self.known.put(known)

    def _place(self, article: Article, target: int | None, book: ClusterBook) -> None:
        """Record the article in its cluster: a new one it founds, or the chosen existing one."""
        unwritten = book.is_unwritten(article.id)
        if target is None and not unwritten:
            if self.store.get_cluster(article.id) is not None:
                # An updated article whose old cluster still lives under its id: the old cluster moves
                # to a free id of its remaining members so the id can name the article's new cluster.
                self.upkeep.rename(article.id)
                book.invalidate()
            self.store.delete_alias(article.id)  # the id names a live cluster again
        if target is None:
            book.found(article)
            article.cluster_id = article.id
            return
        if not unwritten and book.assigned.get(article.id) is None and article.cluster_id != target:
            self.store.set_clusters([(article.id, target)])
        cluster = book.get(target)
        assert cluster is not None  # `target` came from the candidates' clusters, read in this transaction
        book.join(target, article, self._rep_key_of(cluster, book))
        article.cluster_id = target

    def _rep_key_of(self, cluster: Cluster, book: ClusterBook) -> tuple:
        """The cluster's representative's place in time (`bookkeeping.rep_key`), as this batch knows it."""
        known_key = book.rep_keys.get(cluster.id)
        if known_key is not None:
            return known_key
        known = self.known.get(cluster.representative_id)
        return rep_key(known.published_at if known else None, cluster.representative_id)

    def _choose_cluster(self, prepared: Prepared, matches: list[ScoredMatch], book: ClusterBook,
                        when: When, article_id: int = 0) -> tuple[int | None, ScoredMatch | None]:
        """The cluster this article joins among those whose representative it duplicates (`_origin_first`;
        merges only verified reps), and the pair the decision rests on: the article and that representative,
        with their scores.

        Operator corrections (dedup.clusters.corrections) come first: a stored article (`article_id`, an update) goes
        to its must-link partners' cluster and never to one holding a cannot-link partner, and no two clusters
        a cannot-link keeps apart are merged."""
        excluded: set[int] = set()
        if article_id:
            rules = rules_for(self.store, [article_id])
            partners = rules.partners(article_id, MUST)
            if partners:
                held = book.cluster_ids(partners)
                target_id = next((held[p] for p in partners if held.get(p) is not None), None)
                cluster = book.get(target_id) if target_id is not None else None
                if cluster is not None:
                    return cluster.id, self._duplicates_rep(prepared, cluster, matches, when)
            apart = rules.partners(article_id, CANNOT)
            excluded = {c for c in book.cluster_ids(apart).values() if c is not None} if apart else set()
        accepted: list[tuple[Cluster, ScoredMatch]] = []
        for cluster_id in dict.fromkeys(m.article.cluster_id for m in matches if m.article.cluster_id is not None
                                        and m.article.cluster_id not in excluded):
            cluster = book.get(cluster_id)
            against = None if cluster is None else (self._duplicates_rep(prepared, cluster, matches, when)
                                                    or self._joins_family(prepared, cluster, matches, when))
            if against is not None:
                accepted.append((cluster, against))  # type: ignore[arg-type]
        if not accepted:
            return None, None
        target, judged = self._origin_first(prepared, accepted, book)
        target_rep = self.known.get(target.representative_id)
        merged = [c.id for c, against in accepted if c.id != target.id
                  if (self._cut_from(prepared, target, judged) and self._cut_from(prepared, c, against))
                  or (target_rep is not None and (other := self.known.get(c.representative_id)) is not None
                      and self._duplicates(target_rep, other))]
        if not merged:
            return target.id, judged
        book.flush()
        merged = self._not_kept_apart(target.id, merged)
        if not merged:
            return target.id, judged
        return self._merge([target.id, *merged], book), judged

    def _origin_first(self, prepared: Prepared, accepted: list[tuple[Cluster, ScoredMatch]],
                      book: ClusterBook) -> tuple[Cluster, ScoredMatch]:
        """The cluster an arriving text joins. A text that copies a cluster as a whole joins the best match. An
        excerpt held by several stories (the passage was quoted later by a round-up, a follow-up or a compilation)
        joins the earliest of them: the passage's origin, not whichever later text happens to quote it most
        fully (those later texts are new articles by the direction rule, not copies of the origin)."""
        best = accepted[0]
        size = len(prepared.shingles)
        if best[1].verdict.scores.jaccard >= self.decision.jaccard:
            return best
        excerpts = [(c, m) for c, m in accepted
                    if cut_from(m.verdict, size, m.article.shingle_count, self.decision)]
        if len(excerpts) < 2:
            return best
        return min(excerpts, key=lambda cm: self._rep_key_of(cm[0], book))

    def _cut_from(self, prepared: Prepared, cluster: Cluster, against: ScoredMatch) -> bool:
        """Is the cluster's representative a part cut from this article (a containment-only duplicate, the
        smaller side)? Two clusters whose representatives are both cut from one arriving text are excerpts of
        one source, one story, as they would have been had the source arrived first (`verify.cut_from`)."""
        return (against.article.id == cluster.representative_id
                and cut_from(against.verdict, against.article.shingle_count, len(prepared.shingles), self.decision))

    def _not_kept_apart(self, target: int, others: list[int]) -> list[int]:
        """The clusters that can merge into `target` without joining the two sides of a cannot-link."""
        apart = self.store.clusters_kept_apart([target, *others])
        if not apart:
            return others
        joined = [target]
        for other in others:
            if all((min(other, c), max(other, c)) not in apart for c in joined):
                joined.append(other)
        return joined[1:]

    def _duplicates_rep(self, prepared: Prepared, cluster: Cluster, matches: list[ScoredMatch],
                        when: When) -> ScoredMatch | None:
        """The cluster's representative with this article's verdict against it, when that is a duplicate."""
        found = next((m for m in matches if m.article.id == cluster.representative_id), None)
        if found is not None:
            return found
        rep = self.known.get(cluster.representative_id)
        if rep is None:
            return None
        verdict = self._decide(prepared, rep, later_of(when, _when(rep)))
        return ScoredMatch(rep, verdict) if verdict.is_duplicate else None

    def _joins_family(self, prepared: Prepared, cluster: Cluster, matches: list[ScoredMatch],
                      when: When) -> ScoredMatch | None:
        """The member of this cluster the article verifiably copies (a Jaccard-level duplicate: containment alone
        may be a later follow-up quoting it), when it also overlaps the cluster's representative enough
        (`verify.joins_family`): a later copy of a longer version joins the family of its short first version,
        while an article sharing nothing with the representative cannot chain in through one member."""
        member = next((m for m in matches if m.article.cluster_id == cluster.id
                       and m.verdict.scores.jaccard >= self.decision.jaccard), None)
        rep = self.known.get(cluster.representative_id)
        if member is None or rep is None:
            return None
        verdict = self._decide(prepared, rep, later_of(when, _when(rep)))
        return member if joins_family(verdict, prepared.normalized.text, rep.norm_text, self.decision) else None

    def _merge(self, cluster_ids: list[int], book: ClusterBook) -> int:
        survivor = self.upkeep.merge(cluster_ids)
        book.forget(set(cluster_ids))
        return survivor

    def _leave_cluster(self, article: Article) -> None:
        """Out of the index and out of its cluster (journaled: a rollback puts it back in the index)."""
        self._index_remove(article)
        self.known.drop(article.id)
        self.upkeep.leave(article.id, article.cluster_id)

    def _result(self, article: Article, matches: list[ScoredMatch], judged: ScoredMatch | None,
                status: str) -> IngestResult:
        """The verdict as users read it: `duplicate_of` is the article this one was judged against (the
        representative of the cluster it joined) with that pair's scores in `judged`; an article that founded
        its own cluster is not a duplicate of anything, even when it resembles stored articles (`matches`)."""
        return IngestResult(
            id=article.id, url=article.url, cluster_id=article.cluster_id or article.id,
            is_duplicate=judged is not None, duplicate_of=judged.article.url if judged else None,
            duplicate_of_id=judged.article.id if judged else None, matches=[self._match(m) for m in matches],
            status=status, judged=self._match(judged) if judged else None, revision=revision(article),
        )

    def _result_for(self, article: Article, status: str) -> IngestResult:
        """A stored article's verdict now: judged against the representative of the cluster it is in."""
        prepared_shingles = self._shingles_of(article)
        values = np.frombuffer(article.hashvalues, dtype=np.uint32)
        prepared = Prepared(Normalized(article.norm_text, article.title, None), prepared_shingles, values,
                            article.content_hash, anchors(prepared_shingles, self.anchor_rate), headline=article.title)
        matches = self._verified(prepared, exclude=article.id, when=_when(article))
        cluster = self.store.get_cluster(article.cluster_id) if article.cluster_id is not None else None
        judged = None
        if cluster is not None and cluster.representative_id != article.id:
            judged = self._duplicates_rep(prepared, cluster, matches, _when(article))
        return self._result(article, matches, judged, status)

    @staticmethod
    def _match(m: ScoredMatch) -> Match:
        s = m.verdict.scores
        return Match(id=m.article.id, url=m.article.url, jaccard=round(s.jaccard, 4),
                     containment=round(s.containment, 4), cluster_id=m.article.cluster_id, reason=m.verdict.reason)

    # -- queries ------------------------------------------------------------------------------
    def query_text(self, text: str, *, is_html: bool | None = None) -> list[Match]:
        prepared = self.prepare(validate.raw_text(text), is_html=is_html)
        self.catch_up()
        return [self._match(m) for m in self._verified(prepared)]

    def duplicates_of(self, article_id: int) -> list[Match]:
        self.catch_up()
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

    def delete_article(self, article_id: int, *, if_match: Sequence[str] | None = None) -> None:
        with self.writing():
            self._delete(self.get_article(article_id), if_match)

    def delete_article_by_url(self, url: str, *, if_match: Sequence[str] | None = None) -> int:
        """Delete the article stored under this URL (exact match); returns its id."""
        with self.writing():
            article = self.get_article_by_url(url)
            self._delete(article, if_match)
            return article.id

    def _delete(self, article: Article, if_match: Sequence[str] | None) -> None:
        if if_match is not None:
            self._check_revision(article, if_match)
        self._leave_cluster(article)
        self.store.delete_article(article.id)
        withdraw_for_deleted(self, [article.id])

    def delete_articles(self, article_ids: Sequence[int], *, chunk: int = 500) -> int:
        """Bulk delete with the upkeep of a single delete (out of the index, clusters re-summarized or removed,
        corrections withdrawn), in transactions of `chunk` articles so ingest is not held up for long.
        Returns how many were deleted (an id deleted meanwhile is skipped)."""
        deleted = 0
        for start in range(0, len(article_ids), chunk):
            with self.writing():
                found = self.store.get_articles(article_ids[start:start + chunk])
                for article in found:
                    self._index_remove(article)
                    self.known.drop(article.id)
                ids = [a.id for a in found]
                self.store.set_cluster(ids, None)
                for article_id in ids:
                    self.store.delete_article(article_id)
                withdraw_for_deleted(self, ids)
                self.upkeep.refresh({a.cluster_id for a in found if a.cluster_id is not None})
                deleted += len(found)
        return deleted

    def resolve_cluster_id(self, cluster_id: int) -> int:
        if self.store.get_cluster(cluster_id) is not None:
            return cluster_id
        alias = self.store.resolve_alias(cluster_id)
        if alias is None:
            raise NotFound(f"no cluster with id {cluster_id}")
        return alias

    def get_cluster(self, cluster_id: int) -> tuple[Cluster, list[Article]]:
        """A cluster as its members are now. The summary is made from the members read in one statement, so
        a reader never sees a representative that is not a member while a writer moves articles (reads take
        no lock); a cluster emptied meanwhile is looked up again (merged or renamed) before a 404."""
        for _ in range(3):
            resolved = self.resolve_cluster_id(cluster_id)
            members = sorted(self.store.cluster_members(resolved), key=representative_key)
            if members:
                return summarize(resolved, members), members
        raise NotFound(f"no cluster with id {cluster_id}")

    def list_clusters(self, min_size: int = 1, limit: int = 50, before: tuple[str, int] | None = None, *,
                      since: str | None = None, until: str | None = None) -> list[Cluster]:
        """Newest last activity first. `since`/`until` (ISO dates or date-times, both inclusive, a date is a whole
        day) bound the last activity: the latest publication time of a member (ingestion time for one without);
        a bad value is `InvalidArticle` naming it."""
        active = (validate.time_bound(since, "since", end=False), validate.time_bound(until, "until", end=True))
        return self.store.list_clusters(min_size, limit, before, active)

    def all_clusters(self, min_size: int = 1) -> list[tuple[Cluster, list[Article]]]:
        out: list[tuple[Cluster, list[Article]]] = []
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
        return explain_pair(a, b, self._shingles_of(a), self._shingles_of(b), self.decision,
                            later_of(_when(a), _when(b)))

    def representative_scores(self, cluster: Cluster, members: list[Article]) -> dict[int, Verdict]:
        rep = next(m for m in members if m.id == cluster.representative_id)
        return {m.id: decide(rep.norm_text, m.norm_text, self._shingles_of(rep), self._shingles_of(m),
                             self.decision, later=later_of(_when(rep), _when(m)), titles=(rep.title, m.title))
                for m in members}

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
        start = self.store.index_change_seq()  # changes written during the scan are applied again later: harmless
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
        self._sync_contained(stored)
        self.index.mark_complete()
        self.changes.seen(start)
        return {"indexed": len(stored), "added": added, "removed": removed}

    def _sync_contained(self, stored: set[int]) -> None:
        """Make the containment index hold the anchors of exactly the stored articles (anchors come from
        the shingles, which are recomputed from the stored normalized texts of the ones it lacks)."""
        contained = self.index.contained
        present = contained.ids()
        for article_id in present - stored:
            contained.remove(article_id)
        if self.anchor_rate <= 0:
            return
        missing = sorted(stored - present)
        for start in range(0, len(missing), 5_000):
            texts = self.store.norm_texts(missing[start:start + 5_000])
            contained.insert_many((article_id, anchors(shingle_hashes(text, self.sig_config), self.anchor_rate))
                                  for article_id, text in texts.items())

    # -- reads for callers that must not reach into the store or the index (the web layer) -----------------
    def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """The stored articles with these ids (missing ones left out), in one query."""
        return self.store.get_articles(list(article_ids))

    def counts(self) -> dict[str, int]:
        """Stored articles, clusters, and clusters of two or more (the /metrics gauges)."""
        return self.store.counts()

    def ping(self) -> None:
        """Raises when the database does not answer (readiness)."""
        self.store.ping()

    def index_eviction_problem(self) -> str | None:
        """Why a shared index's Redis may lose keys, or None (the in-process index never does)."""
        probe = getattr(self.index, "eviction_problem", None)
        return probe() if probe else None

    def export_rows(self, keep: str = "all") -> Iterator[dict]:
        """Every article with its cluster and exact score to the representative (see `dedup.ops.export`)."""
        return iter_rows(self.store, self.sig_config, keep)

    def recluster_runs(self, limit: int = 20) -> list[dict]:
        """Recorded re-cluster runs, newest first."""
        return list_runs(self.store, limit)

    def start_alert_sender(self) -> tuple[threading.Thread, threading.Event]:
        """This process's webhook sender thread (set the returned event to stop it)."""
        return start_sender(self.store, self.settings, self.alerts_written)

    def close(self) -> None:
        self.store.close()

    def check(self, *, repair: bool = True) -> dict[str, int]:
        """`dedup check` and POST /v1/admin/check: the index against the stored signatures, the signatures
        against the stored texts (`dedup.sketch.signature_audit`), and every cluster invariant (see
        `dedup.clusters.upkeep`), each counted, then repaired unless `repair` is false."""
        signatures, wrong = signature_audit.audit(self)
        if not repair:
            self.catch_up()  # what other processes wrote is not a difference
            with self._lock, self.store.transaction():
                return {**self.index_differences(), **signatures, **self.upkeep.check(repair=False).as_dict()}
        with self.writing():
            clusters = self.upkeep.check(repair=True).as_dict()
            clusters["repaired"] += signature_audit.repair(self, wrong)
            return {**self.sync_index(), **signatures, **clusters}

    def index_differences(self) -> dict[str, int]:
        """What `sync_index` would change, without changing it."""
        stored = {aid for aid, version, _, _ in self.store.iter_signatures() if version == self.version}
        present = self.index.ids()
        return {"indexed": len(stored), "added": len(stored - present), "removed": len(present - stored)}

    def heal_index(self) -> dict[str, int]:
        """`sync_index` under the write locks (thread and, on PostgreSQL, cross-process), for start-up.

        A worker starting beside running ones must not drop an id another worker has just indexed but not yet
        committed; holding the writers' lock while comparing means no ingest is half-done meanwhile.
        """
        with self._lock, self.store.transaction():
            return self.sync_index()

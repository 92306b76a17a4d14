"""SQL store (SQLAlchemy Core): one code path for the SQLite default and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from operator import attrgetter
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dedup.clusters.bookkeeping import Node
from dedup.models import Article, Cluster
from dedup.text.learned_boilerplate import LineRecord

metadata = sa.MetaData()

articles = sa.Table(
    "articles", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False, unique=True),
    sa.Column("title", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("published_at", sa.Text),
    sa.Column("ingested_at", sa.Text, nullable=False),
    sa.Column("raw_text", sa.Text, nullable=False),
    sa.Column("norm_text", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("cluster_id", sa.Integer, index=True),
    # Covering: the clusters of candidate ids are read without touching the wide article rows.
    sa.Index("ix_articles_id_cluster", "id", "cluster_id"),
    # The cluster browser's source filter and sources page.
    sa.Index("ix_articles_source_cluster", "source", "cluster_id"),
)
signatures = sa.Table(
    "signatures", metadata,
    sa.Column("article_id", sa.Integer, sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("version", sa.Text, nullable=False),
    sa.Column("hashvalues", sa.LargeBinary, nullable=False),
    sa.Column("shingle_count", sa.Integer, nullable=False),
)
clusters = sa.Table(
    "clusters", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("representative_id", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("first_seen", sa.Text, nullable=False),
    sa.Column("last_seen", sa.Text, nullable=False),
    sa.Index("ix_clusters_recent", "last_seen", "id"),
    sa.Index("ix_clusters_size", "size", "id"),  # the browser's "largest first" order
)
cluster_aliases = sa.Table(
    "cluster_aliases", metadata,
    sa.Column("old_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("new_id", sa.Integer, nullable=False),
)
# Every write of an article's signature (insert, update, delete) appends its id here, in the writer's transaction.
# An in-process index reads the ids written since it last looked and re-indexes only those: how a server notices
# what another process (`dedup ingest` on the same file, a second server on PostgreSQL) wrote. Writers hold the
# writers' lock, so the sequence grows in commit order. Old rows are pruned (`prune_index_changes`).
index_changes = sa.Table(
    "index_changes", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("article_id", sa.Integer, nullable=False),
    sqlite_autoincrement=True,  # a sequence is never reused after a prune (plain rowids would be)
)

_ARTICLE_COLUMNS = [c for c in articles.c if c.name != "id"]

# A cluster spans its members' publication times (ingestion time for an article without one), as
# `dedup.clusters.bookkeeping.summarize` computes it; files made before that are brought to it once (Alembic 0008 on
# PostgreSQL).
RECOMPUTE_CLUSTER_TIMES = (
    "UPDATE clusters SET "
    "first_seen = COALESCE((SELECT MIN(COALESCE(a.published_at, a.ingested_at)) FROM articles a "
    "WHERE a.cluster_id = clusters.id), first_seen), "
    "last_seen = COALESCE((SELECT MAX(COALESCE(a.published_at, a.ingested_at)) FROM articles a "
    "WHERE a.cluster_id = clusters.id), last_seen)")


class _FileWatch:
    """SQLite's `PRAGMA data_version` on a connection of its own: it changes whenever another connection (of
    this process or another) commits to the file, and costs no transaction, unlike a query on the pool."""

    def __init__(self, path: str | None) -> None:
        self._conn = (sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                      if path and path != ":memory:" else None)
        self._lock = threading.Lock()

    def version(self) -> int | None:
        if self._conn is None:
            return None
        with self._lock:
            return self._conn.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _lacks_change_log(engine: sa.Engine) -> bool:
    """An existing SQLite file made before the index change log (and cluster times by publication)."""
    tables = set(sa.inspect(engine).get_table_names())
    return "clusters" in tables and "index_changes" not in tables


def database_url(value: str) -> str:
    """A bare path means a SQLite file; anything with a scheme is a SQLAlchemy URL."""
    if value.startswith("postgresql://"):
        return value.replace("postgresql://", "postgresql+psycopg://", 1)
    if "://" in value:
        return value
    Path(value).expanduser().parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(value).expanduser()}"


_INSERT_CLUSTER = "INSERT INTO clusters (id, representative_id, size, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)"
_UPDATE_CLUSTER = "UPDATE clusters SET representative_id = ?, size = ?, first_seen = ?, last_seen = ? WHERE id = ?"


def _sqlite_pragmas(busy_ms: int):  # type: ignore[no-untyped-def]
    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()
    return on_connect


def _pg_lock_timeout(busy_ms: int):  # type: ignore[no-untyped-def]
    """Session-wide lock_timeout: a lock held elsewhere (another writer's advisory lock, a row lock) fails the
    statement after this long instead of holding the request forever. Committed, or the pool's rollback undoes it."""
    def on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET lock_timeout = {busy_ms}")
        cursor.close()
        dbapi_connection.commit()
    return on_connect


_PG_LOCK_NOT_AVAILABLE = "55P03"


def is_lock_timeout(exc: BaseException) -> bool:
    """Did a statement give up waiting for a lock another connection holds (SQLite's "database is locked",
    PostgreSQL's lock_not_available)? Raw DB-API errors and SQLAlchemy's wrapped ones alike: the hot paths use
    plain DB-API cursors. Such a failure is transient; the transaction was rolled back."""
    cause = getattr(exc, "orig", None) or exc
    if getattr(cause, "sqlstate", None) == _PG_LOCK_NOT_AVAILABLE:
        return True
    return isinstance(cause, sqlite3.OperationalError) and "locked" in str(cause)


# -- operator corrections (used by dedup.clusters.corrections) -----------------------------------------
# must_link / cannot_link between two articles. A correction made against a cluster is stored against the
# cluster's representative at that moment (`other_id`), with the cluster id as given (`cluster_id`), so it
# stays a pair of article ids whatever later merges and splits do to cluster ids. The URLs are kept so a
# correction can still be exported as a judged pair after its articles are deleted.
corrections = sa.Table(
    "corrections", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("article_id", sa.Integer, nullable=False, index=True),
    sa.Column("other_id", sa.Integer, nullable=False, index=True),
    sa.Column("cluster_id", sa.Integer),
    sa.Column("url_a", sa.Text, nullable=False),
    sa.Column("url_b", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("withdrawn_at", sa.Text),
    sa.Column("withdrawn_by", sa.Text),
)


class CorrectionRows:
    """The store's corrections table; mixed into SqlStore below so the engine keeps one store object."""

    def add_correction(self, values: dict) -> int:
        with self._conn() as conn:  # type: ignore[attr-defined]
            return conn.execute(corrections.insert().values(**values)).inserted_primary_key[0]

    def get_correction(self, correction_id: int) -> dict | None:
        with self._conn() as conn:  # type: ignore[attr-defined]
            row = conn.execute(sa.select(corrections).where(corrections.c.id == correction_id)).first()
        return dict(row._mapping) if row else None

    def list_corrections(self, *, active_only: bool, limit: int, before: int | None,
                         article_id: int | None = None) -> list[dict]:
        """Newest first; `before` is the id the previous page ended with; `article_id`: those naming it."""
        query = sa.select(corrections)
        if article_id is not None:
            query = query.where(sa.or_(corrections.c.article_id == article_id, corrections.c.other_id == article_id))
        if active_only:
            query = query.where(corrections.c.withdrawn_at.is_(None))
        if before is not None:
            query = query.where(corrections.c.id < before)
        with self._conn() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(query.order_by(corrections.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def withdraw_corrections(self, ids: Sequence[int], at: str, by: str) -> int:
        if not ids:
            return 0
        with self._conn() as conn:  # type: ignore[attr-defined]
            return conn.execute(corrections.update().where(
                corrections.c.id.in_(list(ids)), corrections.c.withdrawn_at.is_(None)).values(
                withdrawn_at=at, withdrawn_by=by)).rowcount

    def active_corrections(self, article_ids: Sequence[int] | None = None) -> list[tuple[int, str, int, int]]:
        """(id, kind, article_id, other_id) of the corrections in force, all or those touching these articles."""
        query = sa.select(corrections.c.id, corrections.c.kind, corrections.c.article_id,
                          corrections.c.other_id).where(corrections.c.withdrawn_at.is_(None))
        out: list[tuple[int, str, int, int]] = []
        if article_ids is None:
            with self._conn() as conn:  # type: ignore[attr-defined]
                return [tuple(r) for r in conn.execute(query.order_by(corrections.c.id)).all()]
        ids = list(article_ids)
        seen: set[int] = set()
        for start in range(0, len(ids), 5_000):
            part = ids[start:start + 5_000]
            with self._conn() as conn:  # type: ignore[attr-defined]
                rows = conn.execute(query.where(sa.or_(corrections.c.article_id.in_(part),
                                                       corrections.c.other_id.in_(part)))).all()
            out += [tuple(r) for r in rows if r[0] not in seen]
            seen.update(r[0] for r in rows)
        return sorted(out)

    def clusters_kept_apart(self, cluster_ids: Sequence[int]) -> set[tuple[int, int]]:
        """Pairs of these clusters (lo, hi) that hold the two sides of a cannot-link in force."""
        if len(cluster_ids) < 2:
            return set()
        marks = self._marks(len(cluster_ids))  # type: ignore[attr-defined]
        rows = self._raw(  # type: ignore[attr-defined]
            "SELECT a.cluster_id, b.cluster_id FROM corrections c JOIN articles a ON a.id = c.article_id "
            "JOIN articles b ON b.id = c.other_id WHERE c.kind = 'cannot_link' AND c.withdrawn_at IS NULL "
            f"AND a.cluster_id IN ({marks}) AND b.cluster_id IN ({marks})", [*cluster_ids, *cluster_ids])
        return {(min(a, b), max(a, b)) for a, b in rows if a != b}

    def article_ids_matching(self, *, source: str | None = None, published_from: str | None = None,
                             published_before: str | None = None, older_than: str | None = None) -> list[int]:
        """Ids for bulk deletes: by source and publication range (published_from <= published_at <
        published_before, ISO strings), or for retention by publication time, else ingest time, before
        `older_than`."""
        query = sa.select(articles.c.id)
        if source is not None:
            query = query.where(articles.c.source == source)
        if published_from is not None:
            query = query.where(articles.c.published_at >= published_from)
        if published_before is not None:
            query = query.where(articles.c.published_at < published_before)
        if older_than is not None:
            query = query.where(sa.func.coalesce(articles.c.published_at, articles.c.ingested_at) < older_than)
        with self._conn() as conn:  # type: ignore[attr-defined]
            return list(conn.execute(query.order_by(articles.c.id)).scalars().all())



class SqlStore(CorrectionRows):
    """Store over SQLAlchemy Core. One connection per thread inside `transaction()`."""

    def __init__(self, url: str, *, create: bool = True, busy_timeout: float = 30.0) -> None:
        self.url = database_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        busy_ms = max(1, int(busy_timeout * 1000))
        kwargs: dict = {"future": True}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout}
        else:
            kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine = sa.create_engine(self.url, **kwargs)
        on_connect = _sqlite_pragmas(busy_ms) if self.is_sqlite else _pg_lock_timeout(busy_ms)
        sa.event.listen(self.engine, "connect", on_connect)
        self._local = threading.local()
        self._watch = _FileWatch(sa.engine.make_url(self.url).database if self.is_sqlite else None)
        self._ph = "?" if self.is_sqlite else "%s"
        upgrading = self.is_sqlite and _lacks_change_log(self.engine)
        if create:
            metadata.create_all(self.engine)
        if self.is_sqlite:  # SQLite files skip Alembic: indexes added after a file was made come here
            with self.engine.begin() as conn:
                if upgrading:  # what Alembic's 0008 does: cluster times by publication, once
                    conn.execute(sa.text(RECOMPUTE_CLUSTER_TIMES))
                conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_articles_id_cluster ON articles (id, cluster_id)"))
                conn.execute(sa.text(
                    "CREATE INDEX IF NOT EXISTS ix_articles_source_cluster ON articles (source, cluster_id)"))
                conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_clusters_size ON clusters (size, id)"))
        # SQLite's planner prefers the rowid (the wide row) for `id IN (...)`; name the covering index.
        self._by_id_cluster = " INDEXED BY ix_articles_id_cluster" if self.is_sqlite else ""

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        existing = getattr(self._local, "conn", None)
        if existing is not None:
            yield
            return
        with self.engine.begin() as conn:
            self._local.conn = conn
            self._local.handed = 0  # SQLite ids handed out in this transaction, not yet written
            try:
                self._serialize_writers(conn)
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def _conn(self) -> Iterator[Connection]:
        existing = getattr(self._local, "conn", None)
        if existing is not None:
            yield existing
        else:
            with self.engine.begin() as conn:
                yield conn

    # -- articles -----------------------------------------------------------------------------
    @staticmethod
    def _article_row(article: Article) -> dict:
        return {c.name: getattr(article, c.name) for c in _ARTICLE_COLUMNS}

    def add_article(self, article: Article) -> int:
        with self._conn() as conn:
            article.id = conn.execute(articles.insert().values(**self._article_row(article))).inserted_primary_key[0]  # type: ignore[index]  # always set by an insert
            conn.execute(signatures.insert().values(
                article_id=article.id, version=article.sig_version, hashvalues=article.hashvalues,
                shingle_count=article.shingle_count))
            self._log(conn, [article.id])
        return article.id

    def update_article(self, article: Article) -> None:
        with self._conn() as conn:
            conn.execute(articles.update().where(articles.c.id == article.id).values(**self._article_row(article)))
            conn.execute(signatures.delete().where(signatures.c.article_id == article.id))
            conn.execute(signatures.insert().values(
                article_id=article.id, version=article.sig_version, hashvalues=article.hashvalues,
                shingle_count=article.shingle_count))
            self._log(conn, [article.id])

    def update_metadata(self, article: Article) -> None:
        """Write an article's title, source, publication time and write stamp; its text and signature stay."""
        with self._conn() as conn:
            conn.execute(articles.update().where(articles.c.id == article.id).values(
                title=article.title, source=article.source, published_at=article.published_at,
                ingested_at=article.ingested_at))
            self._log(conn, [article.id])  # the cached record (publication time) of other processes

    def delete_article(self, article_id: int) -> None:
        with self._conn() as conn:
            conn.execute(signatures.delete().where(signatures.c.article_id == article_id))
            conn.execute(articles.delete().where(articles.c.id == article_id))
            self._log(conn, [article_id])

    # -- the index change log (see `index_changes`) ---------------------------------------------
    def log_index_changes(self, article_ids: Sequence[int]) -> None:
        with self._conn() as conn:
            self._log(conn, article_ids)

    def _log(self, conn: Connection, article_ids: Sequence[int]) -> None:
        """On the connection that wrote the signatures: one transaction, whoever calls (never a second
        connection waiting for the first one's write lock)."""
        self._raw_many("INSERT INTO index_changes (article_id) VALUES (?)", [(i,) for i in article_ids], conn)

    def data_version(self) -> int | None:
        """A number that changes whenever anything is committed to the database (SQLite's data_version, a few
        microseconds); None on PostgreSQL, which has no such thing (the change log is asked instead)."""
        return self._watch.version()

    def index_change_seq(self) -> int:
        """The newest change's sequence number (0: none yet): one index lookup, cheap enough for every request."""
        return self._raw("SELECT MAX(seq) FROM index_changes", [])[0][0] or 0

    def index_changes_since(self, seq: int, limit: int = 10_000) -> list[tuple[int, int]]:
        """(seq, article id) of the changes after `seq`, oldest first."""
        return [(r[0], r[1]) for r in self._raw(
            "SELECT seq, article_id FROM index_changes WHERE seq > ? ORDER BY seq LIMIT ?", [seq, limit])]

    def prune_index_changes(self, upto: int) -> None:
        with self._conn() as conn:
            conn.execute(index_changes.delete().where(index_changes.c.seq <= upto))

    def _select_articles(self) -> sa.Select:
        return sa.select(articles, signatures.c.version, signatures.c.hashvalues, signatures.c.shingle_count).join(
            signatures, signatures.c.article_id == articles.c.id, isouter=True)

    @staticmethod
    def _to_article(row) -> Article:  # type: ignore[no-untyped-def]
        m = row._mapping
        return Article(
            id=m["id"], url=m["url"], title=m["title"], source=m["source"], published_at=m["published_at"],
            ingested_at=m["ingested_at"], raw_text=m["raw_text"], norm_text=m["norm_text"],
            content_hash=m["content_hash"], cluster_id=m["cluster_id"], sig_version=m["version"] or "",
            hashvalues=bytes(m["hashvalues"] or b""), shingle_count=m["shingle_count"] or 0,
        )

    def get_article(self, article_id: int) -> Article | None:
        with self._conn() as conn:
            row = conn.execute(self._select_articles().where(articles.c.id == article_id)).first()
        return self._to_article(row) if row else None

    def get_article_by_url(self, url: str) -> Article | None:
        with self._conn() as conn:
            row = conn.execute(self._select_articles().where(articles.c.url == url)).first()
        return self._to_article(row) if row else None

    def get_articles(self, ids: Sequence[int]) -> list[Article]:
        if not ids:
            return []
        with self._conn() as conn:
            rows = conn.execute(self._select_articles().where(articles.c.id.in_(list(ids)))).all()
        return [self._to_article(r) for r in rows]

    def cluster_members(self, cluster_id: int) -> list[Article]:
        with self._conn() as conn:
            rows = conn.execute(
                self._select_articles().where(articles.c.cluster_id == cluster_id).order_by(articles.c.id)).all()
        return [self._to_article(r) for r in rows]

    def set_cluster(self, article_ids: Sequence[int], cluster_id: int | None) -> None:
        if not article_ids:
            return
        with self._conn() as conn:
            conn.execute(articles.update().where(articles.c.id.in_(list(article_ids))).values(cluster_id=cluster_id))

    # -- clusters -----------------------------------------------------------------------------
    def save_cluster(self, cluster: Cluster) -> None:
        values = {"representative_id": cluster.representative_id, "size": cluster.size,
                  "first_seen": cluster.first_seen, "last_seen": cluster.last_seen}
        with self._conn() as conn:
            updated = conn.execute(clusters.update().where(clusters.c.id == cluster.id).values(**values)).rowcount
            if not updated:
                conn.execute(clusters.insert().values(id=cluster.id, **values))

    def delete_cluster(self, cluster_id: int) -> None:
        with self._conn() as conn:
            conn.execute(clusters.delete().where(clusters.c.id == cluster_id))

    def get_cluster(self, cluster_id: int) -> Cluster | None:
        return self.get_clusters([cluster_id]).get(cluster_id)

    def list_clusters(self, min_size: int, limit: int, before: tuple[str, int] | None,
                      active: tuple[str | None, str | None] = (None, None)) -> list[Cluster]:
        """Newest last activity first; `active`: last seen in [active[0], active[1])."""
        query = self._browse_filter(sa.select(clusters), min_size, None, active)
        if before is not None:
            last_seen, cid = before
            query = query.where(sa.or_(clusters.c.last_seen < last_seen,
                                       sa.and_(clusters.c.last_seen == last_seen, clusters.c.id < cid)))
        query = query.order_by(clusters.c.last_seen.desc(), clusters.c.id.desc()).limit(limit)
        with self._conn() as conn:
            return [Cluster(**r._mapping) for r in conn.execute(query).all()]

    def add_alias(self, old_id: int, new_id: int) -> None:
        with self._conn() as conn:
            conn.execute(cluster_aliases.update().where(cluster_aliases.c.new_id == old_id).values(new_id=new_id))
            conn.execute(cluster_aliases.delete().where(cluster_aliases.c.old_id == old_id))
            conn.execute(cluster_aliases.insert().values(old_id=old_id, new_id=new_id))

    def resolve_alias(self, cluster_id: int) -> int | None:
        with self._conn() as conn:
            return conn.execute(
                sa.select(cluster_aliases.c.new_id).where(cluster_aliases.c.old_id == cluster_id)).scalar()

    # -- scans --------------------------------------------------------------------------------
    def iter_signatures(self, batch: int = 10_000) -> Iterator[tuple[int, str, bytes, int]]:
        """(article id, signature version, hash values, shingle count), in id order."""
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(signatures.c.article_id, signatures.c.version, signatures.c.hashvalues,
                              signatures.c.shingle_count)
                    .where(signatures.c.article_id > last).order_by(signatures.c.article_id).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield r[0], r[1], bytes(r[2]), r[3]
            last = rows[-1][0]

    def iter_articles(self, batch: int = 1_000) -> Iterator[Article]:
        last = 0
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    self._select_articles().where(articles.c.id > last).order_by(articles.c.id).limit(batch)).all()
            if not rows:
                return
            yield from (self._to_article(r) for r in rows)
            last = rows[-1]._mapping["id"]

    def counts(self) -> dict[str, int]:
        with self._conn() as conn:
            n_articles = conn.execute(sa.select(sa.func.count()).select_from(articles)).scalar() or 0
            n_clusters = conn.execute(sa.select(sa.func.count()).select_from(clusters)).scalar() or 0
            n_multi = conn.execute(
                sa.select(sa.func.count()).select_from(clusters).where(clusters.c.size >= 2)).scalar() or 0
        return {"articles": n_articles, "clusters": n_clusters, "clusters_with_duplicates": n_multi}

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        self._watch.close()
        self.engine.dispose()

    # -- ingest hot path: prebuilt statements, light reads, executemany ----------------------

    def allocate_article_ids(self, count: int) -> list[int]:
        """Ids for articles this transaction will insert, so a batch inserts them in one executemany.

        SQLite: a write that changes nothing first takes the file's write lock (held to commit), so the ids
        after the largest stored one (and after those already handed out in this transaction, e.g. a batch's
        articles not yet inserted) stay free for this transaction even with other processes on the file.
        PostgreSQL: drawn from the column's sequence, safe across processes (an unused id is a gap, nothing more).
        """
        if self.is_sqlite:
            self.lock_writers()
            start = max(self._next_sqlite_id(), getattr(self._local, "handed", 0) + 1)
            self._local.handed = start + count - 1
            return list(range(start, start + count))
        rows = self._raw("SELECT nextval(pg_get_serial_sequence('articles', 'id')) "
                         "FROM generate_series(1, ?)", [count])
        return [r[0] for r in rows]

    def _next_sqlite_id(self) -> int:
        """Past every article, cluster and alias id: SQLite reuses the largest id after a delete, and a cluster
        (or alias) can outlive the article it was named after; a new article must not inherit that name."""
        return self._raw("SELECT MAX(COALESCE((SELECT MAX(id) FROM articles), 0), "
                         "COALESCE((SELECT MAX(id) FROM clusters), 0), "
                         "COALESCE((SELECT MAX(old_id) FROM cluster_aliases), 0))", [])[0][0] + 1

    def allocate_cluster_ids(self, count: int) -> list[int]:
        """Ids for clusters that no member's id can name (all taken): drawn like article ids, so no article
        will ever found a cluster under them. Call inside the writers' transaction."""
        return self.allocate_article_ids(count)

    def lock_writers(self) -> None:
        """Take the writers' lock now, at the start of a transaction that reads before it writes: SQLite's
        file write lock (a write that changes nothing), PostgreSQL's advisory lock (taken by `transaction`)."""
        if self.is_sqlite:
            self._raw("UPDATE articles SET id = id WHERE 0", [])

    def insert_articles(self, rows: Sequence[Article]) -> None:
        """Insert articles whose ids were allocated with `allocate_article_ids`."""
        names = ["id", *(c.name for c in _ARTICLE_COLUMNS)]
        self._raw_many(f"INSERT INTO articles ({', '.join(names)}) VALUES ({self._marks(len(names))})",
                       list(map(attrgetter(*names), rows)))  # one C call a row, not a generator

    def insert_signatures(self, rows: Sequence[Article]) -> None:
        self._raw_many("INSERT INTO signatures (article_id, version, hashvalues, shingle_count) VALUES (?, ?, ?, ?)",
                       [(a.id, a.sig_version, a.hashvalues, a.shingle_count) for a in rows])
        self.log_index_changes([a.id for a in rows])

    def set_clusters(self, pairs: Sequence[tuple[int, int]]) -> None:
        self._raw_many("UPDATE articles SET cluster_id = ? WHERE id = ?", [(c, a) for a, c in pairs])

    def write_clusters(self, new: Sequence[Cluster], changed: Sequence[Cluster]) -> None:
        self._raw_many(_INSERT_CLUSTER, [(c.id, c.representative_id, c.size, c.first_seen, c.last_seen) for c in new])
        self._raw_many(_UPDATE_CLUSTER,
                       [(c.representative_id, c.size, c.first_seen, c.last_seen, c.id) for c in changed])

    def _raw(self, sql: str, params: Sequence) -> list[tuple]:
        """A plain DB-API query: the hot reads skip SQLAlchemy's per-call statement handling."""
        with self._conn() as conn:
            cursor = conn.connection.cursor()
            try:
                cursor.execute(sql.replace("?", self._ph), tuple(params))
                return list(cursor.fetchall())
            finally:
                cursor.close()

    def _raw_many(self, sql: str, rows: Sequence[tuple], conn: Connection | None = None) -> None:
        """A plain DB-API executemany: batch writes without SQLAlchemy's per-row parameter handling (on `conn`
        when the caller holds the transaction's connection)."""
        if not rows:
            return
        if conn is None:
            with self._conn() as held:
                self._raw_many(sql, rows, held)
            return
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(sql.replace("?", self._ph), rows)
        finally:
            cursor.close()

    def _marks(self, count: int) -> str:
        return ",".join("?" * count)

    def candidates(self, ids: Sequence[int]) -> list[dict]:
        if not ids:
            return []
        rows = self._raw(
            "SELECT a.id, a.url, a.norm_text, a.published_at, a.ingested_at, a.cluster_id, s.version, "
            f"s.hashvalues, s.shingle_count, a.title FROM articles a JOIN signatures s ON s.article_id = a.id "
            f"WHERE a.id IN ({self._marks(len(ids))})", ids)
        names = ("id", "url", "norm_text", "published_at", "ingested_at", "cluster_id", "version", "hashvalues",
                 "shingle_count", "title")
        return [dict(zip(names, row)) for row in rows]

    def signature_rows(self, ids: Sequence[int]) -> list[tuple[int, str, bytes, int]]:
        """(id, version, hash values, shingle count) of the given articles: what screening needs, no text."""
        if not ids:
            return []
        rows = self._raw("SELECT article_id, version, hashvalues, shingle_count FROM signatures "
                         f"WHERE article_id IN ({self._marks(len(ids))})", ids)
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def heads_by_url(self, urls: Sequence[str]) -> dict[str, dict]:
        if not urls:
            return {}
        rows = self._raw(
            "SELECT a.id, a.url, a.content_hash, a.cluster_id, s.version FROM articles a "
            f"LEFT JOIN signatures s ON s.article_id = a.id WHERE a.url IN ({self._marks(len(urls))})", urls)
        return {row[1]: dict(zip(("id", "url", "content_hash", "cluster_id", "version"), row)) for row in rows}

    def clusters_of(self, ids: Sequence[int]) -> tuple[dict[int, int | None], dict[int, Cluster]]:
        """Each article's cluster id (None: it has none) and those clusters' rows, in one query."""
        if not ids:
            return {}, {}
        rows = self._raw("SELECT a.id, c.id, c.representative_id, c.size, c.first_seen, c.last_seen "
                         f"FROM articles a{self._by_id_cluster} LEFT JOIN clusters c ON c.id = a.cluster_id "
                         f"WHERE a.id IN ({self._marks(len(ids))})", ids)
        found: dict[int, Cluster] = {}
        for row in rows:
            if row[1] is not None and row[1] not in found:
                found[row[1]] = Cluster(*row[1:])
        return {row[0]: row[1] for row in rows}, found

    def get_clusters(self, ids: Sequence[int]) -> dict[int, Cluster]:
        if not ids:
            return {}
        rows = self._raw("SELECT id, representative_id, size, first_seen, last_seen FROM clusters "
                         f"WHERE id IN ({self._marks(len(ids))})", ids)
        return {row[0]: Cluster(*row) for row in rows}

    def _serialize_writers(self, conn: Connection) -> None:
        """On PostgreSQL, hold a transaction-scoped advisory lock so that the read-decide-write of one ingest
        never interleaves with another process's (same URL twice -> one article; two reposts -> one cluster).

        The key is per schema, so separate schemas (tests, tenants) do not wait on each other. SQLite needs
        nothing here: one process owns the file and the engine's lock serializes its threads.
        """
        if not self.is_sqlite:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('dedup-write:' || "
                                 "coalesce(current_schema(), 'public')))"))

    # -- re-clustering (used by dedup.recluster.run; appended, the methods above are unchanged) -------
    def snapshot_rows(self, batch: int = 50_000) -> Iterator[tuple]:
        """(id, version, hashvalues, shingle_count, cluster_id, published_at, ingested_at, content_hash), by id."""
        last = 0
        cols = (articles.c.id, signatures.c.version, signatures.c.hashvalues, signatures.c.shingle_count,
                articles.c.cluster_id, articles.c.published_at, articles.c.ingested_at, articles.c.content_hash)
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(*cols).join(signatures, signatures.c.article_id == articles.c.id, isouter=True)
                    .where(articles.c.id > last).order_by(articles.c.id).limit(batch)).all()
            if not rows:
                return
            yield from rows
            last = rows[-1][0]

    def norm_texts(self, ids: Sequence[int], batch: int = 5_000) -> dict[int, str]:
        return self._column_by_id(articles.c.norm_text, ids, batch)

    def titles(self, ids: Sequence[int], batch: int = 5_000) -> dict[int, str | None]:
        """Headlines by id (verification compares the facts they state)."""
        return self._column_by_id(articles.c.title, ids, batch)

    def _column_by_id(self, column: sa.Column, ids: Sequence[int], batch: int) -> dict:
        """One column of the given articles, by id, in batches (an IN list of bounded size)."""
        out: dict = {}
        ids = list(ids)
        for start in range(0, len(ids), batch):
            with self._conn() as conn:
                rows = conn.execute(sa.select(articles.c.id, column)
                                    .where(articles.c.id.in_(ids[start:start + batch]))).all()
            out.update((r[0], r[1]) for r in rows)
        return out

    def stale_article_ids(self, version: str) -> list[int]:
        """Articles whose signature was made under other parameters, or that have none."""
        query = (sa.select(articles.c.id).join(signatures, signatures.c.article_id == articles.c.id, isouter=True)
                 .where(sa.or_(signatures.c.version.is_(None), signatures.c.version != version))
                 .order_by(articles.c.id))
        with self._conn() as conn:
            return [r[0] for r in conn.execute(query).all()]

    def cluster_rows(self) -> dict[int, Cluster]:
        with self._conn() as conn:
            return {r.id: Cluster(**r._mapping) for r in conn.execute(sa.select(clusters)).all()}

    def alias_map(self) -> dict[int, int]:
        with self._conn() as conn:
            return {r[0]: r[1] for r in conn.execute(sa.select(cluster_aliases)).all()}

    def delete_alias(self, old_id: int) -> None:
        with self._conn() as conn:
            conn.execute(cluster_aliases.delete().where(cluster_aliases.c.old_id == old_id))

    def assign_clusters(self, assignment: dict[int, int | None]) -> None:
        """Set many articles' cluster ids in one statement per target cluster."""
        by_target: dict[int | None, list[int]] = {}
        for article_id, cluster_id in assignment.items():
            by_target.setdefault(cluster_id, []).append(article_id)
        for cluster_id, ids in by_target.items():
            for start in range(0, len(ids), 5_000):
                self.set_cluster(ids[start:start + 5_000], cluster_id)

    def replace_clusters(self, upsert: Sequence[Cluster], delete: Sequence[int]) -> None:
        """Delete and (re)write cluster rows in bulk."""
        doomed = list(delete) + [c.id for c in upsert]
        with self._conn() as conn:
            for start in range(0, len(doomed), 5_000):
                conn.execute(clusters.delete().where(clusters.c.id.in_(doomed[start:start + 5_000])))
            if upsert:
                conn.execute(clusters.insert(), [
                    {"id": c.id, "representative_id": c.representative_id, "size": c.size,
                     "first_seen": c.first_seen, "last_seen": c.last_seen} for c in upsert])

    def article_states(self) -> dict[int, tuple[int | None, str, str | None]]:
        """Every article's (cluster_id, ingested_at, published_at): what cluster upkeep needs, no text."""
        out: dict[int, tuple[int | None, str, str | None]] = {}
        last = 0
        while True:
            rows = self._raw("SELECT id, cluster_id, ingested_at, published_at FROM articles WHERE id > ? "
                             "ORDER BY id LIMIT 100000", [last])
            if not rows:
                return out
            out.update((r[0], (r[1], r[2], r[3])) for r in rows)
            last = rows[-1][0]

    def member_nodes(self, cluster_ids: Sequence[int]) -> dict[int, list[Node]]:
        """Members (id, published_at, ingested_at) of the given clusters; clusters without members are absent."""
        out: dict[int, list[Node]] = {}
        if not cluster_ids:
            return out
        rows = self._raw("SELECT cluster_id, id, published_at, ingested_at FROM articles "
                         f"WHERE cluster_id IN ({self._marks(len(cluster_ids))}) ORDER BY id", list(cluster_ids))
        for cluster_id, article_id, published_at, ingested_at in rows:
            out.setdefault(cluster_id, []).append(Node(article_id, published_at, ingested_at))
        return out

    def move_cluster(self, old_id: int, new_id: int) -> None:
        """Every member of one cluster into another, in one statement."""
        with self._conn() as conn:
            conn.execute(articles.update().where(articles.c.cluster_id == old_id).values(cluster_id=new_id))

    def aliased(self, ids: Sequence[int]) -> set[int]:
        """Which of these ids are aliases of merged clusters."""
        if not ids:
            return set()
        rows = self._raw(f"SELECT old_id FROM cluster_aliases WHERE old_id IN ({self._marks(len(ids))})", list(ids))
        return {r[0] for r in rows}

    def articles_ingested_since(self, since: str) -> list[tuple[int, int | None]]:
        """(id, cluster_id) of articles written at or after an ISO timestamp (ingest stamps every write)."""
        with self._conn() as conn:
            return [(r[0], r[1]) for r in conn.execute(
                sa.select(articles.c.id, articles.c.cluster_id).where(articles.c.ingested_at >= since)).all()]

    def add_run(self, values: dict) -> int:
        with self._conn() as conn:
            return conn.execute(recluster_runs.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]  # always set by an insert

    def update_run(self, run_id: int, values: dict) -> None:
        with self._conn() as conn:
            conn.execute(recluster_runs.update().where(recluster_runs.c.id == run_id).values(**values))

    def abandon_running_runs(self, finished_at: str) -> int:
        """Runs left 'running' by a process that died; called only while holding the run lock."""
        with self._conn() as conn:
            return conn.execute(recluster_runs.update().where(recluster_runs.c.status == "running").values(
                status="abandoned", finished_at=finished_at)).rowcount

    def list_runs(self, limit: int = 20) -> list[dict]:
        with self._conn() as conn:
            rows = conn.execute(sa.select(recluster_runs).order_by(recluster_runs.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) for r in rows]

    def article_ids(self) -> set[int]:
        with self._conn() as conn:
            return set(conn.execute(sa.select(articles.c.id)).scalars().all())

    def iter_verdicts(self, batch: int = 100_000) -> Iterator[list[tuple]]:
        """Stored pair verdicts (a, b, key, score) in batches."""
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=batch).execute(sa.select(pair_verdicts))
            for part in result.partitions():
                yield [tuple(r) for r in part]

    def save_verdicts(self, rows: Sequence[dict]) -> None:
        """Insert or replace pair verdicts ({a, b, key, score})."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        statement = insert(pair_verdicts)
        statement = statement.on_conflict_do_update(
            index_elements=["a", "b"], set_={"key": statement.excluded.key, "score": statement.excluded.score})
        with self._conn() as conn:
            for start in range(0, len(rows), 20_000):
                conn.execute(statement, list(rows[start:start + 20_000]))

    def prune_verdicts(self) -> int:
        """Forget verdicts about deleted articles."""
        alive = sa.select(articles.c.id)
        with self._conn() as conn:
            return conn.execute(pair_verdicts.delete().where(
                sa.or_(pair_verdicts.c.a.not_in(alive), pair_verdicts.c.b.not_in(alive)))).rowcount

    # -- browsing -----------------------------------------------------------------------------
    def _of_source(self, source: str) -> sa.ColumnElement[bool]:
        """Articles of a source: declared, or (undeclared) served from that host, as the pages name them."""
        return sa.or_(articles.c.source == source,
                      sa.and_(articles.c.source.is_(None), self._host(articles) == source))

    def _browse_filter(self, query, min_size: int, source: str | None,  # type: ignore[no-untyped-def]
                       active: tuple[str | None, str | None] = (None, None)):
        query = query.where(clusters.c.size >= min_size)
        if active[0]:
            query = query.where(clusters.c.last_seen >= active[0])
        if active[1]:
            query = query.where(clusters.c.last_seen < active[1])
        if source is not None:
            query = query.where(clusters.c.id.in_(
                sa.select(articles.c.cluster_id).where(self._of_source(source)).where(articles.c.cluster_id.is_not(None))))
        return query

    def browse_clusters(self, min_size: int, limit: int, *, sort: str = "recent", after: tuple | None = None,
                        source: str | None = None, active: tuple[str | None, str | None] = (None, None),
                        ) -> list[Cluster]:
        """A page of clusters, most recent activity first (`after` = (last_seen, id)) or largest first
        (`after` = (size, id)), optionally only those with an article of `source` or last active in
        [active[0], active[1])."""
        query = self._browse_filter(sa.select(clusters), min_size, source, active)
        key = (clusters.c.size, clusters.c.id) if sort == "size" else (clusters.c.last_seen, clusters.c.id)
        if after is not None:
            query = query.where(sa.or_(key[0] < after[0], sa.and_(key[0] == after[0], key[1] < after[1])))
        query = query.order_by(key[0].desc(), key[1].desc()).limit(limit)
        with self._conn() as conn:
            return [Cluster(**r._mapping) for r in conn.execute(query).all()]

    def count_clusters(self, min_size: int, source: str | None = None,
                       active: tuple[str | None, str | None] = (None, None)) -> int:
        query = self._browse_filter(sa.select(sa.func.count()).select_from(clusters), min_size, source, active)
        with self._conn() as conn:
            return conn.execute(query).scalar() or 0

    def representatives(self, cluster_ids: Sequence[int]) -> dict[int, Article]:
        """Each cluster's representative article (one query for a page of clusters)."""
        if not cluster_ids:
            return {}
        rep_ids = sa.select(clusters.c.representative_id).where(clusters.c.id.in_(list(cluster_ids)))
        with self._conn() as conn:
            rows = conn.execute(self._select_articles().where(articles.c.id.in_(rep_ids))).all()
        return {a.cluster_id: a for a in map(self._to_article, rows) if a.cluster_id is not None}

    def member_sources(self, cluster_ids: Sequence[int]) -> dict[int, list[tuple[str | None, str]]]:
        """(source, url) of each cluster's members, in id order, without their texts."""
        out: dict[int, list[tuple[str | None, str]]] = {cid: [] for cid in cluster_ids}
        if not cluster_ids:
            return out
        query = (sa.select(articles.c.cluster_id, articles.c.source, articles.c.url)
                 .where(articles.c.cluster_id.in_(list(cluster_ids))).order_by(articles.c.id))
        with self._conn() as conn:
            for cid, source, url in conn.execute(query).all():
                out[cid].append((source, url))
        return out

    def _source_of(self, table) -> sa.ColumnElement[str]:  # type: ignore[no-untyped-def]
        """An article's source as the pages name it: declared, else the URL's host."""
        return sa.func.coalesce(table.c.source, self._host(table))

    def _host(self, table) -> sa.ColumnElement[str]:  # type: ignore[no-untyped-def]
        """The host of an article's URL, lowercase, without port (as `urlsplit(url).hostname`)."""
        if self.is_sqlite:
            rest = sa.func.substr(table.c.url, sa.func.instr(table.c.url, "://") + 3)
            host = sa.func.substr(rest, 1, sa.func.instr(rest.op("||")("/"), "/") - 1)
            host = sa.func.substr(host, 1, sa.func.instr(host.op("||")(":"), ":") - 1)
        else:
            host = sa.func.split_part(sa.func.split_part(sa.func.split_part(table.c.url, "://", 2), "/", 1), ":", 1)
        return sa.func.lower(host)

    @staticmethod
    def _day(table) -> sa.ColumnElement[str]:  # type: ignore[no-untyped-def]
        return sa.func.substr(sa.func.coalesce(table.c.published_at, table.c.ingested_at), 1, 10)

    def source_activity(self) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """Counts by source and day, computed in the database (no article rows leave it):
        articles (source, day, n); stories first published (source, day, n), dated by their original;
        reposts (reposting source, original's source, day, n), every non-original member of a story."""
        m, r = articles.alias("m"), articles.alias("r")
        m_src, r_src, day = self._source_of(m), self._source_of(r), self._day(m)
        # Grouped by position: PostgreSQL sees the same expression with other bind parameters as another one.
        by = [sa.text(str(k)) for k in (1, 2, 3)]
        queries = (
            sa.select(m_src, day, sa.func.count()).select_from(m).group_by(*by[:2]),
            sa.select(r_src, self._day(r), sa.func.count()).select_from(
                clusters.join(r, r.c.id == clusters.c.representative_id)).group_by(*by[:2]),
            sa.select(m_src, r_src, day, sa.func.count()).select_from(
                m.join(clusters, clusters.c.id == m.c.cluster_id).join(r, r.c.id == clusters.c.representative_id))
            .where(m.c.id != r.c.id).group_by(*by),
        )
        with self._conn() as conn:
            return tuple([tuple(row) for row in conn.execute(q).all()] for q in queries)  # type: ignore[return-value]

    def most_reposted(self, source: str, limit: int) -> list[tuple[Cluster, int]]:
        """The source's stories (it published the original) with the most reposts by other sources."""
        m, r = articles.alias("m"), articles.alias("r")
        n = sa.func.count().label("n")
        query = (sa.select(clusters, n)
                 .select_from(m.join(clusters, clusters.c.id == m.c.cluster_id)
                              .join(r, r.c.id == clusters.c.representative_id))
                 .where(self._source_of(r) == source, self._source_of(m) != source)
                 .group_by(*clusters.c).order_by(n.desc(), clusters.c.id).limit(limit))
        with self._conn() as conn:
            rows = conn.execute(query).all()
        return [(Cluster(**{k: v for k, v in row._mapping.items() if k != "n"}), row.n) for row in rows]

    # -- learned boilerplate (dedup.text.learned_boilerplate) ----------------------------------------------------
    def boilerplate_rows(self, scope: str, keys: Sequence[int]) -> dict[int, LineRecord]:
        """What is known about these lines in this scope (lines never seen are absent)."""
        found: dict[int, LineRecord] = {}
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            rows = self._raw("SELECT line_hash, titles, carriers, learned_at, sample FROM learned_boilerplate "
                             f"WHERE scope = ? AND line_hash IN ({self._marks(len(part))})", [scope, *part])
            for key, titles, carriers, learned_at, sample in rows:
                found[key] = LineRecord(titles.split("\n") if titles else [],
                                        [int(c) for c in carriers.split(",") if c], learned_at, sample or "")
        return found

    def save_boilerplate_rows(self, scope: str, records: dict[int, LineRecord]) -> None:
        self._raw_many(
            "INSERT INTO learned_boilerplate (scope, line_hash, titles, carriers, learned_at, sample) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (scope, line_hash) DO UPDATE SET titles = excluded.titles, "
            "carriers = excluded.carriers, learned_at = excluded.learned_at",
            [(scope, key, "\n".join(r.titles), ",".join(map(str, r.carriers)), r.learned_at, r.sample)
             for key, r in records.items()])

    def learned_boilerplate(self, since: str | None = None) -> list[tuple[int, str]]:
        """Keys of learned lines (any scope) and when they were learned; only those learned at or after `since`."""
        if since is None:
            return self._raw("SELECT line_hash, learned_at FROM learned_boilerplate WHERE learned_at IS NOT NULL", [])
        return self._raw("SELECT line_hash, learned_at FROM learned_boilerplate WHERE learned_at >= ?", [since])

    def learned_boilerplate_lines(self, limit: int = 100) -> list[tuple[str, str, int, str]]:
        """(scope, learned_at, titles seen, sample) of the most recently learned lines."""
        rows = self._raw("SELECT scope, learned_at, titles, sample FROM learned_boilerplate "
                         "WHERE learned_at IS NOT NULL ORDER BY learned_at DESC LIMIT ?", [limit])
        return [(scope, at, len(titles.split("\n")), sample) for scope, at, titles, sample in rows]


def open_store(url: str, busy_timeout: float = 30.0) -> SqlStore:
    return SqlStore(url, busy_timeout=busy_timeout)


# -- re-clustering (nightly job) --------------------------------------------------------------
recluster_runs = sa.Table(
    "recluster_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("started_at", sa.Text, nullable=False),
    sa.Column("finished_at", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("engine", sa.Text, nullable=False),
    sa.Column("mode", sa.Text, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("report", sa.Text),
    sa.Column("error", sa.Text),
)
# Verdicts of earlier runs, reused only under the same key (see dedup.recluster.verdicts.VerdictCache).
pair_verdicts = sa.Table(
    "pair_verdicts", metadata,
    sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("b", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("key", sa.String(32), nullable=False),
    sa.Column("score", sa.Float),
)
# Lines learned as a stream's boilerplate, and the evidence for lines not learned yet (dedup.text.learned_boilerplate):
# the dissimilar titles a line was seen under (one a line), the articles that carried it (ids, comma-separated),
# when it was learned, and the line's normalized text (its start) for people to read.
learned_boilerplate = sa.Table(
    "learned_boilerplate", metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("line_hash", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("titles", sa.Text, nullable=False),
    sa.Column("carriers", sa.Text, nullable=False),
    sa.Column("learned_at", sa.Text),
    sa.Column("sample", sa.Text),
    sa.Index("ix_learned_boilerplate_learned_at", "learned_at"),
)

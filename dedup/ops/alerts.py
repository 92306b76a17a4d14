"""Repost alerts: watches, the transactional outbox of deliveries, and the background webhook sender.

A watch follows one article, a cluster, a source or a URL prefix. When an ingest makes an article a duplicate of
something watched, `WatchBook.record` writes a delivery row inside the ingest's transaction (an outbox): the
alert exists exactly when the article was committed, so a rollback leaves none and a process killed after the
commit leaves one for the next sender. `AlertSender` claims due rows (a lease, `FOR UPDATE SKIP LOCKED` on
PostgreSQL, the file's write lock on SQLite: several workers never post the same row at once), posts them with an
HMAC-SHA256 signature, and marks them delivered, due again later (exponential backoff with jitter), or dead after
`alert_max_attempts`. Delivery is at least once: a receiver deduplicates on `X-Dedup-Delivery`.

Plain HTTP client (http.client, connecting to the checked address); the engine stays free of web frameworks.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import random
import secrets
import socket
import ssl
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa

from dedup.errors import InvalidWatch, NotFound
from dedup.models import Article, Match
from dedup.settings import Settings
from dedup.store import SqlStore
from dedup.store.sql import articles, cluster_aliases, clusters
from dedup.store.watches import alert_deliveries, watches

log = logging.getLogger("dedup.ops.alerts")
KINDS = ("article", "cluster", "source", "url_prefix")
STATUSES = ("pending", "delivered", "dead")
_MAX_TARGET = 2048
_MAX_TEXT = 1000
_COLUMNS = {"article": "article_id", "cluster": "cluster_id", "source": "source", "url_prefix": "url_prefix"}


def _now() -> datetime:
    return datetime.now(UTC)


def _stamp(when: datetime) -> str:
    """ISO with microseconds and +00:00 everywhere, so stored times compare as strings."""
    return when.isoformat(timespec="microseconds")


# -- targets -----------------------------------------------------------------------------------
def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise InvalidWatch(f"target_url: cannot resolve host {host!r}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_multicast
            or address.is_reserved or address.is_unspecified)


def check_target(url: str, *, allow_private: bool) -> str:
    """An http(s) URL whose host is public, else `InvalidWatch`. Checked when a watch is saved and again before
    each post (a name may resolve elsewhere later): an alert must not be a way to reach the server's own network.
    Returns the URL; `target_address` gives the checked address a post connects to."""
    target_address(url, allow_private=allow_private)
    return url


def target_address(url: str, *, allow_private: bool) -> str:
    """The IP address to post to, resolved once and checked: connecting to this address (not resolving the name
    again) means a DNS answer that changes after the check cannot point the post at an internal address."""
    if not isinstance(url, str) or not url or len(url) > _MAX_TARGET or any(ord(c) < 33 for c in url):
        raise InvalidWatch(f"target_url: expected an http(s) URL of at most {_MAX_TARGET} characters, no spaces")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWatch("target_url: only http:// and https:// URLs with a host are accepted")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise InvalidWatch(f"target_url: {exc}") from exc
    addresses = _addresses(parts.hostname)
    refused = [str(a) for a in addresses if _internal(a)]
    if refused and not allow_private:
        raise InvalidWatch(f"target_url: {parts.hostname} is a loopback or private address ({refused[0]}); "
                           "set DEDUP_ALERTS_ALLOW_PRIVATE=true to allow internal targets")
    if not addresses:
        raise InvalidWatch(f"target_url: cannot resolve host {parts.hostname!r}")
    return str(addresses[0])


# -- watches -------------------------------------------------------------------------------------
@dataclass
class Watch:
    id: int
    kind: str
    value: str  # the followed article id, cluster id, source or URL prefix, as text
    target_url: str
    secret: str
    note: str | None
    active: bool
    created_at: str
    created_by: str

    def public(self, *, with_secret: bool = False) -> dict:
        """As shown to users: the secret only once, when the watch is made (or its secret replaced)."""
        out = {k: v for k, v in vars(self).items() if k != "secret"}
        if with_secret:
            out["secret"] = self.secret
        return out


def _to_watch(row) -> Watch:  # type: ignore[no-untyped-def]
    m = row._mapping
    kind, value = next((kind, m[column]) for kind, column in _COLUMNS.items() if m[column] is not None)
    return Watch(id=m["id"], kind=kind, value=str(value), target_url=m["target_url"], secret=m["secret"],
                 note=m["note"], active=bool(m["active"]), created_at=m["created_at"], created_by=m["created_by"])


def _text(value: str | None, name: str, limit: int = _MAX_TEXT) -> str | None:
    if value is not None and (not isinstance(value, str) or len(value) > limit or "\x00" in value):
        raise InvalidWatch(f"{name}: expected text of at most {limit} characters")
    return value


@dataclass(frozen=True)
class Candidate:
    """An article an ingest made a duplicate: what the outbox needs to decide whom to tell."""

    article: Article
    judged: Match
    matches: Sequence[Match]


class WatchBook:
    """Watches and their deliveries in the store. Writes join the caller's transaction when there is one."""

    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # -- CRUD ----------------------------------------------------------------------------------
    def add(self, kind: str, value: str | int, target_url: str, *, secret: str | None = None,
            note: str | None = None, created_by: str = "cli") -> Watch:
        """A new watch; an article given by URL and a merged cluster's old id are resolved to what exists now."""
        if kind not in KINDS:
            raise InvalidWatch(f"kind: expected one of {', '.join(KINDS)}")
        column, stored = self._followed(kind, value)  # the kind's column and its value
        check_target(target_url, allow_private=self.settings.alerts_allow_private)
        secret = _text(secret, "secret", 256) or secrets.token_urlsafe(32)
        row = {"article_id": None, "cluster_id": None, "source": None, "url_prefix": None, column: stored,
               "target_url": target_url, "secret": secret, "note": _text(note, "note"), "active": True,
               "created_at": _stamp(_now()), "created_by": created_by}
        with self.store.transaction(), self.store._conn() as conn:
            watch_id = conn.execute(watches.insert().values(**row)).inserted_primary_key[0]  # type: ignore[index]  # always set by an insert
        return self.get(watch_id)

    def _followed(self, kind: str, value: str | int) -> tuple[str, int | str]:
        text = str(value).strip() if value is not None else ""
        if not text:
            raise InvalidWatch(f"{kind}: a value is required")
        _text(text, kind, 4096)  # bounded, no NUL (PostgreSQL refuses it in text)
        if kind == "article":
            if text.isascii() and text.isdigit():
                if not 1 <= int(text) < 2**31:
                    raise NotFound(f"no article with id {text[:40]}")
                if self.store.get_article(int(text)) is None:
                    raise NotFound(f"no article with id {text}")
                return _COLUMNS[kind], int(text)
            article = self.store.get_article_by_url(text)
            if article is None:
                raise NotFound(f"no article with url {text[:300]!r}")
            return "article_id", article.id
        if kind == "cluster":
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) < 2**31:
                raise InvalidWatch("cluster: expected a cluster id")
            cluster_id = int(text)
            if self.store.get_cluster(cluster_id) is None:
                cluster_id = self.store.resolve_alias(cluster_id) or 0
                if not cluster_id:
                    raise NotFound(f"no cluster with id {text}")
            return "cluster_id", cluster_id
        if kind == "url_prefix" and urlsplit(text).scheme not in ("http", "https"):
            raise InvalidWatch("url_prefix: expected the start of an http(s) URL, like https://example.com/news/")
        return kind, _text(text, kind) or ""

    def get(self, watch_id: int) -> Watch:
        with self.store._conn() as conn:
            row = conn.execute(sa.select(watches).where(watches.c.id == watch_id)).first()
        if row is None:
            raise NotFound(f"no watch with id {watch_id}")
        return _to_watch(row)

    def list(self, limit: int = 50, after: int = 0) -> list[Watch]:
        """Oldest first, `limit` after the id `after` (keyset paging)."""
        query = sa.select(watches).where(watches.c.id > after).order_by(watches.c.id).limit(limit)
        with self.store._conn() as conn:
            return [_to_watch(r) for r in conn.execute(query).all()]

    def update(self, watch_id: int, *, target_url: str | None = None, note: str | None = None,
               active: bool | None = None, new_secret: bool = False) -> Watch:
        values: dict = {}
        if target_url is not None:
            values["target_url"] = check_target(target_url, allow_private=self.settings.alerts_allow_private)
        if note is not None:
            values["note"] = _text(note, "note")
        if active is not None:
            values["active"] = bool(active)
        if new_secret:
            values["secret"] = secrets.token_urlsafe(32)
        self.get(watch_id)
        if values:
            with self.store.transaction(), self.store._conn() as conn:
                conn.execute(watches.update().where(watches.c.id == watch_id).values(**values))
        return self.get(watch_id)

    def remove(self, watch_id: int) -> None:
        """The watch and its delivery log (pending deliveries are not sent)."""
        with self.store.transaction(), self.store._conn() as conn:
            conn.execute(alert_deliveries.delete().where(alert_deliveries.c.watch_id == watch_id))
            if not conn.execute(watches.delete().where(watches.c.id == watch_id)).rowcount:
                raise NotFound(f"no watch with id {watch_id}")

    def deliveries(self, watch_id: int, limit: int = 50, before: int | None = None,
                   status: str | None = None) -> builtins.list[dict]:
        """The delivery log of a watch, newest first (keyset paging on `before`)."""
        self.get(watch_id)
        if status is not None and status not in STATUSES:
            raise InvalidWatch(f"status: expected one of {', '.join(STATUSES)}")
        d = alert_deliveries
        query = sa.select(d).where(d.c.watch_id == watch_id)
        if before is not None:
            query = query.where(d.c.id < before)
        if status is not None:
            query = query.where(d.c.status == status)
        with self.store._conn() as conn:
            rows = conn.execute(query.order_by(d.c.id.desc()).limit(limit)).all()
        return [dict(r._mapping) | {"payload": json.loads(r._mapping["payload"])} for r in rows]

    def retry(self, watch_id: int, delivery_id: int) -> None:
        """Put a dead (or failing) delivery back in the queue, due now, with its attempts counted anew."""
        d = alert_deliveries
        with self.store.transaction(), self.store._conn() as conn:
            done = conn.execute(d.update().where(d.c.id == delivery_id, d.c.watch_id == watch_id,
                                                 d.c.status != "delivered")
                                .values(status="pending", attempts=0, next_attempt_at=_stamp(_now()))).rowcount
        if not done:
            raise NotFound(f"watch {watch_id} has no undelivered delivery {delivery_id}")

    # -- the outbox ----------------------------------------------------------------------------
    def record(self, candidates: Sequence[Candidate]) -> int:
        """Inside the ingest's write transaction (after its cluster changes are written): one pending delivery per
        active watch each candidate reposts. Costs one query when nothing is watched."""
        if not candidates:
            return 0
        with self.store._conn() as conn:
            if conn.execute(sa.select(watches.c.id).where(watches.c.active.is_(True)).limit(1)).first() is None:
                return 0
            rows = [row for c in candidates for row in self._deliveries_for(conn, c)]
            if rows:
                conn.execute(alert_deliveries.insert(), rows)
        return len(rows)

    def _deliveries_for(self, conn: sa.Connection, candidate: Candidate) -> builtins.list[dict]:
        article = candidate.article
        cluster_id = conn.execute(sa.select(articles.c.cluster_id).where(articles.c.id == article.id)).scalar()
        if cluster_id is None:
            return []
        hits = self._watched(conn, article, cluster_id, candidate)
        if not hits:
            return []
        cluster = conn.execute(sa.select(clusters).where(clusters.c.id == cluster_id)).first()
        others = {r.id: r for r in conn.execute(sa.select(
            articles.c.id, articles.c.url, articles.c.title, articles.c.source, articles.c.published_at,
            articles.c.ingested_at).where(articles.c.id.in_({m for _, m in hits}))).all()}
        now = _stamp(_now())
        rows = []
        for watch, matched_id in hits:
            payload = _payload(watch, article, others.get(matched_id), candidate, cluster)
            rows.append({"watch_id": watch.id, "article_id": article.id, "payload": payload, "status": "pending",
                         "attempts": 0, "next_attempt_at": now, "created_at": now})
        return rows

    def _watched(self, conn: sa.Connection, article: Article, cluster_id: int,
                 candidate: Candidate) -> builtins.list[tuple[Watch, int]]:
        """Each active watch this article reposts, with the watched article it duplicates. An article that
        itself matches a source or prefix watch is that owner's own, not a repost of theirs."""
        w, a = watches, articles
        found: dict[int, tuple[Watch, int]] = {}
        members = (sa.select(w, a.c.id.label("matched")).join(a, sa.and_(a.c.cluster_id == cluster_id,
                                                                          a.c.id != article.id))
                   .where(w.c.active.is_(True), sa.or_(
                       w.c.article_id == a.c.id, w.c.source == a.c.source,
                       sa.func.substr(a.c.url, 1, sa.func.length(w.c.url_prefix)) == w.c.url_prefix))
                   .order_by(w.c.id, a.c.id))
        verified = [m.id for m in candidate.matches if m.id != article.id]
        outside = (sa.select(w, w.c.article_id.label("matched"))
                   .where(w.c.active.is_(True), w.c.article_id.in_(verified)))
        aliases = sa.select(cluster_aliases.c.old_id).where(cluster_aliases.c.new_id == cluster_id)
        followed = (sa.select(w, sa.literal(candidate.judged.id).label("matched"))
                    .where(w.c.active.is_(True), sa.or_(w.c.cluster_id == cluster_id, w.c.cluster_id.in_(aliases))))
        for query in (members, outside, followed):
            for row in conn.execute(query).all():
                watch = _to_watch(row)
                if watch.id not in found and not _own(watch, article):
                    found[watch.id] = (watch, row._mapping["matched"])
        return list(found.values())


def _own(watch: Watch, article: Article) -> bool:
    if watch.kind == "source":
        return article.source == watch.value
    if watch.kind == "url_prefix":
        return article.url.startswith(watch.value)
    return False


def _article_ref(row) -> dict | None:  # type: ignore[no-untyped-def]
    if row is None:
        return None
    return {k: getattr(row, k) for k in ("id", "url", "title", "source", "published_at", "ingested_at")}


def _payload(watch: Watch, article: Article, duplicated, candidate: Candidate, cluster) -> str:  # type: ignore[no-untyped-def]
    """The JSON body posted for one alert, fixed at commit time (the signature is made over these bytes)."""
    scores = next((m for m in candidate.matches if duplicated is not None and m.id == duplicated.id), None)
    body = {
        "event": "repost",
        "watch": {"id": watch.id, "kind": watch.kind, "value": watch.value, "note": watch.note},
        "article": _article_ref(article),
        "duplicate_of": _article_ref(duplicated),
        "scores": _scores(scores) if scores else None,
        "judged": _scores(candidate.judged),
        "matches": [_scores(m) for m in candidate.matches],
        "cluster": {"id": cluster.id, "size": cluster.size, "representative_id": cluster.representative_id}
        if cluster is not None else None,
        "created_at": _stamp(_now()),
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True)


def _scores(m: Match) -> dict:
    return {"id": m.id, "url": m.url, "jaccard": m.jaccard, "containment": m.containment, "reason": m.reason}


def sign(secret: str, body: bytes) -> str:
    """The `X-Dedup-Signature` header: a receiver recomputes it with the watch's secret and compares."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- the sender --------------------------------------------------------------------------------------
class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address the target check approved; the Host header still names the host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As `_PinnedHTTP`, with TLS verified against the host's name (SNI and certificate)."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post_json(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool) -> int:
    """POST `body` to a checked target and return the status. Redirects are not followed (a 3xx is a failure:
    following it could lead to an address the check refused)."""
    address = target_address(url, allow_private=allow_private)
    parts = urlsplit(url)
    https = parts.scheme == "https"
    kind = _PinnedHTTPS if https else _PinnedHTTP
    conn = kind(parts.hostname or "", parts.port or (443 if https else 80), address=address, timeout=timeout)
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), body=body,
                     headers=headers)
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()


@dataclass(frozen=True)
class Claimed:
    id: int
    watch_id: int
    payload: str
    attempts: int
    target_url: str
    secret: str


class AlertSender:
    """Posts due deliveries. Safe to run in every worker at once; `send_due` is also the CLI's one-shot."""

    def __init__(self, store: SqlStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.lease = timedelta(seconds=2 * settings.alert_timeout + 1)

    def send_due(self, limit: int = 20) -> dict[str, int]:
        """Claim and post up to `limit` due deliveries; counts of delivered, retried and dead ones."""
        counts = {"delivered": 0, "retry": 0, "dead": 0}
        for claimed in self._claim(limit):
            status, code, error = self._post(claimed)
            self._finish(claimed, status, code, error)
            counts[status] += 1
        return counts

    def _claim(self, limit: int) -> list[Claimed]:
        """Take due rows by pushing their due time a lease ahead, in one short transaction of its own: a sender
        killed mid-post leaves the row due again when the lease ends (at least once, never lost)."""
        d, w = alert_deliveries, watches
        now = _now()
        due = (sa.select(d.c.id).join(w, w.c.id == d.c.watch_id)
               .where(d.c.status == "pending", d.c.next_attempt_at <= _stamp(now), w.c.active.is_(True))
               .order_by(d.c.id).limit(limit))
        if not self.store.is_sqlite:
            due = due.with_for_update(of=d, skip_locked=True)
        claim = (d.update().where(d.c.id.in_(due), d.c.status == "pending", d.c.next_attempt_at <= _stamp(now))
                 .values(next_attempt_at=_stamp(now + self.lease), attempts=d.c.attempts + 1)
                 .returning(d.c.id, d.c.watch_id, d.c.payload, d.c.attempts))
        with self.store.engine.begin() as conn:
            rows = conn.execute(claim).all()
            targets = {r.id: (r.target_url, r.secret) for r in conn.execute(
                sa.select(w.c.id, w.c.target_url, w.c.secret).where(w.c.id.in_({r.watch_id for r in rows})))}
        return sorted((Claimed(r.id, r.watch_id, r.payload, r.attempts, *targets[r.watch_id]) for r in rows
                       if r.watch_id in targets), key=lambda c: c.id)

    def _post(self, claimed: Claimed) -> tuple[str, int | None, str | None]:
        body = claimed.payload.encode()
        headers = {"Content-Type": "application/json", "User-Agent": "dedup-alerts/1",
                   "X-Dedup-Signature": sign(claimed.secret, body), "X-Dedup-Delivery": str(claimed.id),
                   "X-Dedup-Attempt": str(claimed.attempts)}
        try:
            code = post_json(claimed.target_url, body, headers, timeout=self.settings.alert_timeout,
                             allow_private=self.settings.alerts_allow_private)
            if 200 <= code < 300:
                return "delivered", code, None
            error = f"HTTP {code}"
        except (InvalidWatch, http.client.HTTPException, OSError, ValueError) as exc:
            code, error = None, f"{type(exc).__name__}: {exc}"[:500]
        return ("dead" if claimed.attempts >= self.settings.alert_max_attempts else "retry"), code, error

    def backoff(self, attempts: int) -> timedelta:
        """Exponential in the attempts made, capped, with jitter so failing targets are not retried in step."""
        base = min(self.settings.alert_backoff_max, self.settings.alert_backoff * 2 ** max(0, attempts - 1))
        return timedelta(seconds=base * random.uniform(0.5, 1.0))

    def _finish(self, claimed: Claimed, status: str, code: int | None, error: str | None) -> None:
        now = _now()
        values: dict = {"last_attempt_at": _stamp(now), "last_status": code, "last_error": error}
        if status == "delivered":
            values.update(status="delivered", delivered_at=_stamp(now))
        elif status == "dead":
            values.update(status="dead")
        else:
            values.update(next_attempt_at=_stamp(now + self.backoff(claimed.attempts)))
        d = alert_deliveries
        with self.store.engine.begin() as conn:
            conn.execute(d.update().where(d.c.id == claimed.id, d.c.status == "pending").values(**values))
        if status != "delivered":
            log.warning("alert delivery %d to watch %d failed (attempt %d): %s%s", claimed.id, claimed.watch_id,
                        claimed.attempts, error, "; dead-lettered" if status == "dead" else "")

    def run(self, stop: threading.Event, wake: threading.Event) -> None:
        """Until `stop`: send what is due, then sleep until woken by a commit that wrote deliveries, or the poll
        interval (retries fall due, other workers' deliveries). A database outage is logged and waited out."""
        while not stop.is_set():
            try:
                counts = self.send_due()
                busy = sum(counts.values()) > 0
            except Exception as exc:  # noqa: BLE001 - the sender must outlive a database outage
                log.warning("alert sender: could not reach the database (%s: %s); retrying", type(exc).__name__, exc)
                busy = False
            if not busy:
                wake.wait(self.settings.alert_poll_interval)
                wake.clear()


def start_sender(store: SqlStore, settings: Settings, wake: threading.Event) -> tuple[threading.Thread,
                                                                                      threading.Event]:
    """The background sender thread of a server process; set the returned event to stop it."""
    stop = threading.Event()
    sender = AlertSender(store, settings)
    thread = threading.Thread(target=sender.run, args=(stop, wake), name="dedup-alerts", daemon=True)
    thread.start()
    return thread, stop

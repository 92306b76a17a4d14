"""Plain records passed between the engine, the store and its callers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass
class ArticleIn:
    url: str
    text: str | None = None
    html: str | None = None
    title: str | None = None
    published_at: str | None = None
    source: str | None = None
    # Set by the CLI for a file it read from disk, whose identity is the file's own `file://` URL; every
    # other article needs an http(s) URL.
    local_file: bool = False


@dataclass
class Article:
    id: int
    url: str
    title: str | None
    source: str | None
    published_at: str | None
    ingested_at: str
    raw_text: str
    norm_text: str
    content_hash: str
    cluster_id: int | None
    sig_version: str
    hashvalues: bytes = b""
    shingle_count: int = 0


@dataclass
class Cluster:
    id: int
    representative_id: int
    size: int
    first_seen: str
    last_seen: str


@dataclass(frozen=True)
class Match:
    id: int
    url: str
    jaccard: float
    containment: float
    cluster_id: int | None = None
    reason: str = ""


@dataclass
class IngestResult:
    id: int
    url: str
    cluster_id: int
    is_duplicate: bool
    duplicate_of: str | None
    duplicate_of_id: int | None
    matches: list[Match] = field(default_factory=list)
    status: str = "created"  # created | unchanged | updated (new text) | metadata_updated (same text)
    revision: str = ""  # of the stored article after this ingest (see `revision`)
    judged: Match | None = None  # the pair the verdict rests on: duplicate_of with this article's scores


def revision(article: Article) -> str:
    """An opaque token that changes with every write of the article, for optimistic concurrency (HTTP: ETag and
    If-Match). Every write (new text, new metadata, re-signing) stamps `ingested_at` anew under the write lock, so
    (id, ingested_at, content hash) names one stored state; a text changed and changed back gets a new token."""
    raw = f"{article.id}|{article.ingested_at}|{article.content_hash}"
    return hashlib.sha256(raw.encode()).hexdigest()[:20]

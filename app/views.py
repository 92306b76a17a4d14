"""View models for the cluster browser: engine records shaped for templates, no HTTP and no HTML here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dedup import validate
from dedup.engine import Engine
from dedup.errors import InvalidArticle, NotFound
from dedup.explain import _MAX_CHARS as COMPARED_CHARS
from dedup.explain import Explanation, Passage
from dedup.explain_raw import Removed, removed_lines
from dedup.models import Article, Cluster

from .keywords import keywords

_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Part:
    text: str
    number: bool = False


@dataclass(frozen=True)
class Segment:
    """A run of one side's normalized text: shared | only | changed | common (short equal run) | plain."""

    kind: str
    text: str
    parts: tuple[Part, ...] = ()


@dataclass
class ClusterRow:
    id: int
    size: int
    title: str
    representative_id: int
    sources: list[str]
    first_seen: str
    last_seen: str
    keywords: list[str] = field(default_factory=list)


@dataclass
class Side:
    article: Article
    title: str
    source: str
    segments: list[Segment]
    removed: list[Removed]


def is_web_url(url: str) -> bool:
    """Whether a stored URL may be rendered as a link: what ingest accepts today (http(s), a host, no user
    name or password). Rows stored before that rule (a `file://` URL, one with a password) show as text."""
    try:
        validate.url(url)
    except InvalidArticle:
        return False
    return True


def source_of(article: Article) -> str:
    """The declared source, else the URL's host: reposts are told apart by where they ran."""
    return article.source or urlsplit(article.url).hostname or article.url


def title_of(article: Article) -> str:
    if article.title:
        return article.title
    return article.norm_text[:40] + ("…" if len(article.norm_text) > 40 else "")


def cluster_row(engine: Engine, cluster: Cluster) -> ClusterRow | None:
    """One listed cluster as it is now; None when a writer removed it since the page was listed."""
    try:
        cluster, members = engine.get_cluster(cluster.id)
    except NotFound:
        return None
    rep = next(m for m in members if m.id == cluster.representative_id)
    sources = list(dict.fromkeys(source_of(m) for m in members))
    return ClusterRow(id=cluster.id, size=cluster.size, title=title_of(rep), representative_id=rep.id,
                      sources=sources, first_seen=cluster.first_seen, last_seen=cluster.last_seen,
                      keywords=keywords(rep.norm_text, top=6))


def _number_parts(text: str) -> tuple[Part, ...]:
    """Split out the numbers: a number that differs is what makes a template twin a different story."""
    parts, last = [], 0
    for m in _NUMBER.finditer(text):
        if m.start() > last:
            parts.append(Part(text[last:m.start()]))
        parts.append(Part(m.group(0), number=True))
        last = m.end()
    if last < len(text):
        parts.append(Part(text[last:]))
    return tuple(parts)


def _spans(x: Explanation, side: str) -> list[tuple[int, int, str, str]]:
    """(start, end, kind, text) of every passage on one side; passages absent on this side are skipped."""
    out = []
    for p in [*x.shared, *x.differing]:
        text, start = (p.a, p.a_start) if side == "a" else (p.b, p.b_start)
        if text:
            out.append((start, start + len(text), _kind(p), text))
    return sorted(out)


def _kind(p: Passage) -> str:
    return "only" if p.kind in ("only_a", "only_b") else p.kind


def segments(x: Explanation, side: str) -> list[Segment]:
    """Cover one side's normalized text with passages; gaps are short equal runs (too short to count as shared)
    or text past the compared length."""
    norm = (x.a if side == "a" else x.b).norm_text
    out, pos = [], 0
    for start, end, kind, text in _spans(x, side):
        if start > pos:
            out.append(Segment("common", norm[pos:start]))
        out.append(Segment(kind, text, _number_parts(text) if kind == "changed" else ()))
        pos = max(pos, end)
    if pos < min(len(norm), COMPARED_CHARS):
        out.append(Segment("common", norm[pos:COMPARED_CHARS]))
    if len(norm) > max(pos, COMPARED_CHARS):
        out.append(Segment("plain", norm[max(pos, COMPARED_CHARS):]))
    return out


def side(x: Explanation, which: str, engine: Engine) -> Side:
    article = x.a if which == "a" else x.b
    removed = removed_lines(article.raw_text, article.norm_text, engine.settings.normalization())
    return Side(article=article, title=title_of(article), source=source_of(article), segments=segments(x, which),
                removed=removed)

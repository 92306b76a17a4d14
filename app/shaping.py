"""Engine records to response bodies."""

from __future__ import annotations

from dataclasses import asdict

from dedup.models import Article, IngestResult, Match, revision

from .schemas import ArticleOut, ArticleRef, IngestOut, MatchOut


def match_out(m: Match) -> MatchOut:
    return MatchOut(**asdict(m))


def ingest_out(result: IngestResult) -> IngestOut:
    return IngestOut(id=result.id, url=result.url, cluster_id=result.cluster_id, is_duplicate=result.is_duplicate,
                     duplicate_of=result.duplicate_of, duplicate_of_id=result.duplicate_of_id, status=result.status,
                     matches=[match_out(m) for m in result.matches], revision=result.revision,
                     judged=match_out(result.judged) if result.judged else None)


def article_out(a: Article) -> ArticleOut:
    return ArticleOut(id=a.id, url=a.url, title=a.title, source=a.source, published_at=a.published_at,
                      ingested_at=a.ingested_at, cluster_id=a.cluster_id, content_hash=a.content_hash,
                      text=a.raw_text, normalized_text=a.norm_text, revision=revision(a))


def article_ref(a: Article | None) -> ArticleRef | None:
    return ArticleRef(id=a.id, url=a.url, title=a.title) if a else None

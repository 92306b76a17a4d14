"""Ingest (one or a batch), read, delete. Plain `def` routes: the engine's CPU work runs in the threadpool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dedup.engine import Engine
from dedup.errors import DedupError
from dedup.models import ArticleIn, IngestResult
from dedup.ops.retention import delete_matching
from dedup.settings import Settings

from ..deps import ArticleId, IfMatch, UrlQuery, etag, get_engine, get_settings, if_match_tags, require_api_key
from ..errors import ApiError, dedup_status, validation_message
from ..schemas import (
    ArticleBody,
    ArticleOut,
    BatchBody,
    BatchItemOut,
    BatchOut,
    ErrorBody,
    ErrorOut,
    IngestOut,
    Responses,
)
from ..shaping import article_out, ingest_out

router = APIRouter(prefix="/v1", tags=["articles"])
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# Only this route's own errors: app/openapi.py adds 400, 401, 413, 422 and 503 where they apply.
_NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No stored article has this id or URL"}}
_UPDATED: Responses = {200: {"model": IngestOut, "description": "The URL was stored already: `unchanged` or `updated`"}}
_PRECONDITION: Responses = {400: {"model": ErrorOut, "description": "If-Match is not `*` or a list of ETags"},
                 412: {"model": ErrorOut, "description": "If-Match names another revision"}}
_STATUS = {"created": 201, "unchanged": 200, "updated": 200, "metadata_updated": 200}


def _article_in(body: ArticleBody) -> ArticleIn:
    return ArticleIn(url=body.url, text=body.text, html=body.html, title=body.title,
                     published_at=body.published_at, source=body.source)


@router.post("/articles", status_code=201, response_model=IngestOut, responses={**_UPDATED, **_PRECONDITION},
             dependencies=[Depends(require_api_key)])
def ingest(body: ArticleBody, response: Response, engine: EngineDep, if_match: IfMatch = None) -> IngestOut:
    """Store one article and say at once whether it duplicates a stored one. Same URL and content: 200, same
    answer; same URL with new content: the article is updated and re-indexed (200); same URL and content with a
    new title, source or publication time: `metadata_updated` (200, a new revision; the article stays in its
    cluster unless its new publication time changes the verdict). With If-Match, only if the
    stored article is still at that revision (ETag), else 412 and nothing changes: no update is lost."""
    result = engine.ingest(_article_in(body), if_match=if_match_tags(if_match))
    response.status_code = _STATUS.get(result.status, 200)
    response.headers.update(etag(result.revision))
    return ingest_out(result)


def _batch_item(pos: int, raw: object) -> ArticleIn | BatchItemOut:
    """Check one item's shape on its own; an error becomes that item's result. (Its content, size included,
    is checked by the engine, item by item too.)"""
    try:
        body = ArticleBody.model_validate(raw)
    except ValidationError as exc:
        message, fields = validation_message([{**e, "loc": ("articles", pos, *e["loc"])} for e in exc.errors()])
        return BatchItemOut(index=0, status=422, error=ErrorBody(code="validation_error", message=message,
                                                                 fields=fields))
    return _article_in(body)


@router.post("/articles:batch", response_model=BatchOut,
             dependencies=[Depends(require_api_key)])
def ingest_batch(body: BatchBody, engine: EngineDep, settings: SettingsDep, if_match: IfMatch = None) -> BatchOut:
    """Up to DEDUP_MAX_BATCH articles in one transaction, one result per item in order. If-Match conditions one
    article, so it is refused here rather than silently ignored."""
    if if_match is not None:
        raise ApiError(400, "bad_request", "If-Match applies to one article: send conditional updates to "
                                           "POST /v1/articles")
    if len(body.articles) > settings.max_batch:
        raise ApiError(422, "validation_error", f"articles: at most {settings.max_batch} items per batch, "
                                                f"got {len(body.articles)}")
    checked = [_batch_item(i, raw) for i, raw in enumerate(body.articles)]
    outcomes = iter(engine.ingest_many([item for item in checked if isinstance(item, ArticleIn)]))
    results = [item if isinstance(item, BatchItemOut) else _batch_outcome(next(outcomes)) for item in checked]
    for i, item in enumerate(results):
        item.index = i
    return BatchOut(results=results)


def _batch_outcome(outcome: IngestResult | Exception) -> BatchItemOut:
    if isinstance(outcome, DedupError):
        return BatchItemOut(index=0, status=dedup_status(outcome), error=ErrorBody(code=outcome.code,
                                                                                  message=str(outcome)))
    if isinstance(outcome, Exception):
        return BatchItemOut(index=0, status=500, error=ErrorBody(code="internal", message="internal error"))
    return BatchItemOut(index=0, status=_STATUS.get(outcome.status, 200), result=ingest_out(outcome))


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=_NOT_FOUND)
def get_article(article_id: ArticleId, response: Response, engine: EngineDep) -> ArticleOut:
    return _with_etag(article_out(engine.get_article(article_id)), response)


@router.get("/articles", response_model=ArticleOut, responses=_NOT_FOUND)
def get_article_by_url(url: UrlQuery, response: Response, engine: EngineDep) -> ArticleOut:
    """Look an article up by its URL (exact match)."""
    return _with_etag(article_out(engine.get_article_by_url(url)), response)


def _with_etag(out: ArticleOut, response: Response) -> ArticleOut:
    response.headers.update(etag(out.revision))
    return out


@router.delete("/articles", status_code=204, responses={**_NOT_FOUND, **_PRECONDITION},
               dependencies=[Depends(require_api_key)])
def delete_article_by_url(url: UrlQuery, engine: EngineDep, if_match: IfMatch = None) -> Response:
    """Delete the article stored under this URL (exact match), with the upkeep of a delete by id. Example:
    `DELETE /v1/articles?url=https://news.example/a/1`."""
    engine.delete_article_by_url(url, if_match=if_match_tags(if_match))
    return Response(status_code=204)


class BulkDeleteIn(BaseModel):
    """At least one condition; dates are ISO dates or date-times, both ends inclusive (a date is a whole day)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"source": "example-wire", "published_until": "2024-12-31", "dry_run": True}]})

    source: str | None = Field(None, min_length=1, max_length=1000, description="Exactly as ingested")
    published_from: str | None = Field(None, max_length=40)
    published_until: str | None = Field(None, max_length=40)
    dry_run: bool = Field(False, strict=True, description="Count what would be deleted; delete nothing")


class BulkDeleteOut(BaseModel):
    matched: int
    deleted: int
    dry_run: bool


@router.post("/articles:delete", response_model=BulkDeleteOut, dependencies=[Depends(require_api_key)])
def delete_matching_articles(body: BulkDeleteIn, engine: EngineDep) -> BulkDeleteOut:
    """Bulk delete by source and/or publication date range, with a single delete's upkeep (index, clusters,
    corrections), in short transactions. Without any condition: 422 (that would delete everything)."""
    return BulkDeleteOut(**delete_matching(engine, source=body.source, published_from=body.published_from,
                                           published_until=body.published_until,
                                           dry_run=body.dry_run).as_dict())


@router.delete("/articles/{article_id}", status_code=204, responses={**_NOT_FOUND, **_PRECONDITION},
               dependencies=[Depends(require_api_key)])
def delete_article(article_id: ArticleId, engine: EngineDep, if_match: IfMatch = None) -> Response:
    """Remove from the store, the index and its cluster; a cluster left empty disappears. With If-Match, only
    if the article is still at that revision (ETag), else 412."""
    engine.delete_article(article_id, if_match=if_match_tags(if_match))
    return Response(status_code=204)

"""Ingest (one or a batch), read, delete. Plain `def` routes: the engine's CPU work runs in the threadpool."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import ValidationError

from dedup.engine import Engine
from dedup.errors import DedupError
from dedup.models import ArticleIn, IngestResult
from dedup.settings import Settings

from ..deps import ArticleId, UrlQuery, get_engine, get_settings, require_api_key
from ..errors import ApiError, dedup_status, validation_message
from ..schemas import ArticleBody, ArticleOut, BatchBody, BatchItemOut, BatchOut, ErrorBody, ErrorOut, IngestOut
from ..shaping import article_out, ingest_out

router = APIRouter(prefix="/v1", tags=["articles"])
EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
_ERRORS = {401: {"model": ErrorOut}, 404: {"model": ErrorOut}, 413: {"model": ErrorOut}, 422: {"model": ErrorOut}}
_STATUS = {"created": 201, "unchanged": 200, "updated": 200}


def _article_in(body: ArticleBody) -> ArticleIn:
    return ArticleIn(url=body.url, text=body.text, html=body.html, title=body.title,
                     published_at=body.published_at, source=body.source)


@router.post("/articles", status_code=201, response_model=IngestOut, responses=_ERRORS,
             dependencies=[Depends(require_api_key)])
def ingest(body: ArticleBody, response: Response, engine: EngineDep) -> IngestOut:
    """Store one article and say at once whether it duplicates a stored one. Same URL and content: 200, same
    answer; same URL with new content: the article is updated and re-indexed (200)."""
    result = engine.ingest(_article_in(body))
    response.status_code = _STATUS.get(result.status, 200)
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


@router.post("/articles:batch", response_model=BatchOut, responses=_ERRORS,
             dependencies=[Depends(require_api_key)])
def ingest_batch(body: BatchBody, engine: EngineDep, settings: SettingsDep) -> BatchOut:
    """Up to DEDUP_MAX_BATCH articles in one transaction, one result per item in order."""
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


@router.get("/articles/{article_id}", response_model=ArticleOut, responses=_ERRORS)
def get_article(article_id: ArticleId, engine: EngineDep) -> ArticleOut:
    return article_out(engine.get_article(article_id))


@router.get("/articles", response_model=ArticleOut, responses=_ERRORS)
def get_article_by_url(url: UrlQuery, engine: EngineDep) -> ArticleOut:
    """Look an article up by its URL (exact match)."""
    return article_out(engine.get_article_by_url(url))


@router.delete("/articles/{article_id}", status_code=204, responses=_ERRORS, dependencies=[Depends(require_api_key)])
def delete_article(article_id: ArticleId, engine: EngineDep) -> Response:
    """Remove from the store, the index and its cluster; a cluster left empty disappears."""
    engine.delete_article(article_id)
    return Response(status_code=204)

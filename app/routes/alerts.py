"""Repost alerts over HTTP: watches (CRUD, paged) and each watch's delivery log. Every route needs the API key
when one is set: watches name webhook targets, and their secrets sign the posts."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from dedup.engine import Engine
from dedup.ops.alerts import Watch

from ..deps import MAX_ID, get_engine, require_api_key
from ..errors import ApiError
from ..schemas import ErrorOut, Responses

router = APIRouter(prefix="/v1", tags=["alerts"], dependencies=[Depends(require_api_key)])
EngineDep = Annotated[Engine, Depends(get_engine)]
WatchId = Annotated[int, Path(ge=1, le=MAX_ID, description="Watch id")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_ID, description="Delivery id")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=64, description="`next_cursor` of the previous page")]
# Only these routes' own errors: app/openapi.py adds 400, 401, 413, 422 and 503 where they apply.
_NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No watch has this id (`not_found`)"}}
_FOLLOWED_NOT_FOUND: Responses = {404: {"model": ErrorOut,
                                        "description": "The article or cluster to follow does not exist"}}
Kind = Literal["article", "cluster", "source", "url_prefix"]


class WatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind = Field(..., description="What to follow: one article, a cluster, a source, or a URL prefix")
    value: str = Field(..., min_length=1, max_length=4096, description="The article's id or URL, the cluster id, "
                       "the source name, or the URL prefix (e.g. https://example.com/news/)")
    target_url: str = Field(..., min_length=1, max_length=2048, description="http(s) URL the alerts are POSTed to")
    secret: str | None = Field(None, min_length=16, max_length=256, description="HMAC key of X-Dedup-Signature; "
                               "generated (and shown once) when absent")
    note: str | None = Field(None, max_length=1000)


class WatchPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_url: str | None = Field(None, min_length=1, max_length=2048)
    note: str | None = Field(None, max_length=1000)
    active: bool | None = Field(None, strict=True, description="false pauses the watch: no new alerts, none sent")
    new_secret: bool = Field(False, strict=True, description="Replace the secret; the new one is in this answer")


class WatchOut(BaseModel):
    id: int
    kind: Kind
    value: str
    target_url: str
    note: str | None
    active: bool
    created_at: str
    created_by: str
    secret: str | None = Field(None, description="Only when the watch is made or its secret replaced")


class WatchPage(BaseModel):
    watches: list[WatchOut]
    next_cursor: str | None


class DeliveryOut(BaseModel):
    id: int
    watch_id: int
    article_id: int
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    created_at: str
    next_attempt_at: str
    last_attempt_at: str | None
    last_status: int | None = Field(None, description="The target's HTTP status of the last attempt")
    last_error: str | None
    delivered_at: str | None
    payload: dict[str, Any] = Field(..., description="The JSON body posted")


class DeliveryPage(BaseModel):
    deliveries: list[DeliveryOut]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([last_id]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor of this API carries; anything else is a 422 (a cursor is user input)."""
    try:
        (last_id,) = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if type(last_id) is not int or not 0 <= last_id <= MAX_ID + 1:
            raise ValueError("bad cursor id")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(422, "validation_error", "cursor: not a cursor returned by this API") from exc
    return last_id


def _out(watch: Watch, *, with_secret: bool = False) -> WatchOut:
    return WatchOut(**watch.public(with_secret=with_secret))


@router.post("/watches", status_code=201, response_model=WatchOut, responses=_FOLLOWED_NOT_FOUND)
def create_watch(body: WatchIn, engine: EngineDep) -> WatchOut:
    """Follow an article, cluster, source or URL prefix; alerts are POSTed to `target_url`. The answer holds the
    secret (once); 422 `invalid_watch` for a target that is not a public http(s) URL."""
    watch = engine.watches.add(body.kind, body.value, body.target_url, secret=body.secret, note=body.note,
                               created_by="api")
    return _out(watch, with_secret=True)


@router.get("/watches", response_model=WatchPage)
def list_watches(engine: EngineDep, limit: Limit = 50, cursor: Cursor = None) -> WatchPage:
    """Oldest first; pass `next_cursor` back as `cursor` for the next page."""
    page = engine.watches.list(limit + 1, decode_cursor(cursor) if cursor else 0)
    more = len(page) > limit
    page = page[:limit]
    return WatchPage(watches=[_out(w) for w in page], next_cursor=encode_cursor(page[-1].id) if more else None)


@router.get("/watches/{watch_id}", response_model=WatchOut, responses=_NOT_FOUND)
def get_watch(watch_id: WatchId, engine: EngineDep) -> WatchOut:
    return _out(engine.watches.get(watch_id))


@router.patch("/watches/{watch_id}", response_model=WatchOut, responses=_NOT_FOUND)
def update_watch(watch_id: WatchId, body: WatchPatch, engine: EngineDep) -> WatchOut:
    """Change the target, the note, pause or resume (`active`), or replace the secret."""
    watch = engine.watches.update(watch_id, target_url=body.target_url, note=body.note, active=body.active,
                                  new_secret=body.new_secret)
    return _out(watch, with_secret=body.new_secret)


@router.delete("/watches/{watch_id}", status_code=204, responses=_NOT_FOUND)
def delete_watch(watch_id: WatchId, engine: EngineDep) -> Response:
    """The watch and its delivery log; its pending alerts are not sent."""
    engine.watches.remove(watch_id)
    return Response(status_code=204)


@router.get("/watches/{watch_id}/deliveries", response_model=DeliveryPage, responses=_NOT_FOUND)
def deliveries(watch_id: WatchId, engine: EngineDep, limit: Limit = 50, cursor: Cursor = None,
               status: Annotated[Literal["pending", "delivered", "dead"] | None, Query()] = None) -> DeliveryPage:
    """The watch's delivery log, newest first: status, attempts, the target's last answer, the body posted."""
    before = decode_cursor(cursor) if cursor else None
    rows = engine.watches.deliveries(watch_id, limit + 1, before, status)
    more = len(rows) > limit
    rows = rows[:limit]
    return DeliveryPage(deliveries=[DeliveryOut(**r) for r in rows],
                        next_cursor=encode_cursor(rows[-1]["id"]) if more else None)


@router.post("/watches/{watch_id}/deliveries/{delivery_id}/retry", status_code=204,
             responses={404: {"model": ErrorOut, "description": "No undelivered delivery of this watch has this id"}})
def retry_delivery(watch_id: WatchId, delivery_id: DeliveryId, engine: EngineDep) -> Response:
    """Queue a dead-lettered (or failing) delivery again, due now."""
    engine.watches.retry(watch_id, delivery_id)
    engine.alerts_written.set()
    return Response(status_code=204)

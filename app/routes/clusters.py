"""Clusters newest first (keyset pagination by an opaque cursor) and one cluster with its members."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from dedup.engine import Engine
from dedup.errors import InvalidArticle
from dedup.models import Cluster

from ..deps import MAX_ID, ClusterId, get_engine
from ..errors import ApiError
from ..keywords import keywords
from ..schemas import ClusterDetail, ClusterPage, ClusterSummary, ErrorOut, MemberOut, Responses
from ..shaping import article_ref

router = APIRouter(prefix="/v1", tags=["clusters"])
EngineDep = Annotated[Engine, Depends(get_engine)]
# the rest: app/openapi.py
_NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No cluster has (or had) this id"}}
_MAX_CURSOR_CHARS = 512
# An ISO date or date-time as stored in last_seen: printable ASCII, bounded, no NUL for the database to refuse.
_LAST_SEEN = re.compile(r"[0-9][0-9T:.+\-Z ]{0,63}")


def encode_cursor(cluster: Cluster) -> str:
    raw = json.dumps([cluster.last_seen, cluster.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The (last_seen, id) of a cursor, strictly typed and bounded: a cursor is user input like any other.

    A forged id beyond the database's integer range (10**30, 2**63) or a boolean (JSON `true` is an int in
    Python) must be refused here, not answered with a driver overflow (500).
    """
    try:
        if len(cursor) > _MAX_CURSOR_CHARS:
            raise ValueError("cursor too long")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        last_seen, cid = json.loads(raw)
        if type(last_seen) is not str or not _LAST_SEEN.fullmatch(last_seen):
            raise ValueError("bad cursor timestamp")
        if type(cid) is not int or not 1 <= cid <= MAX_ID + 1:
            raise ValueError("bad cursor id")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(422, "validation_error", "cursor: not a cursor returned by this API") from exc
    return last_seen, cid


_TIME = ("An ISO date (2026-06-01, the whole day) or date-time (2026-06-01T08:00:00Z); bounds the cluster's "
         "last activity, its members' latest publication time (ingestion time for a member without one)")


@router.get("/clusters", response_model=ClusterPage)
def list_clusters(engine: EngineDep, min_size: Annotated[int, Query(ge=1, le=2**31 - 1)] = 2,
                  limit: Annotated[int, Query(ge=1, le=500)] = 50,
                  cursor: Annotated[str | None, Query(max_length=512)] = None,
                  since: Annotated[str | None, Query(max_length=40, description=f"From (inclusive). {_TIME}")] = None,
                  until: Annotated[str | None, Query(max_length=40, description=f"To (inclusive). {_TIME}")] = None,
                  ) -> ClusterPage:
    """Newest first by last activity (publication time); pass `next_cursor` back as `cursor` for the next page,
    with the same filters. `since`/`until`: only clusters last active in that range; a value that is not a date
    is a 422."""
    before = decode_cursor(cursor) if cursor else None
    try:
        page = engine.list_clusters(min_size, limit + 1, before, since=since, until=until)
    except InvalidArticle as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    more = len(page) > limit
    page = page[:limit]
    reps = {a.id: a for a in engine.get_articles([c.representative_id for c in page])}
    clusters = [ClusterSummary(id=c.id, size=c.size, representative=article_ref(reps.get(c.representative_id)),
                               first_seen=c.first_seen, last_seen=c.last_seen) for c in page]
    return ClusterPage(clusters=clusters, next_cursor=encode_cursor(page[-1]) if more and page else None)


@router.get("/clusters/{cluster_id}", response_model=ClusterDetail, responses=_NOT_FOUND)
def get_cluster(cluster_id: ClusterId, engine: EngineDep) -> ClusterDetail:
    """Members with exact scores against the representative, and keywords. Ids of merged clusters resolve."""
    cluster, members = engine.get_cluster(cluster_id)
    verdicts = engine.representative_scores(cluster, members)
    rep = next(m for m in members if m.id == cluster.representative_id)
    out = [MemberOut(id=m.id, url=m.url, title=m.title, published_at=m.published_at, ingested_at=m.ingested_at,
                     is_representative=m.id == rep.id, jaccard=round(verdicts[m.id].scores.jaccard, 4),
                     containment=round(verdicts[m.id].scores.containment, 4),
                     is_duplicate=verdicts[m.id].is_duplicate or m.id == rep.id, reason=verdicts[m.id].reason)
           for m in members]
    return ClusterDetail(id=cluster.id, size=cluster.size, representative=article_ref(rep),
                         first_seen=cluster.first_seen, last_seen=cluster.last_seen,
                         keywords=keywords(rep.norm_text), members=out,
                         resolved_from=cluster_id if cluster_id != cluster.id else None)

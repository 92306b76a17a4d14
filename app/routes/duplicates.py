"""Duplicates of a stored article (by URL) or of a text that is not stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from dedup.engine import Engine

from ..deps import UrlQuery, get_engine
from ..errors import ApiError
from ..schemas import DuplicatesOut, ErrorOut, Responses, SearchBody, SearchOut
from ..shaping import match_out

router = APIRouter(prefix="/v1", tags=["duplicates"])
EngineDep = Annotated[Engine, Depends(get_engine)]
# the rest: app/openapi.py
_NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No stored article has this URL"}}


@router.get("/duplicates", response_model=DuplicatesOut, responses=_NOT_FOUND)
def duplicates_of_url(url: UrlQuery, engine: EngineDep) -> DuplicatesOut:
    """The stored article's verified duplicates, best first."""
    article = engine.get_article_by_url(url)
    return DuplicatesOut(id=article.id, url=article.url,
                         matches=[match_out(m) for m in engine.duplicates_of(article.id)])


@router.post("/duplicates/search", response_model=SearchOut)
def search(body: SearchBody, engine: EngineDep) -> SearchOut:
    """Duplicates of a text or HTML page, without storing it. `threshold` keeps matches with at least that Jaccard."""
    if (body.text is None) == (body.html is None):
        raise ApiError(422, "validation_error", "text: give exactly one of text or html")
    matches = engine.query_text(body.text if body.text is not None else body.html,  # type: ignore[arg-type]
                                is_html=True if body.html is not None else None)
    if body.threshold is not None:
        matches = [m for m in matches if m.jaccard >= body.threshold]
    return SearchOut(matches=[match_out(m) for m in matches])

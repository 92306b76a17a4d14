"""Operator corrections over HTTP: must-link / cannot-link two articles, or an article and a cluster; list,
read and withdraw them. Writes need the API key; the key's holder is recorded as who made the correction."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from dedup.clusters.corrections import Correction, add_correction, get_correction, list_corrections, withdraw_correction
from dedup.engine import Engine

from ..deps import MAX_ID, caller_name, get_engine, require_api_key
from ..schemas import ErrorOut, Responses

router = APIRouter(prefix="/v1", tags=["corrections"])
EngineDep = Annotated[Engine, Depends(get_engine)]
CorrectionId = Annotated[int, Path(ge=1, le=MAX_ID, description="Correction id")]
_NOT_FOUND: Responses = {404: {"model": ErrorOut, "description": "No correction has this id"}}


class CorrectionIn(BaseModel):
    """Give `other_article_id` (two articles) or `cluster_id` (an article and a cluster), not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"kind": "cannot_link", "article_id": 12, "other_article_id": 7, "note": "different days' bulletins"},
        {"kind": "must_link", "article_id": 31, "cluster_id": 7}]})

    kind: Literal["must_link", "cannot_link"] = Field(..., description="must_link: the same story; "
                                                      "cannot_link: not the same story")
    article_id: int = Field(..., ge=1, le=MAX_ID)
    other_article_id: int | None = Field(None, ge=1, le=MAX_ID)
    cluster_id: int | None = Field(None, ge=1, le=MAX_ID, description="A cluster; it stands for its "
                                   "representative (the earliest other member when that is the article)")
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _one_target(self) -> CorrectionIn:
        if (self.other_article_id is None) == (self.cluster_id is None):
            raise ValueError("give other_article_id or cluster_id, exactly one of them")
        return self


class CorrectionOut(BaseModel):
    id: int
    kind: str
    article_id: int
    other_id: int = Field(..., description="The other article (for a cluster: the article standing for it)")
    cluster_id: int | None = Field(None, description="The cluster named, when the correction was made against one")
    url_a: str
    url_b: str
    created_by: str = Field(..., description="`api-key` (DEDUP_API_KEY, over HTTP or the compare page), "
                                             "`anonymous` (no key set), `cli`")
    created_at: str
    note: str | None = None
    active: bool
    withdrawn_at: str | None = None
    withdrawn_by: str | None = None


class CorrectionResult(BaseModel):
    correction: CorrectionOut
    created: bool = Field(..., description="False when the same correction was in force already")
    clusters: list[int] = Field(..., description="The clusters of the two articles now")


class CorrectionPage(BaseModel):
    corrections: list[CorrectionOut]
    next_before: int | None = Field(None, description="Pass as `before` for the next page")


def correction_out(correction: Correction) -> CorrectionOut:
    return CorrectionOut(**correction.as_dict())


@router.post("/corrections", status_code=201, response_model=CorrectionResult,
             dependencies=[Depends(require_api_key)], responses={
                 200: {"model": CorrectionResult, "description": "The same correction is in force already"},
                 404: {"model": ErrorOut, "description": "No article or cluster has this id"},
                 409: {"model": ErrorOut, "description": "It contradicts corrections in force; the message "
                                                         "names them (`correction_conflict`)"}})
def create(body: CorrectionIn, request: Request, response: Response, engine: EngineDep) -> CorrectionResult:
    """Record a correction and apply it at once: a must-link merges the two clusters, a cannot-link splits
    them (ids stay stable; a merged-away id resolves as an alias). Later ingests and the nightly re-cluster
    keep it. Example: `{"kind": "cannot_link", "article_id": 12, "other_article_id": 7}`."""
    outcome = add_correction(engine, body.kind, body.article_id, other_id=body.other_article_id,
                             cluster_id=body.cluster_id, note=body.note, by=caller_name(request))
    response.status_code = 201 if outcome.created else 200
    return CorrectionResult(correction=correction_out(outcome.correction), created=outcome.created,
                            clusters=outcome.clusters)


@router.get("/corrections", response_model=CorrectionPage)
def listing(engine: EngineDep, include_withdrawn: bool = False,
            limit: Annotated[int, Query(ge=1, le=500)] = 50,
            before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
            article_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only those naming it")] = None,
            ) -> CorrectionPage:
    """Corrections newest first: those in force, or all with `include_withdrawn=true`; `article_id` keeps those
    naming that article (on either side)."""
    page = list_corrections(engine, include_withdrawn=include_withdrawn, limit=limit + 1, before=before,
                            article_id=article_id)
    more = len(page) > limit
    page = page[:limit]
    return CorrectionPage(corrections=[correction_out(c) for c in page],
                          next_before=page[-1].id if more else None)


@router.get("/corrections/{correction_id}", response_model=CorrectionOut, responses=_NOT_FOUND)
def read(correction_id: CorrectionId, engine: EngineDep) -> CorrectionOut:
    return correction_out(get_correction(engine, correction_id))


@router.delete("/corrections/{correction_id}", response_model=CorrectionOut, responses=_NOT_FOUND,
               dependencies=[Depends(require_api_key)])
def withdraw(correction_id: CorrectionId, request: Request, engine: EngineDep) -> CorrectionOut:
    """Withdraw a correction: it stays listed (with `include_withdrawn`) and stops binding. Clusters are left as
    they are; later ingests and the next re-cluster decide on the texts again."""
    return correction_out(withdraw_correction(engine, correction_id, by=caller_name(request)))

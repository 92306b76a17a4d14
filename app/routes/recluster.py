"""The nightly re-cluster over HTTP: list recorded runs, start one (one at a time: a second gets 409)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from dedup.engine import Engine
from dedup.recluster import start_in_background
from dedup.runs import list_runs

from ..deps import get_engine, require_api_key
from ..schemas import ErrorOut

router = APIRouter(prefix="/v1", tags=["recluster"])
EngineDep = Annotated[Engine, Depends(get_engine)]


class ReclusterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: date | None = Field(None, description="Re-cluster only around articles written since this day")
    dry_run: bool = Field(False, description="Compute and record the changes without applying them")


class RunStarted(BaseModel):
    run_id: int
    status: str = "running"


@router.get("/recluster/runs")
def runs(engine: EngineDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, list[dict[str, Any]]]:
    """Recorded runs, newest first: start, end, status, articles, clusters before/after, merges, splits, moves."""
    return {"runs": list_runs(engine.store, limit)}


@router.post("/admin/recluster", status_code=202, response_model=RunStarted,
             dependencies=[Depends(require_api_key)],
             responses={409: {"model": ErrorOut}, 401: {"model": ErrorOut}})
def start(request: Request, engine: EngineDep, body: ReclusterIn | None = None) -> RunStarted:
    """Start a run in the background; 409 `run_in_progress` while another run holds the lock."""
    options = body or ReclusterIn()
    run_id = start_in_background(engine, request.app.state.settings,
                                 full=options.since is None,
                                 since=options.since.isoformat() if options.since else None,
                                 dry_run=options.dry_run)
    return RunStarted(run_id=run_id)

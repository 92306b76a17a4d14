"""The nightly re-cluster over HTTP: list recorded runs, start one (one at a time: a second gets 409)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from dedup.engine import Engine
from dedup.recluster.run import start_in_background

from ..deps import get_engine, require_api_key
from ..schemas import ErrorOut

router = APIRouter(prefix="/v1", tags=["recluster"])
EngineDep = Annotated[Engine, Depends(get_engine)]


class ReclusterIn(BaseModel):
    # Typed as the schema says: `"dry_run": "no"` or `1` is refused, not read as a boolean (a typo must not
    # apply a run for real), and `since` is a date string, not a number read as a Unix time.
    model_config = ConfigDict(extra="forbid")
    since: date | None = Field(None, description="Re-cluster only around articles written since this day")
    dry_run: bool = Field(False, strict=True, description="Compute and record the changes without applying them")

    @field_validator("since", mode="before")
    @classmethod
    def _date_string(cls, value: object) -> object:
        if value is not None and not isinstance(value, str):
            raise ValueError("expected a date like 2026-03-13")
        return value


class RunStarted(BaseModel):
    run_id: int
    status: str = "running"


@router.get("/recluster/runs")
def runs(engine: EngineDep, limit: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, list[dict[str, Any]]]:
    """Recorded runs, newest first: start, end, status, articles, clusters before/after, merges, splits, moves."""
    return {"runs": engine.recluster_runs(limit)}


@router.post("/admin/recluster", status_code=202, response_model=RunStarted,
             dependencies=[Depends(require_api_key)],
             responses={409: {"model": ErrorOut, "description": "Another run holds the lock (`run_in_progress`)"}})
def start(request: Request, engine: EngineDep, body: ReclusterIn | None = None) -> RunStarted:
    """Start a run in the background; 409 `run_in_progress` while another run holds the lock."""
    options = body or ReclusterIn()
    run_id = start_in_background(engine, request.app.state.settings,
                                 full=options.since is None,
                                 since=options.since.isoformat() if options.since else None,
                                 dry_run=options.dry_run)
    return RunStarted(run_id=run_id)

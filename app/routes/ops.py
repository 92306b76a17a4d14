"""Liveness, readiness, metrics, and the admin index repair."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from dedup.engine import Engine
from dedup.sketch.accelerator import accelerator_status

from ..deps import get_engine, require_api_key
from ..errors import error_response
from ..metrics import CONTENT_TYPE

router = APIRouter()
EngineDep = Annotated[Engine, Depends(get_engine)]


@router.get("/healthz", tags=["ops"])
def healthz() -> dict[str, object]:
    """The process is up; says nothing about the database or the index. `accelerator` says whether the compiled
    C functions are in use (`compiled`, and which `parts`) or the slower numpy paths."""
    return {"status": "ok", "accelerator": accelerator_status()}


@router.get("/readyz", tags=["ops"])
def readyz(engine: EngineDep) -> JSONResponse:
    """Ready when the database answers and the index (in process or Redis) answers, and a shared index's Redis
    does not evict keys (a policy changed after start-up would otherwise go unnoticed while lookups miss)."""
    checks: dict[str, str] = {}
    for name, probe in (("database", engine.ping), ("index", engine.index_size)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means not ready
            checks[name] = f"unreachable: {type(exc).__name__}"
    if checks["index"] == "ok" and engine.settings.redis_check_eviction:
        checks["index_eviction"] = _eviction(engine)
    if all(v == "ok" for v in checks.values()):
        return JSONResponse({"status": "ready", **checks})
    failed = ", ".join(f"{k} {v}" for k, v in checks.items() if v != "ok")
    return error_response(503, "unavailable", f"not ready: {failed}")


def _eviction(engine: Engine) -> str:
    """"ok", or why the shared index's Redis may lose keys (the in-process index never does)."""
    try:
        return engine.index_eviction_problem() or "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"unreachable: {type(exc).__name__}"


class MetricsResponse(Response):
    media_type = CONTENT_TYPE


@router.get("/metrics", tags=["ops"], response_class=MetricsResponse,
            responses={200: {"description": "Prometheus text exposition format",
                             "content": {CONTENT_TYPE: {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> MetricsResponse:
    body, content_type = request.app.state.metrics.render()
    return MetricsResponse(body, media_type=content_type)


@router.post("/v1/admin/check", tags=["admin"], dependencies=[Depends(require_api_key)])
def check(engine: EngineDep) -> dict[str, int]:
    """Verify the index against the stored signatures and every cluster invariant (size = members, the
    representative is the earliest member, no empty cluster, no negative id, every article in a stored
    cluster), report the counts found, and repair them (what `dedup check --repair` does)."""
    return engine.check(repair=True)

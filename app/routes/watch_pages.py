"""The delivery log of one watch as a page (/watches/{id}): what was posted, when, and what the target answered.

Watches name webhook targets, so with DEDUP_API_KEY set the page first asks for the key (a password field
posted back to the same URL; the pages run no script). Server-rendered like the cluster browser.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dedup.engine import Engine
from dedup.errors import NotFound
from dedup.ops.alerts import STATUSES

from ..deps import get_engine
from .pages import PageError, _int, _render

router = APIRouter(include_in_schema=False)
EngineDep = Annotated[Engine, Depends(get_engine)]
_PAGE = 50


def _log(engine: Engine, watch_id: int, status: str | None, before: int | None) -> dict:
    if status is not None and status not in STATUSES:
        raise PageError(400, f"status: expected one of {', '.join(STATUSES)}, got {status[:40]!r}")
    try:
        watch = engine.watches.get(watch_id)
        rows = engine.watches.deliveries(watch_id, _PAGE + 1, before, status)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    return {"watch": watch, "deliveries": rows[:_PAGE], "older": rows[_PAGE - 1]["id"] if len(rows) > _PAGE else None,
            "status": status or "", "statuses": STATUSES}


def _page(request: Request, engine: Engine, watch_id: str, params: dict[str, str], key: str | None) -> HTMLResponse:
    wid = _int(watch_id, "watch id")
    expected = request.app.state.settings.api_key
    if expected and key is None:
        return _render(request, "watch.html", {"ask_key": True, "watch_id": wid})
    if expected and not hmac.compare_digest(key.encode(), expected.encode()):  # type: ignore[union-attr]
        return _render(request, "watch.html", {"ask_key": True, "watch_id": wid, "wrong_key": True}, status=401)
    before = _int(params.get("before"), "before") if params.get("before") else None
    context = _log(engine, wid, params.get("status") or None, before)
    response = _render(request, "watch.html", {**context, "ask_key": False, "key": key or "", "method":
                                               "post" if expected else "get"})
    response.headers["Cache-Control"] = "no-store"
    return response


def _list_page(request: Request, engine: Engine, after: str | None, key: str | None) -> HTMLResponse:
    """Every watch, oldest first, each linking to its delivery log and to the page of what it follows."""
    expected = request.app.state.settings.api_key
    if expected and key is None:
        return _render(request, "watches.html", {"ask_key": True})
    if expected and not hmac.compare_digest(key.encode(), expected.encode()):  # type: ignore[union-attr]
        return _render(request, "watches.html", {"ask_key": True, "wrong_key": True}, status=401)
    start = _int(after, "after") if after else 0
    rows = engine.watches.list(_PAGE + 1, start)
    response = _render(request, "watches.html", {"ask_key": False, "watches": rows[:_PAGE], "key": key or "",
                                                 "method": "post" if expected else "get",
                                                 "more": rows[_PAGE - 1].id if len(rows) > _PAGE else None})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/watches", response_class=HTMLResponse)
def watches_page(request: Request, engine: EngineDep, after: str | None = None) -> HTMLResponse:
    return _list_page(request, engine, after, None)


@router.post("/watches", response_class=HTMLResponse)
async def watches_page_with_key(request: Request, engine: EngineDep) -> HTMLResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                         keep_blank_values=True).items()}
    return await run_in_threadpool(_list_page, request, engine, form.get("after") or None, form.get("key", ""))


@router.get("/watches/{watch_id}", response_class=HTMLResponse)
def watch_page(request: Request, watch_id: str, engine: EngineDep, status: str | None = None,
               before: str | None = None) -> HTMLResponse:
    return _page(request, engine, watch_id, {"status": status or "", "before": before or ""}, None)


@router.post("/watches/{watch_id}", response_class=HTMLResponse)
async def watch_page_with_key(request: Request, watch_id: str, engine: EngineDep) -> HTMLResponse:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace"),
                                         keep_blank_values=True).items()}
    return await run_in_threadpool(_page, request, engine, watch_id, form, form.get("key", ""))

"""The compare page's correction form: a plain HTML form POST (the pages' CSP allows no script), answered with
an HTML page. When the server sets DEDUP_API_KEY the form asks for it; it is checked like the API's key."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dedup.clusters.corrections import add_correction, withdraw_correction
from dedup.engine import Engine
from dedup.errors import DedupError, NotFound

from ..deps import caller_name, get_engine
from ..errors import dedup_status
from .pages import PageError, _int, _render

router = APIRouter(include_in_schema=False)
EngineDep = Annotated[Engine, Depends(get_engine)]


def _key_checked(request: Request, form: dict[str, list[str]], what: str) -> None:
    expected = request.app.state.settings.api_key
    given = _field(form, "api_key") or ""
    if expected and not hmac.compare_digest(given.encode(), expected.encode()):
        raise PageError(401, f"a valid API key is required to {what}")


async def _form(request: Request) -> dict[str, list[str]]:
    try:
        return parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise PageError(400, "the form is not UTF-8") from None


def _field(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


@router.post("/compare/correct", response_class=HTMLResponse)
async def correct(request: Request, engine: EngineDep) -> HTMLResponse:
    """Record "same story" (must-link) or "not the same story" (cannot-link) for the two compared articles."""
    form = await _form(request)
    _key_checked(request, form, "record a correction")
    a, b = _int(_field(form, "a"), "a"), _int(_field(form, "b"), "b")
    kind = _field(form, "kind")
    if kind not in ("must_link", "cannot_link"):
        raise PageError(400, "kind: expected must_link or cannot_link")
    note = (_field(form, "note") or "").strip() or None
    try:
        outcome = await run_in_threadpool(add_correction, engine, kind, a, other_id=b, note=note,
                                          by=caller_name(request))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    except DedupError as exc:
        raise PageError(dedup_status(exc), str(exc)) from None
    status = 201 if outcome.created else 200
    return _render(request, "correction_done.html", {"correction": outcome.correction, "created": outcome.created,
                                                     "clusters": outcome.clusters, "a": a, "b": b}, status=status)


@router.post("/corrections/{correction_id}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, correction_id: str, engine: EngineDep) -> HTMLResponse:
    """The cluster page's "Withdraw" button: the correction stops binding (kept in the list, as over HTTP)."""
    form = await _form(request)
    _key_checked(request, form, "withdraw a correction")
    cid = _int(correction_id, "correction id")
    cluster = _int(_field(form, "cluster"), "cluster") if _field(form, "cluster") else None
    try:
        correction = await run_in_threadpool(withdraw_correction, engine, cid, by=caller_name(request))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    return _render(request, "correction_withdrawn.html", {"correction": correction, "cluster": cluster})

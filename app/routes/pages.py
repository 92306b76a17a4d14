"""The cluster browser: server-rendered HTML pages over the same engine as the JSON API.

Server-side Jinja2 and one CSS file keep it free of any build step or CDN: the pages work on a machine with no
network. Query parameters are parsed here rather than by FastAPI so a bad value gives an HTML page, not JSON.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from dedup.engine import Engine
from dedup.errors import DedupError, NotFound

from .. import views
from ..deps import MAX_ID, get_engine
from ..errors import ApiError
from ..keywords import keywords
from .clusters import decode_cursor, encode_cursor

APP_DIR = Path(__file__).resolve().parent.parent
router = APIRouter(include_in_schema=False)
EngineDep = Annotated[Engine, Depends(get_engine)]
templates = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(APP_DIR / "templates"),
                                                   autoescape=True, trim_blocks=True, lstrip_blocks=True))
templates.env.filters["when"] = lambda iso: (iso or "")[:16].replace("T", " ")
templates.env.tests["web_url"] = views.is_web_url
_PAGE = 20
_MAX_QUERY_CHARS = 200_000


class PageError(Exception):
    """A bad parameter or a missing record on a page: rendered as an HTML error page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=APP_DIR / "static"), name="static")
    app.add_exception_handler(PageError, _on_page_error)  # type: ignore[arg-type]


async def _on_page_error(request: Request, exc: PageError) -> HTMLResponse:
    return _render(request, "error.html", {"status": exc.status, "message": exc.message}, status=exc.status)


def _render(request: Request, name: str, context: dict, status: int = 200) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _int(value: str | None, name: str, default: int | None = None, low: int = 1) -> int:
    if value in (None, ""):
        if default is None:
            raise PageError(400, f"{name}: required")
        return default
    if len(value) > 12 or not (value.isascii() and value.isdigit()) or not low <= int(value) <= MAX_ID:
        raise PageError(400, f"{name}: expected a whole number from {low}, got {value[:40]!r}")
    return int(value)


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(400, f"{name}: expected a date like 2026-03-13, got {value[:40]!r}") from None


def _page_of_clusters(engine: Engine, min_size: int, since: date | None, until: date | None,
                      cursor: str | None) -> tuple[list, str | None]:
    """Newest activity first; `until` starts the walk, `since` ends it (last_seen is an ISO timestamp)."""
    try:
        before = decode_cursor(cursor) if cursor else None
    except ApiError as exc:
        raise PageError(400, exc.message) from None
    if before is None and until is not None and until < date.max:  # the last representable day bounds nothing
        before = ((until + timedelta(days=1)).isoformat(), MAX_ID + 1)
    page = engine.list_clusters(min_size, _PAGE + 1, before)
    if since is not None:
        page = [c for c in page if c.last_seen >= since.isoformat()]
    more = len(page) > _PAGE
    page = page[:_PAGE]
    rows = [row for c in page if (row := views.cluster_row(engine, c)) is not None]
    return rows, encode_cursor(page[-1]) if more else None


@router.get("/", response_class=HTMLResponse)
def index(request: Request, engine: EngineDep, min_size: str | None = None, since: str | None = None,
          until: str | None = None, cursor: str | None = None) -> HTMLResponse:
    """Recent clusters, filtered by size and by the day of their last activity."""
    size = _int(min_size, "min_size", default=2)
    start, end = _day(since, "since"), _day(until, "until")
    rows, next_cursor = _page_of_clusters(engine, size, start, end, cursor)
    filters = {"min_size": size, "since": since or "", "until": until or ""}
    return _render(request, "index.html", {"rows": rows, "next_cursor": next_cursor, "filters": filters})


def _search(engine: Engine, q: str) -> dict:
    """A stored URL shows that article's duplicates; anything else is searched as text without storing it."""
    q = q.strip()
    if not q:
        raise PageError(400, "paste a URL or an article's text")
    if len(q) > _MAX_QUERY_CHARS:
        raise PageError(413, f"the text is longer than {_MAX_QUERY_CHARS} characters")
    context: dict = {"q": q, "article": None, "matches": [], "message": None}
    if q.startswith(("http://", "https://")) and not any(ch.isspace() for ch in q):
        try:
            context["article"] = engine.get_article_by_url(q)
        except NotFound:
            context["message"] = "No stored article has this URL."
            return context
        matches = engine.duplicates_of(context["article"].id)
    else:
        try:
            matches = engine.query_text(q)
        except DedupError as exc:
            raise PageError(422, str(exc)) from None
    articles = {a.id: a for a in engine.store.get_articles([m.id for m in matches])}
    context["matches"] = [(m, articles.get(m.id)) for m in matches]
    return context


@router.get("/search", response_class=HTMLResponse)
def search_get(request: Request, engine: EngineDep, q: str = "") -> HTMLResponse:
    return _render(request, "search.html", _search(engine, q))


@router.post("/search", response_class=HTMLResponse)
async def search_post(request: Request, engine: EngineDep) -> HTMLResponse:
    """A pasted article is too long for a URL, hence the form POST; nothing is stored."""
    form = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    context = await run_in_threadpool(_search, engine, (form.get("q") or [""])[0])
    return _render(request, "search.html", context)


@router.get("/clusters/{cluster_id}", response_class=HTMLResponse)
def cluster_page(request: Request, cluster_id: str, engine: EngineDep) -> HTMLResponse:
    """Members with source, date, URL and exact scores to the representative."""
    cid = _int(cluster_id, "cluster id")
    try:
        cluster, members = engine.get_cluster(cid)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    verdicts = engine.representative_scores(cluster, members)
    rep = next(m for m in members if m.id == cluster.representative_id)
    rows = [(m, views.title_of(m), views.source_of(m), verdicts[m.id]) for m in members]
    return _render(request, "cluster.html", {"cluster": cluster, "rep": rep, "title": views.title_of(rep),
                                             "rows": rows, "keywords": keywords(rep.norm_text)})


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, engine: EngineDep, a: str | None = None, b: str | None = None) -> HTMLResponse:
    """Two articles side by side: shared passages highlighted, differences marked, the scores and the decision."""
    a_id, b_id = _int(a, "a"), _int(b, "b")
    try:
        x = engine.explain(a_id, b_id)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    return _render(request, "compare.html", {"x": x, "v": x.verdict, "left": views.side(x, "a", engine),
                                             "right": views.side(x, "b", engine)})

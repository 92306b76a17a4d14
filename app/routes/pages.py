"""The cluster browser: server-rendered HTML pages over the same engine as the JSON API.

Server-side Jinja2 and one CSS file keep it free of any build step or CDN: the pages work on a machine with no
network. Query parameters are parsed here rather than by FastAPI so a bad value gives an HTML page, not JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from dedup.clusters.corrections import corrections_naming
from dedup.engine import Engine
from dedup.errors import DedupError, NotFound
from dedup.models import Cluster

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
templates.env.filters["segment"] = lambda text: quote(text, safe="")  # one path segment, "/" included
_PAGE = 20
_MAX_QUERY_CHARS = 200_000
_MAX_SOURCE_CHARS = 500


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


_SORTS = ("recent", "size")


def _encode_after(sort: str, cluster: Cluster) -> str:
    if sort == "recent":
        return encode_cursor(cluster)
    return base64.urlsafe_b64encode(json.dumps(["size", cluster.size, cluster.id]).encode()).decode().rstrip("=")


def _decode_after(sort: str, cursor: str) -> tuple:
    """The last cluster of the previous page, as the sort's key; a cursor of the other sort is refused."""
    if sort == "recent":
        try:
            return decode_cursor(cursor)
        except ApiError as exc:
            raise PageError(400, exc.message) from None
    try:
        tag, size, cid = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if tag != "size" or not all(isinstance(v, int) and not isinstance(v, bool) for v in (size, cid)):
            raise ValueError(cursor)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise PageError(400, "cursor: not a cursor of this list (sorted by size)") from None
    return size, cid


def _page_of_clusters(engine: Engine, f: dict, cursor: str | None) -> tuple[list, str | None]:
    """One page in the chosen order; `since`/`until` bound the day of the last activity (an ISO timestamp)."""
    after = _decode_after(f["sort"], cursor) if cursor else None
    page = engine.browse_clusters(f["min_size"], _PAGE + 1, sort=f["sort"], after=after,
                                  source=f["source"] or None, active=f["active"])
    more = len(page) > _PAGE
    page = page[:_PAGE]
    reps, members = engine.cluster_cards([c.id for c in page])
    rows = [views.cluster_row(c, reps[c.id], members[c.id]) for c in page if c.id in reps]
    return rows, _encode_after(f["sort"], page[-1]) if more else None


@router.get("/", response_class=HTMLResponse)
def index(request: Request, engine: EngineDep, min_size: str | None = None, since: str | None = None,
          until: str | None = None, cursor: str | None = None, sort: str | None = None,
          source: str | None = None) -> HTMLResponse:
    """Clusters by last activity or size, filtered by size, source and the day of their last activity."""
    order = sort or "recent"
    if order not in _SORTS:
        raise PageError(400, f"sort: expected one of {', '.join(_SORTS)}, got {order[:40]!r}")
    if source is not None and len(source) > _MAX_SOURCE_CHARS:
        raise PageError(400, f"source: at most {_MAX_SOURCE_CHARS} characters")
    start, end = _day(since, "since"), _day(until, "until")
    # The last representable day bounds nothing (and has no next day).
    active = (start.isoformat() if start else None,
              (end + timedelta(days=1)).isoformat() if end and end < date.max else None)
    filters: dict[str, Any] = {
        "min_size": _int(min_size, "min_size", default=2), "since": since or "", "until": until or "",
        "sort": order, "source": (source or "").strip(), "active": active}
    rows, next_cursor = _page_of_clusters(engine, filters, cursor)
    total = engine.count_clusters(filters["min_size"], filters["source"] or None, active)
    return _render(request, "index.html", {"rows": rows, "next_cursor": next_cursor, "filters": filters,
                                           "total": total})


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
    articles = {a.id: a for a in engine.get_articles([m.id for m in matches])}
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
    jaccard = engine.decision.jaccard
    rows = [(m, views.title_of(m), views.source_of(m), verdicts[m.id],
             views.member_kind(m, rep, verdicts[m.id], jaccard)) for m in members]
    return _render(request, "cluster.html", {"cluster": cluster, "rep": rep, "title": views.title_of(rep),
                                             "rows": rows, "keywords": keywords(rep.norm_text),
                                             "timeline": views.timeline(members, rep, verdicts, jaccard),
                                             "corrections": corrections_naming(engine, [m.id for m in members])})


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, engine: EngineDep, a: str | None = None, b: str | None = None,
            view: str | None = None) -> HTMLResponse:
    """Two articles side by side, as published (or, `view=normalized`, as compared): shared passages
    highlighted, differences and removed boilerplate marked, the scores and the decision."""
    a_id, b_id = _int(a, "a"), _int(b, "b")
    if view not in (None, "original", "normalized"):
        raise PageError(400, f"view: expected original or normalized, got {view[:40]!r}")
    try:
        x = engine.explain(a_id, b_id)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    return _render(request, "compare.html", {"x": x, "v": x.verdict, "left": views.side(x, "a", engine),
                                             "right": views.side(x, "b", engine),
                                             "view": view or "original"})


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, engine: EngineDep) -> HTMLResponse:
    """Every source: articles, stories it published first, reposts it made and others made of its stories."""
    return _render(request, "sources.html", {"stats": engine.source_stats()})


@router.get("/sources/{name:path}", response_class=HTMLResponse)
def source_page(request: Request, name: str, engine: EngineDep) -> HTMLResponse:
    """One source over time, and its most reposted stories ("who copies us?")."""
    if len(name) > _MAX_SOURCE_CHARS:
        raise PageError(400, f"source: at most {_MAX_SOURCE_CHARS} characters")
    found = engine.source_stats(only=name)
    if not found:
        raise PageError(404, f"no articles from source {name[:80]!r}")
    stats = found[0]
    reps, _ = engine.cluster_cards([c.id for c, _n in stats.top_stories])
    top = [(c, n, views.title_of(reps[c.id])) for c, n in stats.top_stories if c.id in reps]
    return _render(request, "source.html", {"s": stats, "chart": views.source_chart(stats), "top": top})

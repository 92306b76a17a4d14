"""App factory: `uvicorn app.main:create_app --factory`. One Settings object, built here at the edge."""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from redis.exceptions import RedisError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from dedup.candidates.index import UnsafeIndex
from dedup.engine import Engine
from dedup.settings import Settings
from dedup.store.migrate import upgrade

from . import errors, openapi
from .access_log import AccessLog, configure_logging
from .auth import KeyGuard
from .deps import heal_index
from .limits import BodyGuard
from .metrics import Metrics, MetricsMiddleware
from .routes import (
    alerts,
    articles,
    clusters,
    correction_page,
    corrections,
    docs,
    duplicates,
    explain,
    export,
    ops,
    pages,
    recluster,
    watch_pages,
)
from .security import SecurityHeaders

log = logging.getLogger("dedup.http")
# An in-process index of many signatures is millions of long-lived objects; a full collection walking them
# costs tens of milliseconds in some unlucky request. Frozen after start-up, the collector skips them.
_FREEZE_AT = 10_000
EXIT_REFUSED = 4  # a configuration the server refuses to run with (exit 3: a backend never became reachable)


def open_engine(settings: Settings) -> Engine:
    """Migrate (PostgreSQL), open the store and index, then heal the index from the stored signatures.

    Healing covers a crash between the database commit and the index update, and a worker that starts
    after others have ingested (it sees their work through the database and the shared Redis index).
    """
    upgrade(settings.database_url)
    engine = Engine(settings, rebuild=False)
    report = engine.heal_index()
    log.info("index ready: %s", report)
    if report["indexed"] >= _FREEZE_AT:
        gc.collect()
        gc.freeze()
    return engine


def _where(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a bare SQLite path is not a URL
        return settings.database_url


def _reason(exc: BaseException) -> str:
    """The first line of the driver's message: enough to act on, no traceback."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines() or [""]
    return f"{type(cause).__name__}: {lines[0][:300]}"


def open_engine_retrying(settings: Settings) -> Engine:
    """`open_engine`, retried with backoff while the database or Redis is unreachable at start-up.

    A server started before its database (a reboot, a compose stack) waits for it with one clear line per
    attempt instead of dying with a stack trace and being restarted in a loop. After DEDUP_STARTUP_WAIT
    seconds it logs why it gives up and exits with status 3, still without a traceback.
    """
    deadline = time.monotonic() + settings.startup_wait
    attempt = 0
    while True:
        attempt += 1
        try:
            return open_engine(settings)
        except UnsafeIndex as exc:  # waiting cannot fix a configuration: say why and stop
            log.critical("start-up refused: %s", exc)
            sys.stderr.flush()
            os._exit(EXIT_REFUSED)
        except (OperationalError, RedisError, OSError) as exc:
            remaining = deadline - time.monotonic()
            what = "Redis" if isinstance(exc, RedisError) else f"the database at {_where(settings)}"
            if remaining <= 0:
                log.critical("start-up failed: %s is unreachable (%s); gave up after %d attempts in %.0f s "
                             "(DEDUP_STARTUP_WAIT)", what, _reason(exc), attempt, settings.startup_wait)
                sys.stderr.flush()
                os._exit(3)
            delay = min(0.5 * 2 ** (attempt - 1), 10.0, remaining)
            log.error("start-up: %s is unreachable (%s); attempt %d, retrying in %.1f s", what, _reason(exc),
                      attempt, delay)
            time.sleep(delay)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = app.state.engine is None
        if own:
            app.state.engine = open_engine_retrying(settings)
        sender = _start_alerts(app.state.engine, settings)
        try:
            yield
        finally:
            _stop_alerts(app.state.engine, sender)
            if own:
                app.state.engine.close()
                app.state.engine = None

    # docs_url/redoc_url off: routes/docs.py serves both from vendored assets (no CDN, works offline).
    app = FastAPI(title="dedup", version="1", lifespan=lifespan, dependencies=[Depends(heal_index)],
                  description="Near-duplicate detection and story clustering for news reposts.",
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics(lambda: app.state.engine, settings.metrics_dir)
    errors.install(app)
    openapi.install(app)
    modules = (articles, duplicates, clusters, explain, recluster, corrections, correction_page, alerts, export, ops,
               docs, watch_pages, pages)
    for module in modules[:-1]:
        app.include_router(module.router)
    pages.install(app)
    routes = [route for module in modules for route in module.router.routes if isinstance(route, APIRoute)]
    app.add_middleware(BodyGuard, limit_for=lambda path: _body_limit(settings, path))
    app.add_middleware(KeyGuard, routes=routes, settings=settings)  # outside the body guard: key first
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(AccessLog)  # logs every response, the body guard's 413s too
    app.add_middleware(SecurityHeaders)  # outermost: every response gets the headers, the access log's too
    return app


def _start_alerts(engine: Engine, settings: Settings):  # type: ignore[no-untyped-def]
    """The webhook sender thread of this process (each worker runs one; they share the queue safely)."""
    if not settings.alerts_sender:
        return None
    return engine.start_alert_sender()


def _stop_alerts(engine: Engine, sender) -> None:  # type: ignore[no-untyped-def]
    """Stop the sender before the store closes; a post in flight ends within the alert timeout (its lease
    makes it due again if the process is gone before it is marked)."""
    if sender is None:
        return
    thread, stop = sender
    stop.set()
    engine.alerts_written.set()
    thread.join(timeout=engine.settings.alert_timeout + 1)


def _body_limit(settings: Settings, path: str) -> int:
    """A batch carries many articles; everything else carries at most one (plus a little JSON around it)."""
    if path.endswith(":batch"):
        return settings.max_batch_bytes
    return settings.max_article_bytes + 64 * 1024

"""App factory: `uvicorn app.main:create_app --factory`. One Settings object, built here at the edge."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dedup.engine import Engine
from dedup.settings import Settings
from dedup.store.migrate import upgrade

from . import errors
from .access_log import AccessLog, configure_logging
from .limits import BodyGuard
from .metrics import Metrics, MetricsMiddleware
from .routes import articles, clusters, duplicates, explain, ops, pages, recluster

log = logging.getLogger("dedup.http")
# An in-process index of many signatures is millions of long-lived objects; a full collection walking them
# costs tens of milliseconds in some unlucky request. Frozen after start-up, the collector skips them.
_FREEZE_AT = 10_000


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


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = app.state.engine is None
        if own:
            app.state.engine = open_engine(settings)
        try:
            yield
        finally:
            if own:
                app.state.engine.close()
                app.state.engine = None

    app = FastAPI(title="dedup", version="1", lifespan=lifespan,
                  description="Near-duplicate detection and story clustering for news reposts.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics(lambda: app.state.engine)
    errors.install(app)
    for module in (articles, duplicates, clusters, explain, recluster, ops):
        app.include_router(module.router)
    pages.install(app)
    app.add_middleware(BodyGuard, limit_for=lambda path: _body_limit(settings, path))
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(AccessLog)  # outermost: logs every response, the body guard's 413s too
    return app


def _body_limit(settings: Settings, path: str) -> int:
    """A batch carries many articles; everything else carries at most one (plus a little JSON around it)."""
    if path.endswith(":batch"):
        return settings.max_batch_bytes
    return settings.max_article_bytes + 64 * 1024

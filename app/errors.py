"""One error shape everywhere: {"error": {"code", "message"}} — engine errors, validation, routing, crashes."""

from __future__ import annotations

import logging
import sqlite3

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from dedup.candidates.index import IndexLost
from dedup.clusters.corrections import CorrectionConflict
from dedup.errors import (
    DedupError,
    EmptyText,
    InvalidArticle,
    InvalidWatch,
    NotFound,
    RevisionMismatch,
    TextTooLarge,
    Unavailable,
)
from dedup.recluster.run_log import RunInProgress
from dedup.store import is_lock_timeout

from .route_match import allowed_methods

log = logging.getLogger("dedup.http")
_BUSY_RETRY_AFTER = 2  # seconds: another writer's lock is usually released within a batch's time

_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 412: "precondition_failed", 413: "payload_too_large",
                 415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests", 503: "unavailable"}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (auth, limits, bad cursors)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def error_body(code: str, message: str, fields: list[str] | None = None) -> dict:
    body: dict = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def error_response(status: int, code: str, message: str, *, fields: list[str] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, fields), status_code=status, headers=headers)


def dedup_status(exc: DedupError) -> int:
    """Engine errors to HTTP statuses; the engine itself knows nothing of HTTP."""
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, TextTooLarge):
        return 413
    if isinstance(exc, (InvalidArticle, EmptyText, InvalidWatch)):
        return 422
    if isinstance(exc, Unavailable):
        return 503
    if isinstance(exc, (RunInProgress, CorrectionConflict)):
        return 409
    if isinstance(exc, RevisionMismatch):
        return 412
    return 400


def field_name(loc: tuple | list) -> str:
    """`("body", "articles", 3, "url")` -> `articles[3].url`; the request part (body/query/path) is dropped."""
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def validation_message(errors: list[dict]) -> tuple[str, list[str]]:
    fields = [field_name(e.get("loc", ())) for e in errors]
    parts = [f"{f}: {e.get('msg', 'invalid')}" for f, e in zip(fields, errors)]
    return "; ".join(parts[:10]), list(dict.fromkeys(fields))


async def _on_dedup(_request: Request, exc: DedupError) -> JSONResponse:
    return error_response(dedup_status(exc), exc.code, str(exc))


async def _on_api(_request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, headers=exc.headers)


async def _on_validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(422, "invalid_json", "the body is not valid JSON: " + validation_message(errors)[0])
    message, fields = validation_message(errors)
    return error_response(422, "validation_error", message, fields=fields)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _STATUS_CODES.get(exc.status_code, "error")
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(allowed_methods(request.scope)) or headers.get("Allow", "")
    return error_response(exc.status_code, code, str(exc.detail), headers=headers or None)


async def _on_data(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses (out-of-range number, NUL byte) is the caller's error, not ours."""
    log.info("database refused a value: %s", type(exc).__name__)
    return error_response(422, "invalid_value", "a value in the request cannot be stored or looked up")


async def _on_backend(request: Request, exc: Exception) -> JSONResponse:
    """The database failed the request: busy (a lock held elsewhere past DEDUP_DB_BUSY_TIMEOUT) or unreachable.

    Both are transient and the transaction was rolled back, so: 503, nothing changed, retry. The hot paths use
    plain DB-API cursors, so the driver's own errors arrive here as well as SQLAlchemy's wrapped ones.
    """
    if is_lock_timeout(exc):
        waited = request.app.state.settings.db_busy_timeout
        log.warning("database busy: a lock was held elsewhere for more than %.1f s", waited)
        return error_response(503, "busy", f"the database is locked by another writer (waited {waited:g} s, "
                                           "DEDUP_DB_BUSY_TIMEOUT): nothing was stored or changed; retry later",
                              headers={"Retry-After": str(_BUSY_RETRY_AFTER)})
    log.warning("backend unavailable: %s", type(exc).__name__)
    return error_response(503, "unavailable", "the database or the index is unreachable; retry later",
                          headers={"Retry-After": "5"})


async def _on_redis(request: Request, exc: Exception) -> JSONResponse:
    """Redis (the shared index) is down: the transaction was rolled back, so say that nothing changed.

    A Redis that comes back may have lost the index; the next request heals it first (see deps.heal_index).
    """
    request.app.state.index_suspect = True
    log.warning("shared index unavailable: %s", type(exc).__name__)
    message = str(exc) if isinstance(exc, IndexLost) else (
        "the shared index (Redis) is unreachable: nothing was stored or changed; retry later")
    return error_response(503, "unavailable", message, headers={"Retry-After": "5"})


async def _on_crash(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, "internal", "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(DedupError, _on_dedup)  # type: ignore[arg-type]
    app.add_exception_handler(ApiError, _on_api)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _on_data)
    app.add_exception_handler(UnicodeEncodeError, _on_data)
    app.add_exception_handler(OperationalError, _on_backend)
    app.add_exception_handler(sqlite3.OperationalError, _on_backend)
    app.add_exception_handler(psycopg.OperationalError, _on_backend)
    app.add_exception_handler(PoolTimeout, _on_backend)
    app.add_exception_handler(RedisError, _on_redis)
    app.add_exception_handler(Exception, _on_crash)

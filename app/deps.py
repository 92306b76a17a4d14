"""Request dependencies: the engine and settings from app state, and the API-key guard."""

from __future__ import annotations

import hmac
import logging
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from redis.exceptions import RedisError
from starlette.datastructures import Headers

from dedup.engine import Engine
from dedup.settings import Settings

from .errors import ApiError

log = logging.getLogger("dedup.http")
MAX_ID = 2**31 - 1  # PostgreSQL INTEGER; larger ids cannot exist and must not reach the database
ArticleId = Annotated[int, Path(ge=1, le=MAX_ID, description="Article id")]
ClusterId = Annotated[int, Path(ge=1, le=MAX_ID, description="Cluster id")]
IdQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="Article id")]
UrlQuery = Annotated[str, Query(min_length=1, max_length=4096, pattern=r"^[^\x00-\x1f\x7f]+$",
                                description="The article's URL, exactly as ingested")]


# The two ways to present DEDUP_API_KEY, declared so the OpenAPI schema marks the guarded operations (and
# Swagger UI offers its Authorize button). auto_error=False: a missing key is require_api_key's 401, in our
# error shape, and only when a key is configured.
_KEY_HINT = "DEDUP_API_KEY; required on write and admin operations when the server sets one"
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer", description=_KEY_HINT)
KEY_HEADER = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="apiKey", description=_KEY_HINT)
IfMatch = Annotated[str | None, Header(max_length=2048, description="Revisions (ETags) the stored article must "
                                     "still have, else 412 and nothing changes; * for any existing article")]


def if_match_tags(value: str | None) -> list[str] | None:
    """The If-Match header as the revisions it accepts, or None when absent. Weak tags (W/"...") never match
    under If-Match's strong comparison, so they are dropped; a list left empty matches nothing."""
    if value is None:
        return None
    tags = [tag.strip() for tag in value.split(",") if tag.strip()]
    if not tags:
        raise ApiError(400, "bad_request", 'If-Match: expected "*" or one or more ETags like "3f2a..."')
    return [tag if tag == "*" else tag.strip('"') for tag in tags if not tag.startswith("W/")]


def etag(revision: str) -> dict[str, str]:
    return {"ETag": f'"{revision}"'}


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _presented_key(headers: Headers) -> str | None:
    auth = headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return headers.get("x-api-key")


def key_accepted(expected: str | None, headers: Headers) -> bool:
    """No key configured, or the presented one matches: a constant-time compare, the key is never logged."""
    if not expected:
        return True
    presented = _presented_key(headers)
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer ... or X-API-Key)",
                    headers={"WWW-Authenticate": "Bearer"})


def require_api_key(request: Request,
                    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
                    _header: Annotated[str | None, Depends(KEY_HEADER)] = None) -> None:
    """Guard write and admin routes when DEDUP_API_KEY is set. `KeyGuard` already checked before the body was
    read (and says so in the request state); this stays as the route declaration (its two security parameters
    document the schemes in OpenAPI) and a second line."""
    if getattr(request.state, "api_key_checked", False):
        return
    if not key_accepted(request.app.state.settings.api_key, request.headers):
        raise unauthorized()


def caller_name(request: Request) -> str:
    """Who made a change, as recorded with it: the holder of DEDUP_API_KEY, or anyone when no key is set."""
    return "api-key" if request.app.state.settings.api_key else "anonymous"


def heal_index(request: Request) -> None:
    """After a Redis outage seen by this worker, rebuild the shared index from the database before serving.

    A Redis restarted without persistence comes back empty; without this, reposts would stop finding the
    articles ingested before the outage. While Redis is still down the request goes on (reads of the database
    work) and whatever needs the index answers 503.
    """
    state = request.app.state
    if not getattr(state, "index_suspect", False) or state.engine is None:
        return
    try:
        report = state.engine.heal_index()
    except RedisError:
        return
    state.index_suspect = False
    log.warning("shared index healed after an outage: %s", report)

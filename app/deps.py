"""Request dependencies: the engine and settings from app state, and the API-key guard."""

from __future__ import annotations

import hmac

from fastapi import Request

from dedup.engine import Engine
from dedup.settings import Settings

from .errors import ApiError


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def _presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def require_api_key(request: Request) -> None:
    """Guard write and admin routes when DEDUP_API_KEY is set; constant-time compare, the key is never logged."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    presented = _presented_key(request)
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "a valid API key is required (Authorization: Bearer ... or X-API-Key)",
                       headers={"WWW-Authenticate": "Bearer"})

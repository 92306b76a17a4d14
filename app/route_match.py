"""Which routes a request path matches, for labels (metrics, access log) and for the 405 `Allow` header.

FastAPI records the matched route in the scope only for its own API routes; `/openapi.json` and the static
mount are plain Starlette routes and would count as "unmatched". Matching again against the app's route
table, on a copy of the request's path as it came in, labels them by their own template.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from starlette.routing import BaseRoute, Match, Mount
from starlette.staticfiles import StaticFiles

Scope = MutableMapping[str, Any]  # as in .limits, which imports .errors, which imports this module

UNMATCHED = "unmatched"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_MOUNT_METHODS = {"GET", "HEAD"}


def _probe(scope: Scope, path: str, root_path: str, method: str) -> dict[str, Any]:
    """A fresh scope: routing mutates the request's own (a mount moves its prefix into root_path)."""
    return {"type": "http", "path": path, "root_path": root_path, "method": method, "app": scope.get("app"),
            "headers": []}


def _routes(scope: Scope) -> list[BaseRoute]:
    return _flatten(getattr(scope.get("app"), "routes", ()))


def _flatten(routes: Iterable[BaseRoute]) -> list[BaseRoute]:
    """The routes themselves: FastAPI keeps an included router as one entry whose match names no route (so a
    request answered before routing, a 401 from the key guard, would read as unmatched)."""
    found: list[BaseRoute] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found.extend(_flatten(inner.routes) if inner is not None else [route])
    return found


def route_template(scope: Scope, path: str, root_path: str = "") -> str:
    """The matched route's template (`/v1/articles/{article_id}`, `/openapi.json`, `/static`), never the raw
    path, so metric labels stay bounded; `unmatched` for a path no route knows."""
    template = getattr(scope.get("route"), "path", None)
    if template:
        return template
    probe = _probe(scope, path, root_path, scope.get("method", "GET"))
    for route in _routes(scope):
        match, child = route.matches(probe)
        template = getattr(child.get("route"), "path", None) or getattr(route, "path", None)
        if match is not Match.NONE and template:
            return template
    return UNMATCHED


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route serves at this path, found by asking the route table once per method.

    FastAPI keeps one route per method, so the route that answered 405 names only its own method (GET on a
    path that also takes DELETE); and FastAPI's included routers do not expose their routes' methods.
    """
    # A mount has moved its prefix into root_path; app_root_path keeps the one the request came with.
    path, root_path = scope["path"], scope.get("app_root_path", scope.get("root_path", ""))
    allowed: set[str] = set()
    for route in _routes(scope):
        if isinstance(route, Mount):  # a mount takes every method; the files it serves answer GET and HEAD
            if route.matches(_probe(scope, path, root_path, "GET"))[0] is not Match.NONE:
                allowed |= _MOUNT_METHODS if isinstance(route.app, StaticFiles) else set()
            continue
        allowed |= {m for m in _METHODS if route.matches(_probe(scope, path, root_path, m))[0] is Match.FULL}
    return sorted(allowed)

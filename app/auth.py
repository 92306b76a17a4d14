"""The API-key check before the body is read: an unauthenticated caller costs a header lookup, not a 30 MB read
and a JSON parse (and gets 401, not 422 for the JSON it sent).

Plain ASGI outside the body guard. Which routes need the key is taken from the routes themselves (those that
declare the `require_api_key` dependency), so there is one list of guarded routes, not two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import Headers
from starlette.routing import Match

from dedup.settings import Settings

from .deps import key_accepted, require_api_key, unauthorized
from .limits import ASGIApp, Receive, Scope, Send, reply


def _declares_key(dependant: Any) -> bool:
    return any(d.call is require_api_key or _declares_key(d) for d in dependant.dependencies)


class KeyGuard:
    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute], settings: Settings) -> None:
        """`routes`: the API's routes in the router's order (with their prefixes, as the routers hold them)."""
        self.app = app
        self.routes = [(route, _declares_key(route.dependant)) for route in routes]
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.settings.api_key and self._needs_key(scope):
            if not key_accepted(self.settings.api_key, Headers(scope=scope)):
                error = unauthorized()
                await reply(send, error.status, error.code, error.message, headers=error.headers)
                return
            scope.setdefault("state", {})["api_key_checked"] = True
        await self.app(scope, receive, send)

    def _needs_key(self, scope: Scope) -> bool:
        """Does the route this request will reach (the first full match, as the router picks it) need the key?"""
        for route, guarded in self.routes:
            if route.matches(scope)[0] is Match.FULL:
                return guarded
        return False

"""Body guard before routing: too large -> 413 (by Content-Length and by bytes actually read), not UTF-8 -> 400.

Done as plain ASGI so a huge body is refused while streaming in, before anything parses it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .errors import error_body

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class StatusRecorder:
    """A `send` that remembers the response status (500 until a response starts: an error before any
    response is what the client gets) and can add headers to the response, for middlewares that
    report on every response after it has gone."""

    def __init__(self, send: Send, extra_headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        self.send = send
        self.extra_headers = extra_headers
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.extra_headers:
                message["headers"] = [*message.get("headers", []), *self.extra_headers]
        await self.send(message)


async def reply(send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
    """An error answered by a middleware, in the API's one error shape."""
    payload = json.dumps(error_body(code, message)).encode()
    extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": payload})


class BodyGuard:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await reply(send, 413, "payload_too_large", f"the body is larger than {limit} bytes")
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await reply(send, 413, "payload_too_large", f"the body is larger than {limit} bytes")
                return
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError as exc:
            await reply(send, 400, "undecodable_body", f"the body is not UTF-8 (byte {exc.start})")
            return
        await self.app(scope, _replay(bytes(body)), send)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive

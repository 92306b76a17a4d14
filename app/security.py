"""Security headers on every response: a strict Content-Security-Policy, no framing, no sniffing, no referrer.

The cluster browser's pages run no script at all and take styles only from /static, so the default policy
forbids every script, plugin, frame and connection: an injected `<script>` (had escaping ever failed) would
not run, and no other site can frame the pages (clickjacking the paste form). JSON answers get the same
headers, which cost nothing and keep a browser from rendering an API answer as a page.

The API docs (/docs, /redoc) need scripts: their route sets its own policy (`docs_policy`) that allows this
server's vendored assets and one inline script carrying a per-response nonce, nothing from other hosts.
"""

from __future__ import annotations

import secrets

from .limits import ASGIApp, Message, Receive, Scope, Send

# default-src 'none' covers script, connect, font, frame, object, media, worker and manifest sources.
PAGE_POLICY = ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
               "frame-ancestors 'none'; base-uri 'none'")
# Page URLs carry search texts (/search?q=...): the news sites the pages link to must not receive them.
_HEADERS = ((b"content-security-policy", PAGE_POLICY.encode()), (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


def new_nonce() -> str:
    """128 random bits, fresh for each response, as CSP nonces must be."""
    return secrets.token_urlsafe(16)


def docs_policy(nonce: str) -> str:
    """For Swagger UI and ReDoc: scripts from this server or carrying the nonce; inline styles (ReDoc's
    styled-components inject <style> elements; styles cannot run code); the spec fetched from this server;
    ReDoc's search worker started from a blob URL."""
    return (f"default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """Adds each header the response does not set itself (a route may set a looser CSP, as the docs do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [(name, value) for name, value in _HEADERS if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

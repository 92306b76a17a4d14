"""Structured logs: one JSON line per request (request id, method, route template, status, duration).

Log shippers parse JSON lines without per-format rules, and a request id echoed in `X-Request-ID` lets a
client's report be matched with the server's line. Only the route template and the path are logged, never
the query string, headers or bodies: those can carry API keys or whole article texts.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .limits import ASGIApp, Receive, Scope, Send, StatusRecorder
from .route_match import route_template

access = logging.getLogger("dedup.access")
# A client-supplied id is echoed and logged, so it must be short and harmless (no spaces, quotes, newlines).
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Record attributes that are not extra fields; uvicorn's color_message duplicates the message with ANSI codes.
_STD_ATTRS = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}


class LogSettings(BaseSettings):
    """Read apart from the engine's Settings: logging is the web edge's concern, not the engine's."""

    model_config = SettingsConfigDict(env_prefix="DEDUP_", extra="ignore")

    log_level: str = Field("INFO", description="Level of the dedup loggers (DEBUG, INFO, WARNING, ...)")


class JsonFormatter(logging.Formatter):
    """One JSON object per line; fields passed with `extra=` become top-level keys."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        out.update({k: v for k, v in vars(record).items() if k not in _STD_ATTRS and not k.startswith("_")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str | None = None) -> None:
    """Idempotent: apps are built many times in one test process. uvicorn's own access line is silenced
    because the middleware writes a richer one; its error log gets the same JSON format."""
    level = (level or LogSettings().log_level).upper()
    root = logging.getLogger("dedup")
    root.setLevel(level)
    if not any(getattr(h, "_dedup_json", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        handler._dedup_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn.error propagates to the handler on "uvicorn"
        for existing in logging.getLogger(name).handlers:
            existing.setFormatter(JsonFormatter())


def request_id(scope: Scope) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _CLIENT_ID.match(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class AccessLog:
    """Plain ASGI (like the other middlewares) so it sees the final status of every response, errors too."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        start = time.perf_counter()
        path, root_path = scope["path"], scope.get("root_path", "")
        recorder = StatusRecorder(send, ((b"x-request-id", rid.encode()),))
        try:
            await self.app(scope, receive, recorder)
        finally:
            access.info("request", extra={"request_id": rid, "method": scope["method"],
                                          "route": route_template(scope, path, root_path), "path": path,
                                          "status": recorder.status,
                                          "duration_ms": round((time.perf_counter() - start) * 1000, 2)})

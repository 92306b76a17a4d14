"""The published OpenAPI schema states every error an operation can answer, in the one error shape.

Some errors are facts about the whole app rather than one route: the body guard answers 400 and 413 on every
POST before routing, the API-key guard 401 on every operation marked with its security schemes, validation
422 wherever there is a parameter or a body, and every operation that reads the store or the index 503 when
that backend is down. Stating them here, from those facts, keeps the schema true when a route is added; routes
declare only their own errors (404, 409). FastAPI's default 422 body (`{"detail": [...]}`) is not what this
API sends, so it is replaced by `ErrorOut`. tests/reliability/test_schema_conformance.py holds the schema to
the real answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from .schemas import ErrorOut

_ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
_BODY_METHODS = {"post", "put", "patch"}
# The one operation that touches neither the database nor the index (it says the process is up).
_NO_BACKEND = {("get", "/healthz")}
_DESCRIPTIONS = {
    400: "The body is not UTF-8 (`undecodable_body`)",
    401: "The server sets DEDUP_API_KEY and the request does not carry it (`unauthorized`)",
    413: "The body, or an article's text, is over its size limit (`payload_too_large`)",
    422: "A parameter or the body is invalid; the message names each field (`validation_error`, `invalid_json`)",
    503: "The database or the shared index (Redis) is unreachable; nothing was changed (`unavailable`)",
}


def _codes(method: str, path: str, operation: dict[str, Any]) -> list[int]:
    codes = []
    if method in _BODY_METHODS:
        codes += [400, 413]
    if operation.get("security"):
        codes.append(401)
    if operation.get("parameters") or operation.get("requestBody"):
        codes.append(422)
    if (method, path) not in _NO_BACKEND:
        codes.append(503)
    return codes


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the app-wide error answers to each operation and drop FastAPI's unused validation-error models."""
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _codes(method, path, operation):
                responses[str(code)] = {"description": _DESCRIPTIONS[code],
                                        "content": {"application/json": {"schema": _ERROR_REF}}}
            operation["responses"] = dict(sorted(responses.items()))
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorOut", ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, sub in ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}).items():
        components.setdefault(name, sub)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install(app: FastAPI) -> None:
    """Build the schema once, the first time it is asked for, with the errors documented."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

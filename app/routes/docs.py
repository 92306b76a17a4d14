"""Swagger UI (/docs) and ReDoc (/redoc) from assets vendored under app/static, so they work offline.

FastAPI's documented self-hosting: its default docs routes are off (`docs_url=None`, `redoc_url=None`) and
these routes render its HTML with local asset URLs. The assets' versions and licenses: app/static/VENDORED.md.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

from ..security import docs_policy, new_nonce

router = APIRouter(include_in_schema=False)
SWAGGER_JS = "/static/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "/static/swagger-ui/swagger-ui.css"
REDOC_JS = "/static/redoc/redoc.standalone.js"
FAVICON = "/static/swagger-ui/favicon-32x32.png"


def _local(request: Request, path: str) -> str:
    """A path on this server, behind a proxy's prefix too."""
    return request.scope.get("root_path", "") + path


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """Nonce every <script> of the page and send the docs' own CSP with the same nonce."""
    nonce = new_nonce()
    html = bytes(page.body).decode().replace("<script", f'<script nonce="{nonce}"')
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_policy(nonce)})


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    # No online validator badge: Swagger UI would send the schema's URL to validator.swagger.io.
    page = get_swagger_ui_html(openapi_url=_local(request, request.app.openapi_url),
                               title=f"{request.app.title} · API docs", swagger_js_url=_local(request, SWAGGER_JS),
                               swagger_css_url=_local(request, SWAGGER_CSS),
                               swagger_favicon_url=_local(request, FAVICON), oauth2_redirect_url=None,
                               swagger_ui_parameters={"validatorUrl": None})
    return _with_policy(page)


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    page = get_redoc_html(openapi_url=_local(request, request.app.openapi_url), title=f"{request.app.title} · ReDoc",
                          redoc_js_url=_local(request, REDOC_JS), redoc_favicon_url=_local(request, FAVICON),
                          with_google_fonts=False)
    return _with_policy(page)

"""/docs (Swagger UI) and /redoc (ReDoc) from the app's own static folder, never a CDN.

A self-hosted ledger must document itself offline: the scripts, styles and favicon are the
npm packages `make setup` copies into static/vendor/ (see the Makefile), and ReDoc gets no
web fonts (the page's own font stack is used).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
    swagger_ui_default_parameters,
)
from fastapi.responses import HTMLResponse

VENDOR = "/static/vendor"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
FAVICON = f"{VENDOR}/favicon-32x32.png"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API docs",
        swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT,
        # no validator badge: Swagger UI would send the document to an outside validator
        swagger_ui_parameters={**swagger_ui_default_parameters, "validatorUrl": None},
    )


@router.get(OAUTH2_REDIRECT)
async def swagger_ui_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


# ReDoc's sidebar always shows its maker's logo from a CDN (an <img> that hides itself
# when it fails): the page's policy lets it load nothing from another host.
SAME_HOST_ONLY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; connect-src 'self'"
)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    response = get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · API reference",
        redoc_js_url=f"{VENDOR}/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
    response.headers["Content-Security-Policy"] = SAME_HOST_ONLY
    return response

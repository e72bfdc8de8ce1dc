"""A refused page (403) as a page: what was refused, who is asking, and a way back.

Browsers asking for a page get HTML with the navigation of their role; the JSON API
(/api/*, /v1/*) and anything else keeps FastAPI's JSON answer.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from spendledger.web.auth import optional_viewer

API_PREFIXES = ("/api/", "/v1/", "/openapi.json")


async def refused_page(request: Request, exc: Exception) -> Response:
    """403 on a page: the error page; every other HTTP error: FastAPI's JSON."""
    assert isinstance(exc, HTTPException)
    if exc.status_code != 403 or request.url.path.startswith(API_PREFIXES):
        return await http_exception_handler(request, exc)
    viewer = await run_in_threadpool(optional_viewer, request, request.app.state.engine)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request,
        "refused.html",
        {"viewer": viewer, "detail": exc.detail},
        status_code=403,
        headers=exc.headers,
    )

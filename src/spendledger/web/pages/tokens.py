"""/tokens: the API tokens apps send events and read spend with (admins only).

A new token is shown once, on the response to the form that created it, and never
again: only its hash and a hint of its last characters are stored (store/tokens.py).
That response is marked `no-store` so no cache keeps a copy. Every POST checks CSRF.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from spendledger.store.tokens import TokenError, create_token, list_tokens, revoke_token
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, settings: SettingsDep, viewer: AdminViewer
) -> HTMLResponse:
    return _render(request, templates, engine, settings, viewer)


@router.post("/tokens", response_class=HTMLResponse)
def create(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    viewer: AdminViewer,
    name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Create a token and show it this once."""
    check_csrf(viewer, csrf_token)
    try:
        with engine.begin() as conn:
            token = create_token(conn, name=name)
    except TokenError as exc:
        return _render(
            request, templates, engine, settings, viewer, error=str(exc), name=name, status_code=400
        )
    response = _render(request, templates, engine, settings, viewer, created=(name.strip(), token))
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/tokens/revoke", response_class=HTMLResponse)
def revoke(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    viewer: AdminViewer,
    name: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Revoke a token: requests sending it are refused from now on."""
    check_csrf(viewer, csrf_token)
    with engine.begin() as conn:
        revoked = revoke_token(conn, name=name)
    if not revoked:
        error = f"no active token named {name!r}; the list below shows the tokens"
        return _render(request, templates, engine, settings, viewer, error=error, status_code=404)
    return _render(request, templates, engine, settings, viewer, notice=f"Revoked token {name!r}.")


def _render(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    settings: SettingsDep,
    viewer: Viewer,
    *,
    status_code: int = 200,
    **context: object,
) -> HTMLResponse:
    with engine.connect() as conn:
        tokens = list_tokens(conn)
    defaults = {"created": None, "error": None, "notice": None, "name": ""}
    return templates.TemplateResponse(
        request,
        "tokens.html",
        {**defaults, **context, "viewer": viewer, "tokens": tokens, "tz": settings.tz},
        status_code=status_code,
    )

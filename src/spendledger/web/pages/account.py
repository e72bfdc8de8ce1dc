"""Log in, log out, the one-time set-up of the first admin, and the password change.

Forms post a CSRF token (auth.py). Failed logins are counted per email and per client
address: after `MAX_FAILURES` in `WINDOW` the login answers 429 until the window passes.
An attempt counts as failed from before its password is checked until it proves right, so
no burst of parallel requests gets more than `MAX_FAILURES` passwords checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from spendledger.passwords import (
    PasswordError,
    check_strength,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)
from spendledger.store.users import (
    UserError,
    claim_login_attempt,
    count_users,
    create_session,
    create_user,
    end_session,
    end_user_sessions,
    find_user,
    forget_login_attempt,
    set_password,
)
from spendledger.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_TTL,
    OptionalViewer,
    PageViewer,
    check_csrf,
    check_login_csrf,
    login_csrf,
    set_cookie,
)
from spendledger.web.deps import EngineDep, TemplatesDep

router = APIRouter(include_in_schema=False)

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
# argon2 verification of a made-up hash, so an unknown email takes as long as a wrong password
_DUMMY_HASH = hash_password("not-a-real-password-but-as-slow")


def _safe_next(target: str | None) -> str:
    """Only local paths: an open redirect would send users to another site after login."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _form(
    request: Request, templates: TemplatesDep, name: str, *, status_code: int = 200, **context: object
) -> HTMLResponse:
    csrf = login_csrf(request)
    response = templates.TemplateResponse(request, name, {"csrf": csrf, **context}, status_code=status_code)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


def _start_session(request: Request, engine: EngineDep, user_id: int, to: str) -> Response:
    token = new_token()
    with engine.begin() as conn:
        create_session(
            conn,
            user_id=user_id,
            token_hash=token_hash(token),
            csrf_token=new_token(),
            now=datetime.now(UTC),
            ttl=SESSION_TTL,
        )
    response = RedirectResponse(to, status_code=status.HTTP_303_SEE_OTHER)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(SESSION_TTL.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.get("/login", response_class=HTMLResponse)
def login_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, viewer: OptionalViewer, next: str = "/"
) -> Response:
    if viewer is not None:
        return RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    with engine.connect() as conn:
        if count_users(conn) == 0:
            return RedirectResponse("/setup", status_code=status.HTTP_303_SEE_OTHER)
    return _form(request, templates, "login.html", next=_safe_next(next), error=None, email="")


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_login_csrf(request, csrf_token)
    client = request.client.host if request.client else "unknown"
    now = datetime.now(UTC)
    with engine.begin() as conn:  # committed before the check, so parallel attempts count it
        attempt = claim_login_attempt(
            conn, email=email, client=client, now=now, since=now - WINDOW, limit=MAX_FAILURES
        )
    if attempt is None:
        minutes = int(WINDOW.total_seconds() // 60)
        return _form(
            request, templates, "login.html", status_code=429, next=_safe_next(next), email=email,
            error=f"Too many failed attempts. Wait {minutes} minutes, then try again.",
        )  # fmt: skip
    with engine.connect() as conn:
        user = find_user(conn, email)
    ok = verify_password(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    if not ok or user is None:
        return _form(
            request, templates, "login.html", status_code=401, next=_safe_next(next), email=email,
            error="The email or the password is wrong.",
        )  # fmt: skip
    with engine.begin() as conn:
        forget_login_attempt(conn, attempt)
        if needs_rehash(user.password_hash):
            set_password(conn, user.id, password_hash=hash_password(password), now=now)
    return _start_session(request, engine, user.id, _safe_next(next))


@router.post("/logout")
def logout(
    request: Request, engine: EngineDep, viewer: PageViewer, csrf_token: Annotated[str | None, Form()] = None
) -> Response:
    check_csrf(viewer, csrf_token)
    with engine.begin() as conn:
        end_session(conn, viewer.token_hash)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/setup", response_class=HTMLResponse)
def setup_page(request: Request, templates: TemplatesDep, engine: EngineDep) -> Response:
    with engine.connect() as conn:
        if count_users(conn) > 0:
            return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    return _form(request, templates, "setup.html", error=None, email="")


@router.post("/setup", response_class=HTMLResponse)
def setup(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    confirm: Annotated[str, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Create the first admin; answers only while no user exists."""
    check_login_csrf(request, csrf_token)
    try:
        if password != confirm:
            raise PasswordError("the two passwords differ")
        check_strength(password)
        with engine.begin() as conn:
            if count_users(conn) > 0:
                return RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
            user = create_user(
                conn, email=email, password_hash=hash_password(password), role="admin", now=datetime.now(UTC)
            )
    except (PasswordError, UserError) as exc:
        return _form(
            request, templates, "setup.html", status_code=400, error=str(exc).capitalize(), email=email
        )
    return _start_session(request, engine, user.id, "/")


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, templates: TemplatesDep, viewer: PageViewer) -> Response:
    return templates.TemplateResponse(
        request, "password.html", {"viewer": viewer, "error": None, "done": False}
    )


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: PageViewer,
    current: Annotated[str, Form()],
    password: Annotated[str, Form()],
    confirm: Annotated[str, Form()],
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(viewer, csrf_token)
    error = None
    if not verify_password(viewer.user.password_hash, current):
        error = "The current password is wrong."
    elif password != confirm:
        error = "The two new passwords differ."
    else:
        try:
            check_strength(password)
        except PasswordError as exc:
            error = str(exc).capitalize() + "."
    if error:
        return templates.TemplateResponse(
            request, "password.html", {"viewer": viewer, "error": error, "done": False}, status_code=400
        )
    with engine.begin() as conn:
        set_password(conn, viewer.user.id, password_hash=hash_password(password), now=datetime.now(UTC))
        end_user_sessions(conn, viewer.user.id, keep=viewer.token_hash)  # other devices log in again
    return templates.TemplateResponse(
        request, "password.html", {"viewer": viewer, "error": None, "done": True}
    )

"""Who is asking: dashboard sessions, roles, CSRF, and the API's token-or-session readers.

- A session is a random token in an HttpOnly, SameSite=Lax cookie (Secure behind
  https); only its SHA-256 is stored. Logging out or changing the password ends it.
- Every form posts a CSRF token: the session's own once logged in, a double-submit
  cookie on the login and set-up forms before.
- Pages name the roles they allow with `require(...)`; the check runs on the server for
  every request. A page asked for without a session redirects to /login (or /setup
  while no user exists); an API call gets 401.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, NoReturn
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from spendledger.passwords import new_token, token_hash
from spendledger.queries import SpendQuery, restrict
from spendledger.store.tokens import verify_token
from spendledger.store.users import User, count_users, session_user
from spendledger.web.deps import HOW_TO_GET_A_TOKEN, EngineDep

SESSION_COOKIE = "sl_session"
LOGIN_CSRF_COOKIE = "sl_login_csrf"
SESSION_TTL = timedelta(days=14)

_bearer = HTTPBearer(auto_error=False, description="An API token from `spendledger tokens create NAME`")


@dataclass(frozen=True)
class Viewer:
    """The logged-in user of a request, with its session's CSRF token."""

    user: User
    csrf: str
    token_hash: str


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect."""

    def __init__(self, to: str) -> None:
        self.to = to


def is_https(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "") == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=is_https(request), path="/"
    )


def optional_viewer(request: Request, engine: EngineDep) -> Viewer | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    hashed = token_hash(token)
    with engine.connect() as conn:
        found = session_user(conn, hashed, now=datetime.now(UTC))
    return None if found is None else Viewer(found[0], found[1], hashed)


OptionalViewer = Annotated[Viewer | None, Depends(optional_viewer)]


def page_viewer(request: Request, engine: EngineDep, viewer: OptionalViewer) -> Viewer:
    """The logged-in user of a page; else a redirect to /login (or /setup with no users)."""
    if viewer is not None:
        return viewer
    with engine.connect() as conn:
        if count_users(conn) == 0:
            raise LoginRequired("/setup")
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    raise LoginRequired(f"/login?next={quote(target, safe='')}")


PageViewer = Annotated[Viewer, Depends(page_viewer)]


def require(*roles: str) -> object:
    """A dependency: the page's viewer, when their role is one of `roles` (else 403)."""

    def check(viewer: PageViewer) -> Viewer:
        if viewer.user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this page needs the role {' or '.join(roles)}"
            )
        return viewer

    return Depends(check)


def check_csrf(viewer: Viewer, submitted: str | None) -> None:
    if not submitted or not hmac.compare_digest(submitted, viewer.csrf):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="the form expired: reload the page and try again"
        )


def login_csrf(request: Request) -> str:
    """The pre-login CSRF token: the cookie's when set, else a new one (set it on the response)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or new_token()


def check_login_csrf(request: Request, submitted: str | None) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not cookie or not submitted or not hmac.compare_digest(cookie, submitted):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="the form expired: reload the page and try again"
        )


def scope_of(user: User | None) -> dict[str, tuple[str, ...]]:
    """What a user may see: admins and viewers everything; a member their grants (projects,
    users) or, with none, the spend recorded under their own email as user."""
    if user is None or user.role != "member":
        return {}
    scope: dict[str, tuple[str, ...]] = {}
    for dimension, value in user.grants:
        scope[dimension] = (*scope.get(dimension, ()), value)
    return scope or {"user": (user.email,)}


def scoped(query: SpendQuery, user: User | None) -> SpendQuery:
    """`query` within what `user` may see; 403 when it asks for someone else's spend.

    A member filtering on a project or user outside their grants is refused, not shown an
    empty result: asking is probing, and the answer says so.
    """
    scope = scope_of(user)
    for dim, allowed in scope.items():
        outside = [v for v in query.filters.get(dim, ()) if v not in allowed]
        if outside:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"{dim} {outside[0]!r} is outside what you may see ({dim}: {', '.join(allowed)})",
            )
    return restrict(query, scope)


@dataclass(frozen=True)
class Reader:
    """Who reads the JSON API: an API token (everything) or a logged-in user (their scope)."""

    token: str | None
    user: User | None

    @property
    def scope(self) -> dict[str, tuple[str, ...]]:
        return scope_of(self.user)


def api_reader(
    engine: EngineDep,
    viewer: OptionalViewer,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Reader:
    if credentials is not None:
        with engine.begin() as conn:
            name = verify_token(conn, credentials.credentials)
        if name is None:
            _unauthorised(f"the API token is not valid or was revoked: {HOW_TO_GET_A_TOKEN}")
        return Reader(token=name, user=None)
    if viewer is not None:
        return Reader(token=None, user=viewer.user)
    _unauthorised(f"this endpoint needs an API token or a logged-in session: {HOW_TO_GET_A_TOKEN}")


ApiReader = Annotated[Reader, Depends(api_reader)]


def api_require(*roles: str) -> object:
    """A dependency: the JSON API's reader, when it holds an API token (tokens are made by
    admins and read everything) or a session of one of `roles` (else 403, as `require`)."""

    def check(reader: ApiReader) -> Reader:
        if reader.user is not None and reader.user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"this endpoint needs the role {' or '.join(roles)}, or an API token",
            )
        return reader

    return Depends(check)


def _unauthorised(detail: str) -> NoReturn:
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})

"""POST /demo/remove: the demo-data strip's button (admins only, CSRF checked).

Removes what `spendledger demo --clear` removes (demo.clear_demo: the demo records, the
demo budget and its alerts) and goes back to the page the button was on.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from spendledger.demo import clear_demo
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]


@router.post("/demo/remove")
def remove_demo(
    request: Request,
    engine: EngineDep,
    viewer: AdminViewer,
    csrf_token: Annotated[str | None, Form()] = None,
    back: Annotated[str, Form()] = "/",
) -> RedirectResponse:
    """Remove the demo data, then show the page again (now without it)."""
    check_csrf(viewer, csrf_token)
    clear_demo(engine)
    request.app.state.demo_flag.reset()
    return RedirectResponse(_local(back), status_code=303)


def _local(path: str) -> str:
    """`path` when it is a path on this site, else "/" (never an open redirect)."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return "/"
    return path

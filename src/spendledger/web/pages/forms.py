"""The pattern of the pages' admin forms: one change in its transaction, then the page again.

A route checks the form's CSRF token, then `submit`s its change: the change runs in one
transaction and returns the notice of what it did, and the page comes back with it. When
the library refuses (a SpendledgerError the page's `refusal` names a message and a field
for) nothing is kept and the page comes back with the form as posted, the message and the
field at fault marked, status 400. A thing the route names that is not there (the page's
`missing` errors) is a 404. Any other error propagates: a bug is never shown as a refusal.

`Page` is what every such page renders with (`PageDep`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.store import Connection, Engine
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

Refusal = tuple[str, str | None]  # the message, the form field at fault (None: no one field)


@dataclass(frozen=True)
class Page:
    request: Request
    templates: Jinja2Templates
    engine: Engine
    settings: Settings
    today: date  # in the configured zone


def _page(request: Request, templates: TemplatesDep, engine: EngineDep, settings: SettingsDep) -> Page:
    return Page(request, templates, engine, settings, datetime.now(settings.tz).date())


PageDep = Annotated[Page, Depends(_page)]


def as_refused(exc: SpendledgerError) -> Refusal:
    """Any of our errors as a refusal: its message, and the field it names."""
    return str(exc), exc.field


def submit(
    engine: Engine,
    change: Callable[[Connection], str],
    *,
    done: Callable[[str], HTMLResponse],
    refused: Callable[[str, str | None], HTMLResponse] | None = None,
    refusal: Callable[[SpendledgerError], Refusal | None] = as_refused,
    missing: tuple[type[Exception], ...] = (),
) -> HTMLResponse:
    """Run `change` in its transaction: `done(notice)`; `refused(message, field)` when the
    library refuses as `refusal` says (None: not a refusal, raised); 404 for `missing`.
    Without `refused` (a removal: no form to send back) every other error is raised."""
    try:
        with engine.begin() as conn:
            notice = change(conn)
    except missing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None
    except SpendledgerError as exc:
        found = refusal(exc) if refused is not None else None
        if found is None or refused is None:
            raise
        return refused(*found)
    return done(notice)

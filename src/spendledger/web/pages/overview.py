"""GET /: the first page, "what did we spend": this month, the last 30 days and today.

Every figure comes from `queries.overview` (the same query layer as the API and CLI)
and carries its basis labels (billed / metered / manual / demo), so a metered estimate
is never mistaken for the provider's bill.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spendledger import queries
from spendledger.records import Basis
from spendledger.store.sources import list_sources
from spendledger.web.auth import PageViewer, scope_of
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

_BASIS_ORDER = [str(b) for b in Basis]


@dataclass(frozen=True)
class Window:
    label: str
    total: Decimal
    bases: list[str]
    providers: list[queries.ProviderFigure]


def windows_of(overview: queries.Overview) -> list[Window]:
    """The overview's windows with the bases that make up each total, in a fixed order."""
    out = []
    for label, (total, figures) in overview.windows.items():
        bases = {b for f in figures for b in f.bases}
        out.append(Window(label, total, [b for b in _BASIS_ORDER if b in bases], figures))
    return out


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request, settings: SettingsDep, engine: EngineDep, templates: TemplatesDep, viewer: PageViewer
) -> HTMLResponse:
    """The figures of the first page, rendered server-side, within the viewer's scope."""
    scope = scope_of(viewer.user)
    with engine.connect() as conn:
        overview = queries.overview(conn, today=datetime.now(settings.tz).date(), scope=scope)
        sources = list_sources(conn) if not scope else []  # a member sees their spend only
    last_write = overview.last_write_at.astimezone(settings.tz) if overview.last_write_at else None
    context = {
        "overview": overview,
        "windows": windows_of(overview),
        "last_write": last_write,
        "sources": sources,
        "viewer": viewer,
        "tz": settings.tz,
    }
    return templates.TemplateResponse(request, "overview.html", context)

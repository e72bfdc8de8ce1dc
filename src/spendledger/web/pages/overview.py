"""GET /: the first page, "what did we spend": this month, the last 30 days and today.

Every figure comes from `queries.overview` (the same query layer as the API and CLI)
and carries its basis labels (billed / metered / manual / demo), so a metered estimate
is never mistaken for the provider's bill.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spendledger import queries
from spendledger.alerts.budgets import window_of
from spendledger.alerts.forecast import Forecast, forecast_spend
from spendledger.exports.periods import period_of
from spendledger.records import Basis, shown_amount
from spendledger.store import Connection
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


def month_forecast(
    conn: Connection, *, today: date, scope: Mapping[str, Sequence[str]], currency: str, convert: bool = False
) -> Forecast:
    """This month's end total with its 80 % band, from the viewer's daily series (converted
    into `currency` when it is the display currency)."""
    month = window_of("monthly", today)
    forecast = forecast_spend(
        conn, start=month.start, end=month.end, today=today, scope=scope, currency=currency, convert=convert
    )
    assert forecast is not None  # today is in its own month
    return forecast


def chart_of(overview: queries.Overview) -> dict[str, object]:
    """The stacked daily chart's data: 30 days, one series per provider (cents as numbers)."""
    start, end = queries.period_range("30d", today=overview.today)
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    series = [
        {"name": provider, "data": [float(shown_amount(by_day.get(day, Decimal(0)))) for day in days]}
        for provider, by_day in sorted(overview.daily.items(), key=lambda kv: -sum(kv[1].values()))
    ]
    return {"days": days, "series": series, "currency": overview.currency}


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request,
    settings: SettingsDep,
    engine: EngineDep,
    templates: TemplatesDep,
    viewer: PageViewer,
    currency: str | None = None,
) -> HTMLResponse:
    """The figures of the first page, rendered server-side, within the viewer's scope, in the
    display currency chosen (`?currency=`, default SPENDLEDGER_CURRENCY) or as charged."""
    scope = scope_of(viewer.user)
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        display, error = chosen_currency(conn, currency or settings.currency)
        overview = queries.overview(conn, today=today, scope=scope, currency=display)
        forecast = month_forecast(
            conn, today=today, scope=scope, currency=overview.currency, convert=display is not None
        )
        sources = list_sources(conn) if not scope else []  # a member sees their spend only
        currencies = queries.display_currencies(conn)
    last_write = overview.last_write_at.astimezone(settings.tz) if overview.last_write_at else None
    context = {
        "chart": chart_of(overview),
        "forecast": forecast,
        "overview": overview,
        "windows": windows_of(overview),
        "last_write": last_write,
        "sources": sources,
        "viewer": viewer,
        "tz": settings.tz,
        "report_month": period_of("month", today).previous,  # the last whole month, for its PDF
        "currencies": currencies,
        "display": display or queries.ORIGINAL,
        "currency_error": error,
    }
    return templates.TemplateResponse(request, "overview.html", context)


def chosen_currency(conn: Connection, value: str | None) -> tuple[str | None, str | None]:
    """The display currency asked for, checked: (code or None for as charged, the error that
    sent it back to as charged)."""
    try:
        query = queries.SpendQuery(
            start=queries.FIRST_DAY, end=queries.FIRST_DAY, currency=queries.parse_display_currency(value)
        )
        return queries.check_display_currency(conn, query).currency, None
    except queries.QueryError as exc:
        return None, str(exc)

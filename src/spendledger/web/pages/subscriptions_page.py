"""/subscriptions: the seat subscriptions, what each records and which figures count; an
admin's add, seat-change, remove and view forms.

The figures are those of ingest/subscriptions.py (the CLI's `subscriptions list` and
`show`), so the page, the CLI, the JSON twin (/api/v1/subscriptions) and every report
agree. Admins and viewers read it (the figures span every scope, so members may not);
only admins change subscriptions, with the library's checks and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spendledger.errors import SpendledgerError
from spendledger.ingest.subscription_plans import CHECKED, PRESETS
from spendledger.ingest.subscriptions import (
    INTERVALS,
    VIEWS,
    Outcome,
    PeriodFigure,
    change_seats,
    covered_by,
    create_subscription,
    current_view,
    period_figures,
    remove_subscription,
    schedule,
    set_view,
)
from spendledger.queries import QueryError
from spendledger.store import Connection
from spendledger.store.subscriptions import (
    SubscriptionExistsError,
    SubscriptionRow,
    UnknownSubscriptionError,
    list_subscriptions,
    recorded,
)
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.pages import money
from spendledger.web.pages.forms import Page, PageDep, Refusal, as_refused, submit

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
ReaderViewer = Annotated[Viewer, require("admin", "viewer")]


class SubscriptionForm(BaseModel):
    """The add form as posted: strings as typed, checked by `create_subscription`."""

    name: str = ""
    plan: str = ""
    provider: str = ""
    seats: str = "1"
    price_per_seat: str = ""
    currency: str = "USD"
    interval: str = "monthly"
    billing_day: str = ""
    starts: str = ""
    ends: str = ""
    account: str = ""
    project: str = ""
    user: str = ""
    csrf_token: str | None = None

    def arguments(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "plan": self.plan.strip() or None,
            "provider": self.provider.strip() or None,
            "seats": self.seats,
            "price_per_seat": self.price_per_seat.strip() or None,
            "currency": self.currency,
            "interval": self.interval,
            "billing_day": self.billing_day.strip() or None,
            "starts": self.starts,
            "ends": self.ends.strip() or None,
            "account": self.account,
            "project": self.project,
            "user": self.user,
        }


@dataclass(frozen=True)
class Row:
    """One subscription as the page shows it."""

    subscription: SubscriptionRow
    seats_today: int
    covered_by: str | None
    records: int
    total: Decimal | None  # what it holds in the ledger
    periods: list[PeriodFigure]


def rows_of(conn: Connection, today: date) -> list[Row]:
    """Every subscription with its seats today, what it recorded and its recent periods."""
    totals = recorded(conn)
    found = []
    for s in list_subscriptions(conn):
        count, total = totals.get(s.id, (0, None))
        periods = period_figures(s, today=today)
        found.append(Row(s, schedule(s).seats_on(today), covered_by(conn, s), count, total, periods))
    return found


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(page: PageDep, viewer: ReaderViewer) -> HTMLResponse:
    return _render(page, viewer)


@router.post("/subscriptions", response_class=HTMLResponse)
def add_subscription(
    page: PageDep, viewer: AdminViewer, form: Annotated[SubscriptionForm, Form()]
) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)

    def change(conn: Connection) -> str:
        outcome = create_subscription(conn, **form.arguments(), **_when(page), actor=viewer.user.email)
        return _notices(f"Added subscription {outcome.subscription.name!r}", outcome)

    def refusal(exc: SpendledgerError) -> Refusal | None:
        if isinstance(exc, QueryError):
            return str(exc), exc.param
        return (str(exc), "name") if isinstance(exc, SubscriptionExistsError) else None

    return _submit(page, viewer, change, refusal=refusal, form=form)


@router.post("/subscriptions/view", response_class=HTMLResponse)
def change_view(
    page: PageDep,
    viewer: AdminViewer,
    view: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        set_view(conn, view, **_when(page), actor=viewer.user.email)
        return f"Subscriptions are now recorded as {_view_text(view)}."

    def refusal(exc: SpendledgerError) -> Refusal | None:
        return (str(exc), "view") if isinstance(exc, QueryError) else None

    return _submit(page, viewer, change, refusal=refusal)


@router.post("/subscriptions/{name:path}/seats", response_class=HTMLResponse)
def change_subscription_seats(
    page: PageDep,
    viewer: AdminViewer,
    name: str,
    seats: Annotated[str, Form()] = "",
    from_day: Annotated[str, Form()] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        outcome = change_seats(conn, name, seats, from_day=from_day, **_when(page), actor=viewer.user.email)
        notice = f"{outcome.subscription.name!r}: {seats.strip()} seats from {from_day.strip()}"
        return _notices(notice, outcome)

    def refusal(exc: SpendledgerError) -> Refusal | None:
        return (f"{name}: {exc}", f"seats:{name}") if isinstance(exc, QueryError) else None

    return _submit(page, viewer, change, refusal=refusal, missing=(UnknownSubscriptionError,))


@router.post("/subscriptions/{name:path}/remove", response_class=HTMLResponse)
def remove(
    page: PageDep, viewer: AdminViewer, name: str, csrf_token: Annotated[str | None, Form()] = None
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        gone = remove_subscription(conn, name, tz=page.settings.tz, actor=viewer.user.email)
        s = gone.subscription
        held = money(gone.total, s.currency)
        return f"Removed subscription {s.name!r} and its {gone.records} records ({held})."

    return _submit(page, viewer, change, missing=(UnknownSubscriptionError,))


def _submit(
    page: Page,
    viewer: Viewer,
    change: Callable[[Connection], str],
    *,
    refusal: Callable[[SpendledgerError], Refusal | None] | None = None,
    form: SubscriptionForm | None = None,
    missing: tuple[type[Exception], ...] = (),
) -> HTMLResponse:
    """`forms.submit` on this page: the notice, or the page again with the field at fault."""

    def done(notice: str) -> HTMLResponse:
        return _render(page, viewer, notices=[notice])

    def refused(error: str, field: str | None) -> HTMLResponse:
        return _render(page, viewer, form=form, error=error, error_field=field, status_code=400)

    return submit(
        page.engine,
        change,
        done=done,
        refused=refused if refusal is not None else None,
        refusal=refusal or as_refused,
        missing=missing,
    )


def _when(page: Page) -> dict[str, Any]:
    return {"tz": page.settings.tz, "today": page.today, "now": datetime.now(UTC)}


def _notices(head: str, outcome: Outcome) -> str:
    if outcome.warning:
        return f"{head}. Note: {outcome.warning}."
    w = outcome.written
    return f"{head}: {w.inserted} records written, {w.replaced} revised, {outcome.removed} removed."


def _view_text(view: str) -> str:
    return "each period's charge on its billing day" if view == "charge" else "a share on every day paid"


def _render(
    page: Page,
    viewer: Viewer,
    *,
    form: SubscriptionForm | None = None,
    notices: list[str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with page.engine.connect() as conn:
        rows = rows_of(conn, page.today)
        view = current_view(conn)
    context = {
        "viewer": viewer,
        "today": page.today,
        "rows": rows,
        "view": view,
        "views": [(v, _view_text(v)) for v in VIEWS],
        "view_text": _view_text(view),
        "form": form or SubscriptionForm(starts=page.today.isoformat()),
        "presets": PRESETS,
        "checked": CHECKED,
        "intervals": INTERVALS,
        "notices": notices or [],
        "error": error,
        "error_field": error_field,
    }
    return page.templates.TemplateResponse(
        page.request, "subscriptions.html", context, status_code=status_code
    )

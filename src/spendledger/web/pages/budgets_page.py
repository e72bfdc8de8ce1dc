"""/budgets: each budget's current window (spent, left, resets in), its period-end forecast
with a band, and its past windows; an admin's create, edit and delete forms.

The figures are `budget_status`'s (the CLI's `budgets show`) and the forecast is
`forecast_spend` over the budget's scope, basis and currency, so the page, the CLI and
every report agree. Admins and viewers read it (the figures span every scope, so members
may not); only admins change budgets, with the library's checks and messages. The form
picks a budget's alert channels among those configured (a name that is not is refused);
picking none sends its alerts to every channel, as notify.py does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spendledger.alerts.budgets import (
    BUDGET_BASES,
    BudgetError,
    BudgetStatus,
    budget_status,
    change_budget,
    create_budget,
    describe_scope,
)
from spendledger.alerts.forecast import Forecast, forecast_spend
from spendledger.errors import SpendledgerError
from spendledger.queries import QueryError
from spendledger.store import Connection, audit
from spendledger.store.budgets import (
    BudgetExistsError,
    BudgetRow,
    UnknownBudgetError,
    get_budget,
    list_budgets,
    remove_budget,
)
from spendledger.store.channels import list_channels
from spendledger.store.tables import PERIODS
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.pages.balance_views import balance_alerts
from spendledger.web.pages.forms import Page, PageDep, Refusal, submit

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
ReaderViewer = Annotated[Viewer, require("admin", "viewer")]

# a library error's parameter → the form field it is about
FIELD_OF = {"from": "start", "to": "end", "filter": "filters"}


class BudgetForm(BaseModel):
    """The create/edit form as posted: strings as typed, checked by `create_budget`."""

    name: str = ""
    amount: str = ""
    currency: str = "USD"
    period: str = "monthly"
    start: str = ""  # a custom period's first day
    end: str = ""  # and last day, included
    filters: str = ""  # DIM=VALUE, one a line
    thresholds: str = "50,80,100"
    basis: str = "best"
    channels: list[str] = []  # the channels alerts go to; none: every channel
    csrf_token: str | None = None

    @classmethod
    def of(cls, b: BudgetRow) -> BudgetForm:
        return cls(
            name=b.name,
            amount=f"{b.amount.normalize():f}",
            currency=b.currency,
            period=b.period,
            start=b.custom_start.isoformat() if b.custom_start else "",
            end=b.custom_end.isoformat() if b.custom_end else "",
            filters="\n".join(f"{dim}={v}" for dim, values in b.scope.items() for v in values),
            thresholds=",".join(str(t) for t in b.thresholds),
            basis=b.basis,
            channels=list(b.channels),
        )

    def arguments(self) -> dict[str, Any]:
        """`create_budget`'s (and `change_budget`'s) parameters, bar the name."""
        return {
            "amount": self.amount,
            "currency": self.currency,
            "period": self.period,
            "start": self.start.strip() or None,
            "end": self.end.strip() or None,
            "filters": [line.strip() for line in self.filters.splitlines() if line.strip()],
            "thresholds": self.thresholds,
            "basis": self.basis,
            "channels": self.channels,
        }


@dataclass(frozen=True)
class Card:
    """One budget as the page shows it."""

    status: BudgetStatus
    forecast: Forecast | None  # None when today is outside the (custom) window
    scale: Decimal  # the bar's 100 %: the amount, or more to fit thresholds, spend and forecast

    @property
    def budget(self) -> BudgetRow:
        return self.status.budget

    @property
    def exceeds(self) -> bool:
        return self.forecast is not None and self.forecast.projected_total > self.budget.amount

    def at(self, value: Decimal) -> str:
        """Where `value` sits on the bar, as a CSS percentage."""
        share = max(Decimal(0), min(Decimal(100), value * 100 / self.scale))
        return f"{share.quantize(Decimal('0.1'))}%"

    def mark(self, threshold: int) -> str:
        return self.at(self.budget.amount * threshold / 100)


def budget_forecast(conn: Connection, s: BudgetStatus) -> Forecast | None:
    """The window-end total of the budget's spend, as seen today (none outside its window)."""
    w, b = s.window, s.budget
    return forecast_spend(
        conn, start=w.start, end=w.end, today=s.today, filters=b.scope, basis=b.basis, currency=b.currency
    )


def _card(conn: Connection, budget: BudgetRow, today: date) -> Card:
    s = budget_status(conn, budget, today=today)
    forecast = budget_forecast(conn, s)
    top = max([budget.amount * max(budget.thresholds) / 100, budget.amount, s.spent])
    if forecast is not None:
        top = max(top, forecast.high)
    return Card(s, forecast, min(top, budget.amount * 3))


@router.get("/budgets", response_class=HTMLResponse)
def budgets_page(page: PageDep, viewer: ReaderViewer, edit: str = "", add: bool = False) -> HTMLResponse:
    """Every budget's current window, forecast and past windows; the form for admins."""
    editing = None
    if edit and viewer.user.is_admin:
        editing = _found(page, edit)
    form = BudgetForm.of(editing) if editing else BudgetForm()
    return _render(page, viewer, form=form, editing=editing, open_form=add or editing is not None)


@router.post("/budgets", response_class=HTMLResponse)
def add_budget(page: PageDep, viewer: AdminViewer, form: Annotated[BudgetForm, Form()]) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)

    def change(conn: Connection) -> str:
        check_channels(conn, form.channels)
        b = create_budget(conn, name=form.name, now=datetime.now(UTC), **form.arguments())
        audit.record(
            conn, actor=viewer.user.email, action="budget.add", what={"name": b.name, "amount": b.amount}
        )
        notice = f"Added budget {b.name!r}: {b.amount.normalize():f} {b.currency} {b.period} on "
        return notice + f"{describe_scope(b.scope)}."

    return _submit(page, viewer, change, form=form)


@router.post("/budgets/{name:path}/edit", response_class=HTMLResponse)
def edit_budget(
    page: PageDep, viewer: AdminViewer, name: str, form: Annotated[BudgetForm, Form()]
) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)
    old = _found(page, name)
    form = form.model_copy(update={"name": old.name})

    def change(conn: Connection) -> str:
        check_channels(conn, form.channels)
        change_budget(conn, old.name, now=datetime.now(UTC), **form.arguments())
        audit.record(conn, actor=viewer.user.email, action="budget.change", what={"name": old.name})
        return f"Changed budget {old.name!r}."

    return _submit(page, viewer, change, form=form, editing=old)


@router.post("/budgets/{name:path}/delete", response_class=HTMLResponse)
def delete_budget(
    page: PageDep, viewer: AdminViewer, name: str, csrf_token: Annotated[str | None, Form()] = None
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        remove_budget(conn, name)
        audit.record(conn, actor=viewer.user.email, action="budget.remove", what={"name": name})
        return f"Removed budget {name!r} (spend is untouched)."

    return _submit(page, viewer, change, missing=(UnknownBudgetError,))


def _refusal(exc: SpendledgerError) -> Refusal | None:
    """What a budget form is refused with: a parameter's message on its field, a taken name."""
    if isinstance(exc, QueryError):
        return str(exc), FIELD_OF.get(exc.param, exc.param)
    if isinstance(exc, BudgetExistsError):
        return f"name: {exc}", "name"
    return None


def _submit(
    page: Page,
    viewer: Viewer,
    change: Callable[[Connection], str],
    *,
    form: BudgetForm | None = None,
    editing: BudgetRow | None = None,
    missing: tuple[type[Exception], ...] = (),
) -> HTMLResponse:
    """`forms.submit` on this page: the notice, or the form as posted with the field at fault."""

    def refused(error: str, field: str | None) -> HTMLResponse:
        return _render(
            page, viewer, form=form, editing=editing, open_form=True, error=error, error_field=field,
            status_code=400,
        )  # fmt: skip

    def done(notice: str) -> HTMLResponse:
        return _render(page, viewer, notices=[notice])

    return submit(
        page.engine,
        change,
        done=done,
        refused=refused if form is not None else None,
        refusal=_refusal,
        missing=missing,
    )


def check_channels(conn: Connection, names: list[str]) -> None:
    """A BudgetError naming the first picked channel that is not configured."""
    known = [c.name for c in list_channels(conn)]
    for name in names:
        if name.strip() and name.strip() not in known:
            raise BudgetError(
                "channels",
                f"no channel named {name!r} (channels: {', '.join(known) or 'none yet'}); "
                "untick it, or add the channel on the Channels page first",
            )


def span(start: date, end: date, today: date) -> str:
    """ "Nov 1 – Nov 30" (one day: "Nov 30"); with the years when not all in this year."""
    same = start.year == end.year == today.year
    ends = (start,) if start == end else (start, end)
    return " – ".join(f"{d:%b} {d.day}" + ("" if same else f", {d.year}") for d in ends)


def days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


def _found(page: Page, name: str) -> BudgetRow:
    try:
        with page.engine.connect() as conn:
            return get_budget(conn, name)
    except UnknownBudgetError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def _render(
    page: Page,
    viewer: Viewer,
    *,
    form: BudgetForm | None = None,
    editing: BudgetRow | None = None,
    open_form: bool = False,
    notices: list[str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
    balance_error: str | None = None,
    balance_form: Any = None,
) -> HTMLResponse:
    with page.engine.connect() as conn:
        cards = [_card(conn, b, page.today) for b in list_budgets(conn)]
        channels = [c.name for c in list_channels(conn)]
        balance = balance_alerts(conn)
    context = {
        "viewer": viewer,
        "today": page.today,
        "cards": cards,
        "describe_scope": describe_scope,
        "span": span,
        "days": days,
        "form": form or BudgetForm(),
        "editing": editing,
        "open_form": open_form,
        "periods": PERIODS,
        "bases": BUDGET_BASES,
        "channels": channels,
        "notices": notices or [],
        "error": error,
        "error_field": error_field,
        "balance": balance,  # the balance alerts' section (balance_alerts.py posts its form)
        "balance_error": balance_error,
        "balance_form": balance_form,
    }
    return page.templates.TemplateResponse(page.request, "budgets.html", context, status_code=status_code)


render_budgets = _render  # the page, as the balance alerts' routes answer with it

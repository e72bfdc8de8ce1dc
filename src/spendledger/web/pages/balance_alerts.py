"""The balance alerts on /budgets: "alert when a source's balance drops below X", with each
rule's source's latest balance; an admin adds and removes them.

The same library calls and messages as `spendledger balances alert ...` (alerts/balance.py);
the rules' alerts are raised by every evaluation and sent like budgets' (alerts/delivery.py).
Only sources whose balance has been read are offered (balance-only sources, once synced).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spendledger.alerts.balance import create_rule
from spendledger.errors import SpendledgerError
from spendledger.queries import QueryError
from spendledger.store import Connection
from spendledger.store.balances import BalanceRuleExistsError, UnknownBalanceRuleError, remove_rule
from spendledger.store.sources import UnknownSourceError
from spendledger.web.auth import check_csrf
from spendledger.web.pages.budgets_page import AdminViewer, render_budgets
from spendledger.web.pages.forms import PageDep, Refusal, submit

router = APIRouter(include_in_schema=False)


class RuleForm(BaseModel):
    name: str = ""
    source: str = ""
    below: str = ""
    currency: str = ""
    channels: list[str] = []
    csrf_token: str | None = None


@router.post("/balance-alerts", response_class=HTMLResponse)
def add_balance_alert(page: PageDep, viewer: AdminViewer, form: Annotated[RuleForm, Form()]) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)

    def change(conn: Connection) -> str:
        rule = create_rule(
            conn,
            name=form.name,
            source=form.source,
            below=form.below,
            currency=form.currency,
            channels=form.channels,
            now=datetime.now(UTC),
        )
        notice = (
            f"Added balance alert {rule.name!r}: when {rule.source}'s {rule.currency} balance drops below "
        )
        return notice + f"{rule.below.normalize():f}."

    return submit(
        page.engine,
        change,
        done=lambda notice: render_budgets(page, viewer, notices=[notice]),
        refused=lambda error, _field: render_budgets(
            page, viewer, balance_error=error, balance_form=form, status_code=400
        ),
        refusal=_refusal,
    )


@router.post("/balance-alerts/{name:path}/delete", response_class=HTMLResponse)
def delete_balance_alert(
    page: PageDep, viewer: AdminViewer, name: str, csrf_token: Annotated[str | None, Form()] = None
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        remove_rule(conn, name)
        return f"Removed balance alert {name!r}."

    return submit(
        page.engine,
        change,
        done=lambda notice: render_budgets(page, viewer, notices=[notice]),
        missing=(UnknownBalanceRuleError,),
    )


def _refusal(exc: SpendledgerError) -> Refusal | None:
    refused = isinstance(exc, QueryError | BalanceRuleExistsError | UnknownSourceError)
    return (str(exc), None) if refused else None

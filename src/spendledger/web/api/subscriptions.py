"""GET and POST /api/v1/subscriptions: the JSON twin of /subscriptions.

GET lists every seat subscription with its periods, what it recorded and which figures
count (the page's `rows_of`); admins and viewers read it, as the page, and so does an API
token. POST defines a whole subscription (created, or replacing the one of that name,
seat changes included), idempotent: the same body twice changes nothing. Admins or an
API token only. A parameter the library refuses answers 400 naming it (`param`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter

from spendledger.ingest.subscriptions import current_view, define_subscription
from spendledger.records import format_money
from spendledger.web.api.schemas import (
    ErrorPublic,
    SeatChangeIn,
    SubscriptionIn,
    SubscriptionPeriodPublic,
    SubscriptionPublic,
    SubscriptionResultPublic,
    SubscriptionsPublic,
)
from spendledger.web.auth import Reader, api_require
from spendledger.web.deps import EngineDep, SettingsDep
from spendledger.web.pages.subscriptions_page import Row, rows_of

router = APIRouter(tags=["subscriptions"])

ReaderOfAll = Annotated[Reader, api_require("admin", "viewer")]
Admin = Annotated[Reader, api_require("admin")]
_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic},
    403: {"model": ErrorPublic, "description": "a member (GET), or not an admin (POST)"},
}


@router.get("/subscriptions", response_model=SubscriptionsPublic, responses=_REFUSED)
def get_subscriptions(settings: SettingsDep, engine: EngineDep, _reader: ReaderOfAll) -> SubscriptionsPublic:
    """Every subscription by name: seats, price, periods, what it recorded, which figures count."""
    today = datetime.now(settings.tz).date()
    with engine.connect() as conn:
        rows = rows_of(conn, today)
        view = current_view(conn)
    return SubscriptionsPublic(today=today, view=view, subscriptions=[_public(r) for r in rows])


@router.post(
    "/subscriptions",
    response_model=SubscriptionResultPublic,
    responses={**_REFUSED, 400: {"model": ErrorPublic, "description": "a field the ledger refuses, named"}},
)
def post_subscription(
    body: SubscriptionIn, settings: SettingsDep, engine: EngineDep, reader: Admin
) -> SubscriptionResultPublic:
    """Create or replace a subscription and write its records up to today."""
    now = datetime.now(UTC)
    today = now.astimezone(settings.tz).date()
    with engine.begin() as conn:
        outcome, created = define_subscription(
            conn, name=body.name, seats=body.seats, starts=body.starts, provider=body.provider,
            plan=body.plan, price_per_seat=body.price_per_seat, currency=body.currency,
            interval=body.interval, billing_day=body.billing_day, ends=body.ends, account=body.account,
            project=body.project,
            user=body.user, seat_changes=[(c.from_day, c.seats) for c in body.seat_changes],
            tz=settings.tz, today=today, now=now, actor=_actor(reader),
        )  # fmt: skip
        (row,) = [r for r in rows_of(conn, today) if r.subscription.id == outcome.subscription.id]
    return SubscriptionResultPublic(
        created=created,
        records_written=outcome.written.inserted,
        records_revised=outcome.written.replaced,
        records_removed=outcome.removed,
        warning=outcome.warning,
        subscription=_public(row),
    )


def _public(row: Row) -> SubscriptionPublic:
    s = row.subscription
    return SubscriptionPublic(
        name=s.name,
        provider=s.provider,
        plan=s.plan,
        account=s.account,
        project=s.project,
        user=s.user,
        seats=row.seats_today,
        seat_changes=[SeatChangeIn.model_validate({"from": d, "seats": n}) for d, n in s.seats],
        price_per_seat=format_money(s.price),
        currency=s.currency,
        interval=s.interval,
        billing_day=s.billing_day,
        starts=s.starts,
        ends=s.ends,
        counted="covered" if row.covered_by else "subscription",
        covered_by=row.covered_by,
        recorded=format_money(row.total if row.total is not None else Decimal(0)),
        records=row.records,
        periods=[
            SubscriptionPeriodPublic(
                start=p.start,
                end=p.end,
                first=p.first,
                last=p.last,
                seats=p.seats,
                cost=format_money(p.amount),
            )
            for p in row.periods
        ],
    )


def _actor(reader: Reader) -> str:
    """Who changes a subscription through the API, for the audit log."""
    if reader.token is not None:
        return f"token:{reader.token}"
    return reader.user.email if reader.user is not None else "session"

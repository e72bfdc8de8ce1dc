"""Recurring seat subscriptions → manual records in the ledger.

A subscription (ChatGPT Business seats, Claude Team, Cursor, Perplexity Pro...) is a
definition: seats × price per seat each billing period, from `starts` to `ends`, with
dated seat changes. Its money reaches the ledger as manual records of source
"subscriptions" (basis manual, pricing status provider), computed by seat_periods.py and
(re)written whenever the subscription changes, on every scheduler round and by
`spendledger subscriptions sync`, up to today: idempotent (a second run changes nothing),
and a removed subscription takes its records with it.

One money, two shapes, one choice for the whole ledger (`VIEWS`, stored in ledger_meta,
`spendledger subscriptions view`): `charge` records each period's charge on its billing
day (and a prorated line per seat change), as the invoice reads; `spread` records a
share on every day paid, so daily charts are not spiky. Only one shape is ever stored,
so every total (reports, pages, API, budgets, exports) counts the money once and agrees;
switching rewrites the records. Per period both shapes sum to the same nano-units.

No double counting with a billing connector: a source type that syncs seat charges
(`SEAT_SOURCES`: the github-copilot source's `seats` lines) covers the subscriptions of
its provider and account (a subscription without an account: any of that provider's).
A covered subscription is "covered by source X": it writes no records (those it wrote
are removed) and says so wherever it is shown; the source's billed figures count.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from spendledger.ingest import seat_periods
from spendledger.ingest.subscription_plans import PRESETS, Preset, preset
from spendledger.model_names import canonical_provider, canonicalise
from spendledger.queries import QueryError
from spendledger.records import Basis, PricingStatus, UsageRecord, from_nanos, to_nanos
from spendledger.store import Connection, Engine, audit
from spendledger.store import subscriptions as store
from spendledger.store.ledger import WriteResult, get_meta, set_meta
from spendledger.store.sources import list_sources
from spendledger.store.subscriptions import SOURCE, SubscriptionRow
from spendledger.store.tables import DIM

VIEWS: tuple[str, ...] = ("charge", "spread")
DEFAULT_VIEW = "charge"
INTERVALS: tuple[str, ...] = tuple(seat_periods.INTERVAL_MONTHS)
# source type → the provider whose seat charges it syncs (its records' provider)
SEAT_SOURCES: dict[str, str] = {"github-copilot": "github-copilot"}
EARLIEST_START = date(2015, 1, 1)  # long before any LLM seat; keeps a regeneration small
LATEST_DAY = date(2099, 12, 31)
MAX_SEATS = 100_000
MAX_PRICE = Decimal(1_000_000)  # per seat and interval
MAX_PERIOD = Decimal(100_000_000)  # seats × price: a period's charge stays far inside the ledger's integers


class SubscriptionError(QueryError):
    """A subscription parameter the caller got wrong; the message names it and what to send."""


@dataclass(frozen=True)
class Outcome:
    """What (re)writing one subscription's records did."""

    subscription: SubscriptionRow
    covered_by: str | None  # the billing source whose figures count instead
    removed: int = 0
    written: WriteResult = field(default_factory=WriteResult)
    total: Decimal = Decimal(0)  # what its records in the ledger add up to now

    @property
    def changed(self) -> bool:
        return bool(self.removed or self.written.inserted or self.written.replaced)

    @property
    def warning(self) -> str | None:
        if self.covered_by is None:
            return None
        s = self.subscription
        return (
            f"{s.name!r} is covered by source {self.covered_by!r}, which syncs {s.provider} seat charges "
            f"{'for account ' + repr(s.account) if s.account else 'for that provider'}: its billed figures "
            "count, and this subscription records nothing (no double counting)"
        )


# ---- checking what the caller sent -----------------------------------------------------------


def _text(param: str, value: Any, *, limit: int = DIM) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        raise SubscriptionError(param, f"{len(text)} characters; at most {limit}")
    if any(ord(c) < 32 or ord(c) == 127 or 0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise SubscriptionError(param, "control characters are not allowed; send plain text")
    return text


def _day(param: str, value: date | str) -> date:
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            raise SubscriptionError(param, f"{str(value)[:40]!r} is not a date; send YYYY-MM-DD") from None
    if not EARLIEST_START <= day <= LATEST_DAY:
        raise SubscriptionError(param, f"{day} is outside {EARLIEST_START} to {LATEST_DAY}")
    return day


def _whole(param: str, value: int | str, what: str) -> int:
    try:
        return value if isinstance(value, int) else int(str(value).strip())
    except ValueError:
        raise SubscriptionError(param, f"{str(value)[:40]!r} is not a whole number of {what}") from None


def _seats(param: str, value: int | str, *, least: int) -> int:
    count = _whole(param, value, "seats")
    if not least <= count <= MAX_SEATS:
        raise SubscriptionError(param, f"{count}: seats are {least} to {MAX_SEATS:,}")
    return count


def _price(value: Decimal | str) -> Decimal:
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise SubscriptionError(
            "price_per_seat", f"{str(value)[:40]!r} is not an amount; send e.g. 30 or 19.99"
        ) from None
    if not price.is_finite() or not 0 <= price <= MAX_PRICE:
        raise SubscriptionError("price_per_seat", f"{value!s:.40}: send an amount from 0 to {MAX_PRICE:,}")
    return from_nanos(to_nanos(price))


def _choice(param: str, value: str, allowed: Sequence[str]) -> str:
    chosen = str(value).strip().lower()
    if chosen not in allowed:
        raise SubscriptionError(param, f"{str(value)[:40]!r} is not one of {', '.join(allowed)}")
    return chosen


def _plan(name: str | None) -> Preset | None:
    if not name or not str(name).strip():
        return None
    found = preset(str(name))
    if found is None:
        known = ", ".join(p.name for p in PRESETS)
        raise SubscriptionError("plan", f"{str(name)[:60]!r} is not a shipped plan; plans: {known}")
    return found


def _checked(
    *,
    seats: int | str,
    starts: date | str,
    provider: str | None,
    price_per_seat: Decimal | str | None,
    currency: str | None,
    billing_day: int | str | None,
    interval: str,
    ends: date | str | None,
    account: str,
    project: str,
    user: str,
    plan: str | None,
    seat_changes: Iterable[tuple[date | str, int | str]],
) -> dict[str, Any]:
    """The store's fields of a subscription, each parameter checked (a SubscriptionError names
    the wrong one); a preset fills the provider and the price the caller leaves out."""
    preset_ = _plan(plan)
    interval = _choice("interval", interval, INTERVALS)
    provider = canonical_provider(_text("provider", provider or (preset_.provider if preset_ else "")))
    if not provider:
        raise SubscriptionError("provider", "give the provider billing it (e.g. openai), or a --plan")
    if price_per_seat is None or (isinstance(price_per_seat, str) and not price_per_seat.strip()):
        listed = preset_.price(interval) if preset_ else None
        if listed is None:
            raise SubscriptionError("price_per_seat", _no_price(preset_, interval))
        price = listed
    else:
        price = _price(price_per_seat)
    cur = _text("currency", currency or "USD").upper()
    if len(cur) != 3 or not cur.isalpha() or not cur.isascii():
        raise SubscriptionError("currency", f"{cur[:20]!r} is not a currency code (e.g. USD, EUR)")
    first = _day("starts", starts)
    last = None if ends is None or (isinstance(ends, str) and not ends.strip()) else _day("ends", ends)
    if last is not None and last < first:
        raise SubscriptionError("ends", f"{last} is before the start, {first}")
    if billing_day is None or (isinstance(billing_day, str) and not billing_day.strip()):
        day = first.day
    else:
        day = _whole("billing_day", billing_day, "days")
        if not 1 <= day <= 31:
            raise SubscriptionError("billing_day", f"{day}: a billing day is 1 to 31")
    counts = {first: _seats("seats", seats, least=1)}
    for when, count in seat_changes:
        on = _day("from", when)
        if on < first or (last is not None and on > last):
            raise SubscriptionError("from", f"{on} is outside the subscription ({first} to {last or 'open'})")
        counts[on] = _seats("seats", count, least=0)
    if max(counts.values()) * price > MAX_PERIOD:
        raise SubscriptionError("seats", f"seats × price per seat exceeds {MAX_PERIOD:,} a period")
    return {
        "provider": provider,
        "plan": preset_.name if preset_ else "",
        "price": price,
        "currency": cur,
        "interval": interval,
        "billing_day": day,
        "starts": first,
        "ends": last,
        "account": _text("account", account),
        "project": _text("project", project),
        "user": _text("user", user),
        "seats": sorted(counts.items()),
    }


def _no_price(plan: Preset | None, interval: str) -> str:
    if plan is None:
        return "send --price-per-seat, one seat's price per interval (e.g. 30), or a --plan that lists one"
    if not plan.prices:
        return f"plan {plan.name} has no public price ({plan.source}); send --price-per-seat, what you pay"
    listed = ", ".join(f"{i} {p.normalize():f}" for i, p in plan.prices.items())
    return f"plan {plan.name} lists no {interval} price (it lists {listed}); send --price-per-seat"


def _name(name: str) -> str:
    checked = _text("name", name)
    if not checked:
        raise SubscriptionError("name", f"a subscription's name is 1 to {DIM} characters")
    return checked


# ---- defining and changing subscriptions --------------------------------------------------------


def create_subscription(
    conn: Connection,
    *,
    name: str,
    seats: int | str,
    starts: date | str,
    tz: ZoneInfo,
    today: date,
    now: datetime,
    provider: str | None = None,
    price_per_seat: Decimal | str | None = None,
    currency: str | None = None,
    billing_day: int | str | None = None,
    interval: str = "monthly",
    ends: date | str | None = None,
    account: str = "",
    project: str = "",
    user: str = "",
    plan: str | None = None,
    seat_changes: Iterable[tuple[date | str, int | str]] = (),
    actor: str = "library",
) -> Outcome:
    """Store a new subscription and write its records up to `today`."""
    fields = _checked(
        seats=seats, starts=starts, provider=provider, price_per_seat=price_per_seat, currency=currency,
        billing_day=billing_day, interval=interval, ends=ends, account=account, project=project, user=user,
        plan=plan, seat_changes=seat_changes,
    )  # fmt: skip
    row = store.add_subscription(conn, name=_name(name), now=now, **fields)
    outcome = regenerate(conn, row, tz=tz, today=today, now=now)
    audit.record(
        conn, actor=actor, action="subscription.add", what=_audited(row), amount=_money(row, outcome)
    )
    return outcome


def define_subscription(
    conn: Connection,
    *,
    name: str,
    seats: int | str,
    starts: date | str,
    tz: ZoneInfo,
    today: date,
    now: datetime,
    actor: str = "library",
    **options: Any,
) -> tuple[Outcome, bool]:
    """Create the subscription `name`, or replace its whole definition (seat changes
    included) when it exists: sending the same definition twice changes nothing.
    Returns the outcome and whether it was created."""
    fields = _checked(seats=seats, starts=starts, **_defaults(options))
    name = _name(name)
    existing = {s.name for s in store.list_subscriptions(conn)}
    if name in existing:
        row = store.update_subscription(conn, name, **fields)
    else:
        row = store.add_subscription(conn, name=name, now=now, **fields)
    outcome = regenerate(conn, row, tz=tz, today=today, now=now)
    if name not in existing or outcome.changed:
        action = "subscription.add" if name not in existing else "subscription.change"
        audit.record(conn, actor=actor, action=action, what=_audited(row), amount=_money(row, outcome))
    return outcome, name not in existing


def _defaults(options: dict[str, Any]) -> dict[str, Any]:
    allowed = {
        "provider": None, "price_per_seat": None, "currency": None, "billing_day": None,
        "interval": "monthly", "ends": None, "account": "", "project": "", "user": "", "plan": None,
        "seat_changes": (),
    }  # fmt: skip
    unknown = set(options) - set(allowed)
    if unknown:
        raise TypeError(f"unknown subscription options: {', '.join(sorted(unknown))}")
    return {**allowed, **options}


def change_seats(
    conn: Connection,
    name: str,
    seats: int | str,
    *,
    from_day: date | str,
    tz: ZoneInfo,
    today: date,
    now: datetime,
    actor: str = "library",
) -> Outcome:
    """From `from_day` on, the subscription pays for `seats` seats (0 pauses it); the
    periods it touches are rewritten (a mid-period change is prorated by the day)."""
    row = store.get_subscription(conn, name)
    counts = dict(row.seats)
    counts[_day("from", from_day)] = _seats("seats", seats, least=0)
    initial = counts.pop(row.starts, 1)
    fields = _checked(
        seats=initial, starts=row.starts, provider=row.provider, price_per_seat=row.price,
        currency=row.currency, billing_day=row.billing_day, interval=row.interval, ends=row.ends,
        account=row.account, project=row.project, user=row.user, plan=row.plan or None,
        seat_changes=list(counts.items()),
    )  # fmt: skip
    row = store.update_subscription(conn, row.name, **fields)
    outcome = regenerate(conn, row, tz=tz, today=today, now=now)
    audit.record(
        conn,
        actor=actor,
        action="subscription.seats",
        what={"name": row.name, "seats": str(seats), "from": str(from_day)},
        amount=_money(row, outcome),
    )
    return outcome


def _audited(row: SubscriptionRow) -> dict[str, Any]:
    """What the audit log keeps of a subscription."""
    seats = [[day.isoformat(), count] for day, count in row.seats]
    return {"name": row.name, "provider": row.provider, "seats": seats, "price_per_seat": row.price}


def _money(row: SubscriptionRow, outcome: Outcome) -> dict[str, Decimal]:
    return {row.currency: outcome.total}


@dataclass(frozen=True)
class Removal:
    subscription: SubscriptionRow
    records: int  # how many records went with it
    total: Decimal  # what they added up to


def remove_subscription(conn: Connection, name: str, *, tz: ZoneInfo, actor: str = "library") -> Removal:
    """Remove the subscription and every record it wrote."""
    row = store.get_subscription(conn, name)
    _, total = store.recorded(conn).get(row.id, (0, Decimal(0)))
    removed, _ = store.replace_records(conn, row.id, [], tz=tz)
    store.remove_subscription_row(conn, name)
    audit.record(
        conn, actor=actor, action="subscription.remove", what=_audited(row), amount={row.currency: -total}
    )
    return Removal(row, removed, total)


# ---- writing the records ----------------------------------------------------------------------


def current_view(conn: Connection) -> str:
    """How subscriptions are recorded: `charge` or `spread` (see the module's docstring)."""
    stored = store.get_view(conn)
    return stored if stored in VIEWS else DEFAULT_VIEW


def set_view(
    conn: Connection, view: str, *, tz: ZoneInfo, today: date, now: datetime, actor: str = "library"
) -> list[Outcome]:
    """Record every subscription as `view` from now on, rewriting what is stored."""
    store.set_view(conn, _choice("view", view, VIEWS))
    outcomes = sync_subscriptions(conn, tz=tz, today=today, now=now)
    audit.record(conn, actor=actor, action="subscriptions.view", what={"view": view})
    return outcomes


def covered_by(conn: Connection, s: SubscriptionRow) -> str | None:
    """The billing source that syncs this subscription's seat charges, if one is configured."""
    for source in list_sources(conn):
        if SEAT_SOURCES.get(source.provider) != s.provider:
            continue
        account = source.options.get("account") or source.name  # as the source names its records
        if not s.account or s.account == account:
            return source.name
    return None


def schedule(s: SubscriptionRow) -> seat_periods.Schedule:
    return seat_periods.Schedule(
        price_nanos=to_nanos(s.price),
        interval=s.interval,
        billing_day=s.billing_day,
        starts=s.starts,
        ends=s.ends,
        seats=s.seats,
    )


def lines(s: SubscriptionRow, *, view: str, today: date) -> list[seat_periods.Line]:
    plan = schedule(s)
    return seat_periods.spread(plan, today) if view == "spread" else seat_periods.charges(plan, today)


def records_of(s: SubscriptionRow, *, view: str, today: date, tz: ZoneInfo) -> list[UsageRecord]:
    """The manual records of the subscription up to `today`, in `view`'s shape."""
    found = []
    for line in lines(s, view=view, today=today):
        start = datetime.combine(line.day, time(), tz)
        record = UsageRecord(
            key=f"{s.key_prefix}{line.kind}|{line.day.isoformat()}",
            source=SOURCE,
            basis=Basis.MANUAL,
            start=start,
            end=datetime.combine(line.day + seat_periods.DAY, time(), tz),
            provider=s.provider,
            account=s.account,
            project=s.project,
            user=s.user,
            tags={
                "subscription": s.name,
                "plan": s.plan,
                "kind": line.kind,
                "seats": line.seats,
                "price_per_seat": f"{s.price.normalize():f}",
                "interval": s.interval,
                "period": f"{line.period.start.isoformat()}/{line.period.end.isoformat()}",
            },
            requests=0,
            cost=from_nanos(line.nanos),
            currency=s.currency,
            pricing_status=PricingStatus.PROVIDER,
            price_source="subscription",
        )
        canonicalise(record)
        found.append(record)
    return found


def regenerate(
    conn: Connection, s: SubscriptionRow, *, tz: ZoneInfo, today: date, now: datetime, view: str | None = None
) -> Outcome:
    """Make the ledger hold exactly the subscription's records up to `today` (none when a
    billing source covers it); idempotent."""
    source = covered_by(conn, s)
    wanted = [] if source else records_of(s, view=view or current_view(conn), today=today, tz=tz)
    removed, written = store.replace_records(conn, s.id, wanted, tz=tz, now=now)
    return Outcome(s, source, removed, written, sum((r.cost or Decimal(0) for r in wanted), Decimal(0)))


def sync_subscriptions(conn: Connection, *, tz: ZoneInfo, today: date, now: datetime) -> list[Outcome]:
    """Bring every subscription's records up to `today` (the scheduler's round does this)."""
    view = current_view(conn)
    return [
        regenerate(conn, s, tz=tz, today=today, now=now, view=view) for s in store.list_subscriptions(conn)
    ]


@dataclass(frozen=True)
class PeriodFigure:
    """One billing period as `show` and the page list it."""

    start: date
    end: date  # excluded
    first: date
    last: date
    seats: str  # "12", or "12 → 15" when it changed within the period
    amount: Decimal  # what the whole period costs (its days paid)


def period_figures(s: SubscriptionRow, *, today: date, limit: int = 12) -> list[PeriodFigure]:
    """The subscription's periods up to today's, most recent first (at most `limit`)."""
    plan = schedule(s)
    found = []
    for p in seat_periods.periods(plan, today):
        held = [plan.seats_on(p.first)] + [n for d, n in s.seats if p.first < d <= p.last]
        seats = " → ".join(str(n) for n in held)
        amount = from_nanos(seat_periods.period_nanos(plan, p))
        found.append(PeriodFigure(p.start, p.end, p.first, p.last, seats, amount))
    return found[::-1][:limit]


_ROUND_STAMP = "subscriptions_round"  # ledger_meta: what the last scheduler round wrote for


def sync_in_round(engine: Engine, *, tz: ZoneInfo, now: datetime) -> list[Outcome] | None:
    """The scheduler's step: every subscription's records up to today, when a new day or a
    change of the seat-billing sources may have changed them (None: nothing to do). A
    change to a subscription itself rewrites its records at once, not here."""
    today = now.astimezone(tz).date()
    with engine.begin() as conn:
        seat_sources = sorted(s.name for s in list_sources(conn) if s.provider in SEAT_SOURCES)
        stamp = f"{today.isoformat()}|{current_view(conn)}|{','.join(seat_sources)}"
        if get_meta(conn, _ROUND_STAMP) == stamp:
            return None
        outcomes = sync_subscriptions(conn, tz=tz, today=today, now=now)
        set_meta(conn, _ROUND_STAMP, stamp)
    return outcomes

"""A seat subscription's billing periods, and the amounts each day of them costs.

Pure arithmetic on integer nano-units, no storage: ingest/subscriptions.py turns the
`Line`s into records. The rules (README, "Seat subscriptions"):

- Periods run from billing day to billing day: every month (monthly) or every year in
  the month the subscription starts (annual). A billing day past a month's end falls on
  its last day (31 → Feb 28). The period holding `starts` is the first; when `starts`
  is not a billing day, only its days from `starts` on are paid (prorated).
- A period costs, for each day paid, the seats held that day × price per seat ÷ the
  days in the period. So a full period at one seat count costs seats × price, and a
  seat change mid-period is prorated by the day both ways (more seats: an extra charge;
  fewer: a credit), as Claude Team, Cursor and Google bill it. (ChatGPT Business charges
  a reduction only from the next period: date such a change on the next billing day.)
  The days after `ends` are not paid: the last period is prorated too.
- Two ways to record the same money (`charges`, `spread`): the period's charge on its
  first paid day (with a prorated line on the day of each seat change), or a share on
  every day paid. Both sum, per period, to exactly the same nano-units: amounts are
  rounded on running totals (half to even), never one by one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

INTERVAL_MONTHS = {"monthly": 1, "annual": 12}
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Schedule:
    """What the arithmetic needs of a subscription."""

    price_nanos: int  # per seat and interval
    interval: str  # monthly | annual
    billing_day: int  # 1..31
    starts: date
    ends: date | None  # the last day paid, included
    seats: Sequence[tuple[date, int]]  # (from day, seats) by day; the first is `starts`

    def seats_on(self, day: date) -> int:
        held = 0
        for start, count in self.seats:
            if start > day:
                break
            held = count
        return held


@dataclass(frozen=True)
class Period:
    start: date  # the billing day that opens it
    end: date  # the next billing day (excluded)
    first: date  # the first day paid: `start`, or the subscription's start
    last: date  # the last day paid, included: the day before `end`, or the subscription's end

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class Line:
    """An amount the ledger records on `day`: a period's charge, a seat change's
    prorated difference, or one day's share of the period."""

    day: date
    kind: str  # charge | change | spread
    period: Period
    seats: int  # held from `day` on
    nanos: int


def billing_date(year: int, month: int, billing_day: int) -> date:
    """The billing day of a month, the month's last day when it has fewer days."""
    last = (date(year + month // 12, month % 12 + 1, 1) - DAY).day
    return date(year, month, min(billing_day, last))


def _shift(day: date, months: int, billing_day: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return billing_date(index // 12, index % 12 + 1, billing_day)


def periods(s: Schedule, until: date) -> Iterator[Period]:
    """The periods with a day paid on or before `until`, in order."""
    step = INTERVAL_MONTHS[s.interval]
    start = billing_date(s.starts.year, s.starts.month, s.billing_day)
    if start > s.starts:
        start = _shift(start, -step, s.billing_day)
    while start <= until and (s.ends is None or start <= s.ends):
        end = _shift(start, step, s.billing_day)
        first = max(start, s.starts)
        last = end - DAY if s.ends is None else min(end - DAY, s.ends)
        if first <= last:
            yield Period(start, end, first, last)
        start = end


def _rounded(seat_days: int, price_nanos: int, days: int) -> int:
    return round(Fraction(seat_days * price_nanos, days))


def period_nanos(s: Schedule, p: Period) -> int:
    """What the period costs in all (its days paid, whatever today is)."""
    seat_days = sum(s.seats_on(p.first + i * DAY) for i in range((p.last - p.first).days + 1))
    return _rounded(seat_days, s.price_nanos, p.days)


def charges(s: Schedule, until: date) -> list[Line]:
    """Each period's charge on its first paid day and a prorated line on each seat change's
    day (the seats added or removed × the days left paid), up to `until`; zeros left out."""
    lines: list[Line] = []
    for p in periods(s, until):
        changes = [(day, n) for day, n in s.seats if p.first < day <= p.last]
        held = s.seats_on(p.first)
        seat_days = held * ((p.last - p.first).days + 1)
        running = _rounded(seat_days, s.price_nanos, p.days)
        if p.first <= until and running:
            lines.append(Line(p.first, "charge", p, held, running))
        for day, count in changes:
            seat_days += (count - held) * ((p.last - day).days + 1)
            held = count
            total = _rounded(seat_days, s.price_nanos, p.days)
            if day <= until and total != running:
                lines.append(Line(day, "change", p, count, total - running))
            running = total
    return lines


def spread(s: Schedule, until: date) -> list[Line]:
    """Each paid day's share of its period, up to `until`; zeros left out."""
    lines: list[Line] = []
    for p in periods(s, until):
        seat_days = running = 0
        day = p.first
        while day <= min(p.last, until):
            held = s.seats_on(day)
            seat_days += held
            total = _rounded(seat_days, s.price_nanos, p.days)
            if total != running:
                lines.append(Line(day, "spread", p, held, total - running))
            running = total
            day += DAY
    return lines

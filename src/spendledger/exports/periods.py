"""The periods a report or a digest covers: a calendar month ("2026-11") or an ISO week
("2026-W47", Monday to Sunday), as local days of the configured zone, both ends included.

A period's key is what the command line, the download URL and the digest log name it by;
`previous` is the period just before, which a report compares against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from spendledger.queries import FIRST_DAY, LAST_DAY, QueryError

KINDS: tuple[str, ...] = ("month", "week")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")


@dataclass(frozen=True)
class Period:
    kind: str  # month | week
    start: date  # the first local day
    end: date  # the last local day, included

    @property
    def key(self) -> str:
        """ "2026-11" or "2026-W47"."""
        if self.kind == "month":
            return f"{self.start:%Y-%m}"
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"

    @property
    def label(self) -> str:
        """ "November 2026" or "Week 47 of 2026 (16 Nov – 22 Nov)"."""
        if self.kind == "month":
            return f"{self.start:%B %Y}"
        year, week, _ = self.start.isocalendar()
        return f"Week {week} of {year} ({self.start.day} {self.start:%b} – {self.end.day} {self.end:%b})"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))

    @property
    def next(self) -> Period:
        return period_of(self.kind, self.end + timedelta(days=1))


def period_of(kind: str, day: date) -> Period:
    """The month or ISO week that holds `day`."""
    if kind == "month":
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return Period("month", day.replace(day=1), following - timedelta(days=1))
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    raise QueryError("period", f"{kind!r} is not one of {', '.join(KINDS)}")


def last_complete(kind: str, today: date) -> Period:
    """The last month or week that ended before `today`."""
    return period_of(kind, today).previous


def parse_period(key: str, *, kind: str | None = None) -> Period:
    """The period a key names: "2026-11" (a month) or "2026-W47" (an ISO week); `kind`, when
    given, is the only kind accepted (the error names it as the parameter)."""
    text = key.strip()
    param = kind or "period"
    if kind in (None, "month") and (found := _MONTH.fullmatch(text)):
        year, month = int(found.group(1)), int(found.group(2))
        if 1 <= month <= 12:
            return _within(param, period_of("month", date(year, month, 1)))
    if kind in (None, "week") and (found := _WEEK.fullmatch(text)):
        year, week = int(found.group(1)), int(found.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            pass
        else:
            return _within(param, period_of("week", monday))
    shown = text if len(text) <= 40 else text[:37] + "..."
    examples = {"month": "YYYY-MM, e.g. 2026-11", "week": "YYYY-Www, e.g. 2026-W47"}
    wanted = examples[kind] if kind else f"{examples['month']}, or {examples['week']}"
    raise QueryError(param, f"{shown!r} is not a {kind or 'month or week'}: write {wanted}")


def _within(param: str, period: Period) -> Period:
    if period.start < FIRST_DAY or period.end > LAST_DAY:
        raise QueryError(
            param, f"{period.key} is outside the days the ledger holds ({FIRST_DAY:%Y} to {LAST_DAY:%Y})"
        )
    return period

"""Spend that jumped: a day's cost per provider, project, model, user and API key against
a robust, weekday-aware baseline, with the driver named in words and figures.

For each value of each dimension, the usual spend of a day is the median of the same
weekday over the previous four weeks, blended with the median of the previous two weeks
(a weekday pattern without being thrown by one odd week); the spread is the median
absolute deviation of the previous four weeks (×1.4826, floored). A day is an anomaly
when it is over the usual by more than `sigmas` spreads *and* by at least `min_jump` of
money: a $0.02 key going to $0.20 is not news. A jump is reported once, on its first
day: a day no higher (by a spread) than one of the week before continues an episode
already reported — a three-day spike or a new level is one anomaly, not one a day.

The driver is the value of another dimension that explains most of the jump (a user, a
key, a project, a model), and the likely cause what the ledger can see: a key or model
with no history, a cache-hit rate that fell, requests that rose rather than tokens per
request (or the reverse). Everything is read through `queries.spend`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median

from spendledger.queries import Granularity, SpendQuery, SpendRow, restrict, spend
from spendledger.records import display_money
from spendledger.store import Connection

DIMENSIONS: tuple[str, ...] = ("provider", "project", "model", "user", "api_key_id")
LABELS = {
    "provider": "provider",
    "project": "project",
    "model": "model",
    "user": "user",
    "api_key_id": "API key",
}
WEEKS = 4
EPISODE_DAYS = 7  # a jump is news once: on its first day, not on each day it lasts
MAD_SCALE = 1.4826  # the MAD of a normal distribution's sample → its standard deviation


@dataclass(frozen=True)
class Anomaly:
    day: date
    dimension: str
    value: str
    spent: Decimal
    usual: Decimal
    spread: Decimal
    currency: str
    driver: str | None = None  # "user u_17"
    driver_share: int | None = None  # % of the jump it explains
    causes: list[str] = field(default_factory=list)

    @property
    def jump(self) -> Decimal:
        return self.spent - self.usual

    @property
    def label(self) -> str:
        """The subject as words name it (and as another anomaly's driver names it)."""
        return f"{LABELS[self.dimension]} {self.value or '(none)'}"

    def describe(self) -> str:
        """One line in words and figures: "model gpt-4o: $447.00 on ..., usual ...; 100 % of ..."."""
        text = f"{self.label}: {self.figures_text()}"
        explained = self.explanation()
        return f"{text}; {explained}" if explained else text

    def figures_text(self) -> str:
        return jump_text(
            spent=self.spent, usual=self.usual, spread=self.spread, currency=self.currency, day=self.day
        )

    def explanation(self) -> str:
        """What drove it and its likely causes ("100 % of the jump is user u_17; likely ..."), or ""."""
        parts = []
        if self.driver:
            parts.append(f"{self.driver_share} % of the jump is {self.driver}")
        if self.causes:
            parts.append("likely " + ", ".join(self.causes))
        return "; ".join(parts)


def jump_text(*, spent: Decimal, usual: Decimal, spread: Decimal, currency: str, day: date) -> str:
    """A jump in figures: "$447.00 on 2026-11-20, usual $35.00 ± $3.50"."""
    money = _money_of(currency)
    return f"{money(spent)} on {day.isoformat()}, usual {money(usual)} ± {money(spread)}"


def find_anomalies(
    conn: Connection,
    *,
    day: date,
    scope: Mapping[str, Sequence[str]] | None = None,
    sigmas: float = 4.0,
    min_jump: Decimal = Decimal(5),
    dimensions: Sequence[str] = DIMENSIONS,
) -> list[Anomaly]:
    """The anomalies of `day`, the largest jump first."""
    start = day - timedelta(days=7 * WEEKS)
    found: list[Anomaly] = []
    for dim in dimensions:
        rows = _daily(conn, dim, start, day, {}, scope)
        for (value, currency), by_day in rows.items():
            history = [by_day.get(start + timedelta(days=i), _ZERO).cost for i in range(7 * WEEKS)]
            today = by_day.get(day, _ZERO).cost
            usual, spread = baseline(history, weekday_of_first=start.weekday(), weekday=day.weekday())
            if today - usual <= max(spread * Decimal(str(sigmas)), min_jump):
                continue
            if today - max(history[-EPISODE_DAYS:]) <= spread:
                continue  # at this level already in the past week: that episode was news then
            anomaly = Anomaly(day, dim, value, today, usual, spread, currency)
            found.append(_explain(conn, anomaly, start, scope, history_row=by_day))
    return sorted(found, key=lambda a: -a.jump)


# which anomaly of an incident leads it (is its alert): the slice people budget and talk
# about — "gpt-4o in Storygami: $412, usual $35; 92 % of the jump is user u_17"
LEAD_ORDER: tuple[str, ...] = ("model", "project", "api_key_id", "user", "provider")


@dataclass(frozen=True)
class Incident:
    """One jump seen in several dimensions at once (a user's spike is also their model's,
    their key's and their provider's): `lead` speaks for it, `also` lists the rest."""

    lead: Anomaly
    also: tuple[Anomaly, ...] = ()

    def describe(self) -> str:
        explained = self.explanation()
        text = f"{self.lead.label}: {self.lead.figures_text()}"
        return f"{text}; {explained}" if explained else text

    def explanation(self) -> str:
        """The lead's explanation and where else the jump was seen, or "" (an alert's note)."""
        parts = [self.lead.explanation()] if self.lead.explanation() else []
        if self.also:
            parts.append(
                "also seen in "
                + ", ".join(f"{a.label} ({_money_of(a.currency)(a.spent)})" for a in self.also)
            )
        return "; ".join(parts)


def incidents(found: Sequence[Anomaly]) -> list[Incident]:
    """The anomalies of one day grouped into incidents: two are one when one names the
    other as its driver, or they hold the same money (the same spent and usual). Largest
    jump first."""
    parent = list(range(len(found)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_label = {a.label: i for i, a in enumerate(found)}
    by_money: dict[tuple[Decimal, Decimal, str], int] = {}
    for i, a in enumerate(found):
        links = [by_label.get(a.driver or ""), by_money.setdefault((a.spent, a.usual, a.currency), i)]
        for j in links:
            if j is not None:
                parent[root(i)] = root(j)
    groups: dict[int, list[Anomaly]] = {}
    for i, a in enumerate(found):
        groups.setdefault(root(i), []).append(a)
    out = []
    for members in groups.values():
        lead = min(members, key=lambda a: (LEAD_ORDER.index(a.dimension), -a.jump))
        also = tuple(
            sorted((a for a in members if a is not lead), key=lambda a: LEAD_ORDER.index(a.dimension))
        )
        out.append(Incident(lead, also))
    return sorted(out, key=lambda inc: -max(a.jump for a in (inc.lead, *inc.also)))


def baseline(history: Sequence[Decimal], *, weekday_of_first: int, weekday: int) -> tuple[Decimal, Decimal]:
    """(usual, spread) of the day after `history` (whole weeks, oldest first)."""
    same_weekday = [v for i, v in enumerate(history) if (weekday_of_first + i) % 7 == weekday]
    usual = (_median(same_weekday) + _median(history[-14:])) / 2
    deviation = _median([abs(v - _median(history)) for v in history]) * Decimal(str(MAD_SCALE))
    floor = max(usual * Decimal("0.1"), Decimal("0.01"))
    return _cents(usual), _cents(max(deviation, floor))


def _median(values: Sequence[Decimal]) -> Decimal:
    return Decimal(median(values)) if values else Decimal(0)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class _Day:
    cost: Decimal
    requests: int
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int


_ZERO = _Day(Decimal(0), 0, 0, 0, 0)


def _daily(
    conn: Connection,
    dim: str,
    start: date,
    end: date,
    filters: Mapping[str, tuple[str, ...]],
    scope: Mapping[str, Sequence[str]] | None,
) -> dict[tuple[str, str], dict[date, _Day]]:
    """(value, currency) → day → figures, for `dim` over [start, end]."""
    query = SpendQuery(start=start, end=end, by=(dim,), filters=filters, granularity=Granularity.DAY)
    out: dict[tuple[str, str], dict[date, _Day]] = {}
    for row in spend(conn, restrict(query, scope or {})).rows:
        if row.period is None:
            continue
        key = (row.dims[dim] or "", row.currency)
        out.setdefault(key, {})[date.fromisoformat(row.period)] = _day_of(row)
    return out


def _day_of(row: SpendRow) -> _Day:
    return _Day(row.cost, row.requests, row.input_tokens, row.cached_input_tokens, row.output_tokens)


# who or what is named as the driver, when several explain the jump as well: the most
# specific first (a person, a key) rather than the provider every call shares
DRIVER_ORDER: tuple[str, ...] = ("user", "api_key_id", "project", "model", "provider")


def _explain(
    conn: Connection,
    anomaly: Anomaly,
    start: date,
    scope: Mapping[str, Sequence[str]] | None,
    *,
    history_row: Mapping[date, _Day],
) -> Anomaly:
    """The anomaly with its driver (the other dimension's value that explains most of the
    jump) and the likely causes the ledger can see."""
    within = {anomaly.dimension: (anomaly.value,)}
    best: tuple[Decimal, str, str] | None = None  # (explained, dim, value)
    had_history = any(figures.cost for day, figures in history_row.items() if day < anomaly.day)
    causes: list[str] = []
    for other in DRIVER_ORDER:
        if other == anomaly.dimension:
            continue
        for (value, currency), by_day in _daily(conn, other, start, anomaly.day, within, scope).items():
            if currency != anomaly.currency:
                continue
            history = [by_day.get(start + timedelta(days=i), _ZERO).cost for i in range(7 * WEEKS)]
            today = by_day.get(anomaly.day, _ZERO).cost
            explained = today - _median(history[-14:])
            # a value holding the whole day's spend (the only project of a model) is the
            # same slice seen another way, not a driver
            whole = today >= anomaly.spent * Decimal("0.95")
            if not whole and (best is None or explained > best[0]):
                best = (explained, other, value)
            # new within a slice that itself is new says nothing: everything in it is new
            fresh = not any(history) and had_history
            if other in ("api_key_id", "model") and fresh and explained * 2 >= anomaly.jump:
                causes.append(
                    f"a new {LABELS[other]} {value or '(none)'} with no spend in the four weeks before"
                )
    driver = share = None
    if best is not None and best[0] > 0 and anomaly.jump > 0:
        explained, other, value = best
        driver = f"{LABELS[other]} {value or '(none)'}"
        share = min(100, round(explained / anomaly.jump * 100))
    causes.extend(_usage_causes(anomaly, start, history_row))
    return Anomaly(**{**anomaly.__dict__, "driver": driver, "driver_share": share, "causes": causes})


def _usage_causes(anomaly: Anomaly, start: date, by_day: Mapping[date, _Day]) -> list[str]:
    """What changed in how the calls were made: the cache-hit rate, requests against tokens."""
    days = [by_day.get(start + timedelta(days=i), _ZERO) for i in range(7 * WEEKS)]
    today = by_day.get(anomaly.day, _ZERO)
    before = [d for d in days[-14:] if d.requests or d.input_tokens]
    if not before or not (today.requests or today.input_tokens):
        return []
    causes = []
    usual_hit = _ratio(sum(d.cached_input_tokens for d in before), sum(d.input_tokens for d in before))
    hit = _ratio(today.cached_input_tokens, today.input_tokens)
    if usual_hit >= 0.2 and hit < usual_hit / 2:
        causes.append(f"the cache-hit rate fell from {usual_hit:.0%} to {hit:.0%}")
    usual_requests = median(d.requests for d in before)
    usual_per_request = _ratio(
        sum(d.input_tokens + d.output_tokens for d in before), sum(d.requests for d in before)
    )
    per_request = _ratio(today.input_tokens + today.output_tokens, today.requests)
    if usual_requests and today.requests >= 2 * usual_requests:
        times = today.requests / usual_requests
        causes.append(f"requests ×{times:.1f} ({today.requests:,} against {usual_requests:,.0f})")
    if usual_per_request and per_request >= 2 * usual_per_request:
        causes.append(f"tokens per request ×{per_request / usual_per_request:.1f}")
    return causes


def _ratio(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _money_of(currency: str) -> Callable[[Decimal], str]:
    return lambda value: display_money(value, currency)

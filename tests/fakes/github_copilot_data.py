"""A seeded GitHub organisation's Copilot bill: the truth the fake serves and the tests compare with.

Users `dev-000`… use Copilot models on some days. Until 31 May 2026 they are billed in
premium requests ($0.04 each), from 1 June 2026 in AI credits ($0.01 each). Each user's
month starts with an included allowance (the discount); past it, usage is billed net.
One line gets a discount larger than its gross and a net of 0, as in GitHub's own sample
(go-github#4262). Some users hold no seat: they left, and their usage is still on the
organisation's bill. One seat holder never uses Copilot. Seat holders pay $19 a month for
Copilot Business, charged per day as a fraction of a user-month. Seats assigned mid-period
start paying that day.

All money is `Decimal`. `lines` holds each (day, login, model) line's quantities,
gross/discount/net. `revise` scales a day the way GitHub revises one.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

MODELS = ("Claude Sonnet 4.6", "GPT-5.1-Codex", "Auto: Claude Haiku 4.5", "Gemini 3 Pro")
AI_CREDITS_FROM = date(2026, 6, 1)  # Copilot's usage-based billing (provider-apis-2026.md §1.6)
SEAT_PRICE = Decimal(19)  # Copilot Business, per user-month
NANO = Decimal("0.000000001")


@dataclass(frozen=True)
class Era:
    endpoint: str  # "ai_credit" | "premium_request"
    sku: str
    unit_type: str
    price: Decimal
    allowance: Decimal  # included per user and month
    places: int  # decimals of a quantity


AI_CREDITS = Era("ai_credit", "Copilot AI Credits", "ai-credits", Decimal("0.01"), Decimal(1900), 7)
PREMIUM_REQUESTS = Era(
    "premium_request", "Copilot Premium Request", "requests", Decimal("0.04"), Decimal(300), 2
)


def era_of(day: date) -> Era:
    return AI_CREDITS if day >= AI_CREDITS_FROM else PREMIUM_REQUESTS


@dataclass
class Line:
    """One user's use of one model on one day, as billed."""

    gross_quantity: Decimal
    discount_quantity: Decimal
    net_quantity: Decimal
    price: Decimal

    @property
    def gross_amount(self) -> Decimal:
        return self.gross_quantity * self.price

    @property
    def discount_amount(self) -> Decimal:
        return self.discount_quantity * self.price

    @property
    def net_amount(self) -> Decimal:
        return self.net_quantity * self.price

    def scaled(self, factor: Decimal) -> Line:
        return Line(
            self.gross_quantity * factor,
            self.discount_quantity * factor,
            self.net_quantity * factor,
            self.price,
        )


@dataclass
class SeatCharge:
    """One day's seat lines of one organisation: `seats` user-days of Copilot Business."""

    quantity: Decimal  # user-months
    gross_amount: Decimal
    net_amount: Decimal


class SeededBill:
    """`days` days from `start` of an organisation with `users` Copilot users."""

    def __init__(
        self,
        *,
        start: date,
        days: int,
        users: int = 6,
        departed: int = 1,
        density: float = 0.7,
        seed: int = 13,
        org: str = "acme",
    ) -> None:
        rng = random.Random(seed)
        self.org, self.start, self.days = org, start, days
        self.logins = [f"dev-{i:03d}" for i in range(users)]
        self.idle = self.logins[0]  # a seat, never used
        self.departed = set(self.logins[users - departed :]) if departed else set()
        late = self.logins[1] if users > 2 else None  # assigned a third of the way in
        self.seat_from = {
            login: start + timedelta(days=days // 3 if login == late else 0)
            for login in self.logins
            if login not in self.departed
        }
        self.lines: dict[tuple[date, str, str], Line] = {}
        self.seat_factor: dict[date, Decimal] = {}  # a revised day's seat charges
        used: dict[tuple[str, int, int], Decimal] = {}
        odd_done = False
        for offset in range(days):
            day = start + timedelta(days=offset)
            era = era_of(day)
            for login in self.logins:
                if login == self.idle or (login in self.seat_from and day < self.seat_from[login]):
                    continue
                if rng.random() >= density:
                    continue
                for model in MODELS:
                    if rng.random() >= 0.5:
                        continue
                    scale = 10**era.places
                    gross = Decimal(rng.randint(1, 600 * scale)) / scale
                    month = (login, day.year, day.month)
                    covered = min(gross, max(Decimal(0), era.allowance - used.get(month, Decimal(0))))
                    used[month] = used.get(month, Decimal(0)) + gross
                    line = Line(gross, covered, gross - covered, era.price)
                    if not odd_done and covered == gross:  # a pooled discount past the gross, net 0
                        line = Line(gross, gross + Decimal(66) / scale, Decimal(0), era.price)
                        odd_done = True
                    self.lines[(day, login, model)] = line

    # ---- what the API answers -------------------------------------------------------------

    def day_list(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def seats_on(self, day: date) -> list[str]:
        return [login for login, since in self.seat_from.items() if since <= day]

    def seat_charge(self, day: date, seats: int) -> SeatCharge:
        """`seats` seats for one day: 1/days-in-month of a user-month each, to the nano."""
        per_day = (Decimal(1) / calendar.monthrange(day.year, day.month)[1]).quantize(NANO)
        quantity = per_day * seats * self.seat_factor.get(day, Decimal(1))
        gross = (quantity * SEAT_PRICE).quantize(NANO)
        return SeatCharge(quantity, gross, gross)

    def seat_items(self, day: date) -> list[SeatCharge]:
        """The day's seat lines as the report lists them: two items, at two times of the day."""
        seats = len(self.seats_on(day))
        half = seats // 2
        return [self.seat_charge(day, n) for n in (half, seats - half) if n]

    def revise(self, day: date, factor: Decimal) -> None:
        """GitHub revised `day`: its usage lines and its seat charges scaled by `factor`."""
        self.seat_factor[day] = factor
        for key, line in list(self.lines.items()):
            if key[0] == day:
                self.lines[key] = line.scaled(factor)

    # ---- the truth the connector must read back --------------------------------------------

    def expected_costs(self, *, by_user: bool = True) -> dict[tuple[str, str, str], Decimal]:
        """Net money by (day, user, model): seat lines under no user and no model; departed
        users' usage under no user (no seat names them, so GitHub is never asked for them)."""
        out: dict[tuple[str, str, str], Decimal] = {}
        for (day, login, model), line in self.lines.items():
            user = login if by_user and login not in self.departed else ""
            key = (day.isoformat(), user, model)
            out[key] = out.get(key, Decimal(0)) + line.net_amount
        for day in self.day_list():
            for item in self.seat_items(day):
                key = (day.isoformat(), "", "")
                out[key] = out.get(key, Decimal(0)) + item.net_amount
        return out

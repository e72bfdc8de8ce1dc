"""Server-rendered pages (Jinja2): each page calls the same query functions as its JSON twin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates

from spendledger.records import display_money

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent.parent / "static"


# The navigation: each page with the roles its GET route lets in (`require(...)` there);
# a link is shown only to those roles. tests/test_navigation.py holds the two together.
EVERYONE = ("admin", "viewer", "member")
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("/", "Overview", EVERYONE),
    ("/explore", "Explore", EVERYONE),
    ("/reports", "Reports", EVERYONE),
    ("/budgets", "Budgets", ("admin", "viewer")),
    ("/showback", "Showback", ("admin", "viewer")),
    ("/entries", "Entries", EVERYONE),
    ("/subscriptions", "Subscriptions", ("admin", "viewer")),
    ("/alerts", "Alerts", ("admin", "viewer")),
    ("/reconcile", "Reconciliation", ("admin", "viewer")),
    ("/channels", "Channels", ("admin",)),
    ("/prices", "Prices", EVERYONE),
    ("/sources", "Sources", ("admin",)),
    ("/allocation", "Allocation", ("admin",)),
    ("/tokens", "API tokens", ("admin",)),
    ("/data", "Data", ("admin",)),
    ("/audit", "Audit log", ("admin",)),
    ("/imports", "Imports", ("admin",)),
)


def nav_for(role: str) -> list[tuple[str, str]]:
    """(href, label) of the pages `role` may open, in the navigation's order."""
    return [(href, label) for href, label, roles in NAV if role in roles]


def money(amount: Decimal, currency: str = "USD") -> str:
    """The pages' `money` filter: `display_money` with a currency always shown."""
    return display_money(amount, currency)


def make_templates() -> Jinja2Templates:
    """The pages' template environment, with the filters they use."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters["money"] = money
    templates.env.globals["nav_for"] = nav_for
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    return templates

"""Server-rendered pages (Jinja2): each page calls the same query functions as its JSON twin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates

from spendledger.records import display_money

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent.parent / "static"


def money(amount: Decimal, currency: str = "USD") -> str:
    """The pages' `money` filter: `display_money` with a currency always shown."""
    return display_money(amount, currency)


def make_templates() -> Jinja2Templates:
    """The pages' template environment, with the filters they use."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters["money"] = money
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    return templates

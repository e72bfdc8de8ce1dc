"""Server-rendered pages (Jinja2): each page calls the same query functions as its JSON twin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.templating import Jinja2Templates

from spendledger.records import cents

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent.parent / "static"
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£"}


def money(amount: Decimal, currency: str = "USD") -> str:
    """$1,234.56: rounded to the cent (half to even) with thousands separators."""
    rounded = cents(amount)
    sign = "-" if rounded < 0 else ""
    symbol = _SYMBOLS.get(currency)
    figure = f"{abs(rounded):,.2f}"
    return f"{sign}{symbol}{figure}" if symbol else f"{sign}{figure} {currency}"


def make_templates() -> Jinja2Templates:
    """The pages' template environment, with the filters they use."""
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.filters["money"] = money
    templates.env.trim_blocks = templates.env.lstrip_blocks = True
    return templates

"""Shipped plan presets: the published list price per seat of the common LLM subscriptions.

Reference data, each with where its price was read and when (prices checked 2026-12-03;
US list prices before tax). A preset fills a subscription's provider and price; every
one is overridable (`--provider`, `--price-per-seat`), as negotiated or regional prices
differ. A plan with no public price (the Enterprise plans) has no price: a subscription
on it must give `--price-per-seat`. A plan priced for one interval only needs
`--price-per-seat` for the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

CHECKED = "2026-12-03"


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    provider: str  # the ledger's provider name (model_names.canonical_provider)
    source: str  # where the price was read, and anything it depends on
    prices: Mapping[str, Decimal] = field(default_factory=dict)  # interval → price per seat

    def price(self, interval: str) -> Decimal | None:
        return self.prices.get(interval)


def _p(monthly: str | None = None, annual: str | None = None) -> dict[str, Decimal]:
    found = {"monthly": monthly, "annual": annual}
    return {interval: Decimal(price) for interval, price in found.items() if price is not None}


_OPENAI_BUSINESS = (
    "help.openai.com/en/articles/8792536 (Managing billing and seats in ChatGPT Business): standard "
    "seats $25 per user per month, or $20 per user per month billed annually, since the $5 cut of "
    "2026-04-02; ChatGPT Team was renamed ChatGPT Business on 2025-08-29"
)
_CLAUDE_TEAM = (
    "support.claude.com/en/articles/9267289 (How is my Team plan bill calculated?): standard seats "
    "$30 per member per month billed monthly, $25 per month billed annually; premium seats (Claude Code) "
    "$150 per member per month either way; minimum 5 members"
)
_COPILOT = (
    "docs.github.com/en/billing/concepts/product-billing/github-copilot-licenses: Copilot Business $19 "
    "and Copilot Enterprise $39 per granted seat per month; usage beyond the included AI credits is "
    "billed apart (the github-copilot source brings it)"
)
_CURSOR = "cursor.com/pricing (read 2026-10-07): Pro $20 per month, Teams $40 per user per month"
_PERPLEXITY = (
    "perplexity.ai help center (Enterprise pricing and billing FAQ; Perplexity Pro subscription): "
    "Pro $20 per month or $200 per year; Enterprise Pro $40 per seat per month or $400 per year"
)
_GEMINI_WORKSPACE = (
    "support.google.com/a/answer/13969047 (How Gemini for Google Workspace billing works): Flexible "
    "Plan $24 (Business) / $36 (Enterprise) per user per month; the Annual/Fixed-Term Plan, billed "
    "monthly, $20 / $30 (give it as --price-per-seat). Google stopped selling the add-on to business "
    "customers in 2025 (Gemini is now part of Workspace plans): for licences still held"
)

PRESETS: tuple[Preset, ...] = (
    Preset(
        "chatgpt-plus",
        "ChatGPT Plus",
        "openai",
        "help.openai.com/en/articles/6950777 (What is ChatGPT Plus?): $20 per month, billed monthly",
        _p(monthly="20"),
    ),
    Preset("chatgpt-business", "ChatGPT Business", "openai", _OPENAI_BUSINESS, _p("25", "240")),
    Preset("chatgpt-team", "ChatGPT Team (now Business)", "openai", _OPENAI_BUSINESS, _p("25", "240")),
    Preset(
        "chatgpt-enterprise",
        "ChatGPT Enterprise",
        "openai",
        "openai.com/chatgpt/pricing: no public price (contact sales)",
    ),
    Preset(
        "claude-pro",
        "Claude Pro",
        "anthropic",
        "claude.com/pricing: $20 per month billed monthly",
        _p(monthly="20"),
    ),
    Preset("claude-max-5x", "Claude Max 5x", "anthropic", "claude.com/pricing: $100 per month", _p("100")),
    Preset("claude-max-20x", "Claude Max 20x", "anthropic", "claude.com/pricing: $200 per month", _p("200")),
    Preset("claude-team", "Claude Team (standard seat)", "anthropic", _CLAUDE_TEAM, _p("30", "300")),
    Preset("claude-team-premium", "Claude Team (premium seat)", "anthropic", _CLAUDE_TEAM, _p("150", "1800")),
    Preset("github-copilot-business", "GitHub Copilot Business", "github-copilot", _COPILOT, _p("19")),
    Preset("github-copilot-enterprise", "GitHub Copilot Enterprise", "github-copilot", _COPILOT, _p("39")),
    Preset("cursor-pro", "Cursor Pro", "cursor", _CURSOR, _p("20")),
    Preset("cursor-teams", "Cursor Teams", "cursor", _CURSOR, _p("40")),
    Preset("perplexity-pro", "Perplexity Pro", "perplexity", _PERPLEXITY, _p("20", "200")),
    Preset(
        "perplexity-enterprise-pro", "Perplexity Enterprise Pro", "perplexity", _PERPLEXITY, _p("40", "400")
    ),
    Preset(
        "gemini-workspace-business",
        "Gemini Business (Workspace add-on)",
        "google",
        _GEMINI_WORKSPACE,
        _p("24"),
    ),
    Preset(
        "gemini-workspace-enterprise",
        "Gemini Enterprise (Workspace add-on)",
        "google",
        _GEMINI_WORKSPACE,
        _p("36"),
    ),
)
BY_NAME: dict[str, Preset] = {p.name: p for p in PRESETS}


def preset(name: str) -> Preset | None:
    """The preset called `name` (case and spaces forgiven), or None."""
    return BY_NAME.get(name.strip().lower().replace(" ", "-").replace("_", "-"))

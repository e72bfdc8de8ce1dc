"""The fake Anthropic organisation's data: seeded rows, the reports' views of them, the truth.

One set of usage rows (day × workspace × API key × model × tier × context window) is the
source of everything: the cost report prices them (Priority Tier excluded, as Anthropic
bills it apart), Claude Code's API customers are the rows of their own keys, and
`expected_costs()` / `expected_tokens()` sum the very rows the server serves. A test
comparing records with them therefore holds to the cent, after `revise()` too.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from spendledger.records import TokenCounts

DEFAULT_WORKSPACE = "Default workspace"
WORKSPACES = {"wrkspc_01Prod": "Production", "wrkspc_01Research": "Research", "wrkspc_01Legacy": "Legacy"}
ARCHIVED = {"wrkspc_01Legacy"}  # listed only with include_archived=true; its usage stops on day 10
API_KEYS = {  # id → (name, workspace id or None for the default workspace, service tiers used)
    "apikey_01Backend": ("prod-backend", "wrkspc_01Prod", ("standard", "priority")),
    "apikey_01CI": ("ci-pipeline", "wrkspc_01Prod", ("standard",)),
    "apikey_01Notebooks": ("research-notebooks", "wrkspc_01Research", ("standard", "batch")),
    "apikey_01GraceCC": ("claude_code_key_grace_x7qz", None, ("standard",)),
    "apikey_01Scripts": ("default-scripts", None, ("standard", "batch")),
    "apikey_01Legacy": ("legacy-app", "wrkspc_01Legacy", ("standard",)),
}
WORKBENCH = (None, "wrkspc_01Research", ("standard",))  # Console Workbench: api_key_id is null
PRICES = {  # display name; cents per million: uncached input, output, cache read, 5m write, 1h write
    "claude-sonnet-4-5-20250929": ("Claude Sonnet 4.5", (300, 1500, 30, 375, 600)),
    "claude-haiku-4-5-20251001": ("Claude Haiku 4.5", (100, 500, 10, 125, 200)),
    "claude-opus-4-1-20250805": ("Claude Opus 4.1", (1500, 7500, 150, 1875, 3000)),
}
TOKEN_TYPES = (  # usage row field, cost report token_type, description suffix
    ("uncached", "uncached_input_tokens", "Input Tokens"),
    ("output", "output_tokens", "Output Tokens"),
    ("cache_read", "cache_read_input_tokens", "Cache Read"),
    ("cache_5m", "cache_creation.ephemeral_5m_input_tokens", "Cache Write (5m)"),
    ("cache_1h", "cache_creation.ephemeral_1h_input_tokens", "Cache Write (1h)"),
)
MEASURES = ("uncached", "cache_read", "cache_5m", "cache_1h", "output", "web_search")
USAGE_DIMS = ("workspace_id", "api_key_id", "model", "service_tier", "context_window", "inference_geo")
COST_DIMS = (
    "workspace_id",
    "description",
    "cost_type",
    "model",
    "token_type",
    "service_tier",
    "context_window",
)
CLAUDE_CODE_ACTORS = (  # actor type, name, customer type, the key whose usage it is (API customers)
    ("user_actor", "grace@example.com", "api", "apikey_01GraceCC"),
    ("api_actor", "ci-pipeline", "api", "apikey_01CI"),
    ("user_actor", "ada@example.com", "subscription", None),
    ("user_actor", "linus@example.com", "subscription", None),
)
QUIET_DAY = 3  # a day without any usage: every report returns its bucket empty
Row = dict[str, Any]


def workspace_name(workspace_id: str | None) -> str:
    return DEFAULT_WORKSPACE if workspace_id is None else WORKSPACES[workspace_id]


def token_cents(row: Row, field: str, price: int) -> Decimal:
    """Cents for one token type: batch pays half; long context (>200k) pays 2x input, 1.5x output."""
    factor = Decimal("0.5") if row["service_tier"] == "batch" else Decimal(1)
    if row["context_window"] == "200k-1M":
        factor *= Decimal("1.5") if field == "output" else 2
    return (Decimal(row[field]) * price * factor).scaleb(-6)


class AnthropicDataSet:
    """`days` days from `start`, drawn from `random.Random(seed)`: the same seed, the same data."""

    def __init__(self, *, seed: int = 7, start: date = date(2025, 1, 1), days: int = 35) -> None:
        self.start, self.days = start, days
        self.usage: dict[date, list[Row]] = defaultdict(list)
        self.code_exec: dict[date, list[Row]] = defaultdict(list)
        self.claude_code: dict[date, list[Row]] = defaultdict(list)
        rng = random.Random(seed)
        for i in range(days):
            if i != QUIET_DAY:
                self._draw_day(rng, start + timedelta(i), i)

    def _draw_day(self, rng: random.Random, day: date, index: int) -> None:
        keys = [(key_id, ws, tiers) for key_id, (_, ws, tiers) in API_KEYS.items()] + [WORKBENCH]
        for key_id, ws, tiers in keys:
            for model in PRICES:
                for tier in tiers:
                    if rng.random() < 0.6 or (ws in ARCHIVED and index >= 10):
                        continue
                    window = (
                        "200k-1M" if model.startswith("claude-sonnet") and rng.random() < 0.2 else "0-200k"
                    )
                    dims = (ws, key_id, model, tier, window, "global")
                    counts = (
                        rng.randrange(1, 900_000),
                        rng.choice((0, rng.randrange(1, 4_000_000))),
                        rng.randrange(0, 300_000),
                        rng.choice((0, rng.randrange(1, 120_000))),
                        rng.randrange(1, 250_000),
                        rng.choice((0, 0, rng.randrange(1, 40))),
                    )
                    self.usage[day].append(dict(zip(USAGE_DIMS + MEASURES, dims + counts, strict=True)))
        for ws in (None, "wrkspc_01Prod", "wrkspc_01Research"):
            if rng.random() < 0.3:  # code execution: in the cost report only, without a model
                amount = Decimal(rng.randrange(1, 10**6)).scaleb(-4)
                self.code_exec[day].append({"workspace_id": ws, "amount": amount})
        for kind, name, customer, key_id in CLAUDE_CODE_ACTORS:
            if key_id is None and rng.random() < 0.3:
                continue
            # a subscription's tokens (input, output, cache read, cache creation) are its own;
            # an API customer's are its key's usage rows, derived when served
            models = {m: [rng.randrange(1, 10**6) for _ in range(4)] for m in PRICES if rng.random() < 0.6}
            metrics = [rng.randrange(1, 30), rng.randrange(3000), rng.randrange(900), rng.randrange(9)]
            metrics += [rng.randrange(3), rng.randrange(60), rng.randrange(10)]
            self.claude_code[day].append(
                {
                    "actor": {
                        "type": kind,
                        "email_address" if kind == "user_actor" else "api_key_name": name,
                    },
                    "customer_type": customer,
                    "subscription_type": None if key_id else "team",
                    "key": key_id,
                    "terminal_type": rng.choice(("vscode", "iTerm.app", "tmux")),
                    "models": models,
                    "metrics": metrics,
                }
            )

    def revise(self, day: date, scale: Decimal, model: str | None = None) -> None:
        """Counts and amounts of `day` (of one model, if given) times `scale`; zero rows vanish."""
        for row in self.usage[day]:
            if model in (None, row["model"]):
                row.update({m: int(row[m] * scale) for m in MEASURES})
        self.usage[day] = [r for r in self.usage[day] if any(r[m] for m in MEASURES)]
        if model is None:
            for cost in self.code_exec[day]:
                cost["amount"] *= scale
            self.code_exec[day] = [c for c in self.code_exec[day] if c["amount"]]
        for record in self.claude_code[day]:
            record["models"] = {
                m: [int(n * scale) for n in t] if model in (None, m) else t
                for m, t in record["models"].items()
            }

    def cost_rows(self, day: date) -> list[Row]:
        """The cost report's finest rows for `day`: one per usage row and token type, plus tools."""
        rows = []
        for usage in self.usage[day]:
            if usage["service_tier"] == "priority":
                continue  # Priority Tier is billed apart: never in the cost report
            display, prices = PRICES[usage["model"]]
            dims = {d: usage[d] for d in ("workspace_id", "model", "service_tier", "context_window")}
            for (field, token_type, suffix), price in zip(TOKEN_TYPES, prices, strict=True):
                if usage[field]:
                    amount = token_cents(usage, field, price)
                    described = {"description": f"{display} Usage - {suffix}", "cost_type": "tokens"}
                    rows.append(dims | described | {"token_type": token_type, "amount": amount})
            if usage["web_search"]:  # $10 per 1,000 searches: one cent each
                search = {"description": "Web Search Usage", "cost_type": "web_search"}
                amount = Decimal(usage["web_search"])
                rows.append(
                    dict.fromkeys(COST_DIMS)
                    | search
                    | {"workspace_id": dims["workspace_id"], "amount": amount}
                )
        for cost in self.code_exec[day]:
            execution = {"description": "Code Execution Usage", "cost_type": "code_execution"}
            rows.append(dict.fromkeys(COST_DIMS) | cost | execution)
        return rows

    def claude_code_records(self, day: date) -> list[Row]:
        """The Claude Code report's records for `day`, in the API's JSON shape."""
        return [self._claude_code_record(day, r) for r in self.claude_code[day]]

    def _claude_code_record(self, day: date, r: Row) -> Row:
        models: dict[str, tuple[list[int], Decimal]] = {}
        if r["key"]:  # an API customer: the very usage usage_report/messages reports for its key
            for u in (u for u in self.usage[day] if u["api_key_id"] == r["key"]):
                tokens, cents = models.get(u["model"], ([0, 0, 0, 0], Decimal(0)))
                add = (u["uncached"], u["output"], u["cache_read"], u["cache_5m"] + u["cache_1h"])
                prices = PRICES[u["model"]][1]
                cents += sum(token_cents(u, f, p) for (f, _, _), p in zip(TOKEN_TYPES, prices, strict=True))
                models[u["model"]] = ([a + b for a, b in zip(tokens, add, strict=True)], cents)
        else:  # cache creation priced as 5m writes
            for m, t in r["models"].items():
                cents = sum((Decimal(n) * p for n, p in zip(t, PRICES[m][1], strict=False)), Decimal(0))
                models[m] = (t, cents.scaleb(-6))
        sessions, added, removed, commits, prs, accepted, rejected = r["metrics"]
        metrics = {"num_sessions": sessions, "lines_of_code": {"added": added, "removed": removed}}
        metrics |= {"commits_by_claude_code": commits, "pull_requests_by_claude_code": prs}
        breakdown = [
            {
                "model": m,
                "tokens": dict(zip(("input", "output", "cache_read", "cache_creation"), t, strict=True)),
                "estimated_cost": {"currency": "USD", "amount": int(cents.to_integral_value())},
            }
            for m, (t, cents) in sorted(models.items())
        ]
        return {
            "date": f"{day}T00:00:00Z",
            "actor": r["actor"],
            "organization_id": "12345678-1234-5678-1234-567812345678",
            "customer_type": r["customer_type"],
            "subscription_type": r["subscription_type"],
            "terminal_type": r["terminal_type"],
            "core_metrics": metrics,
            "tool_actions": {"edit_tool": {"accepted": accepted, "rejected": rejected}},
            "model_breakdown": breakdown,
        }

    def expected_costs(self) -> dict[tuple[str, str, str], Decimal]:
        """Dollars by (day ISO, workspace name, model or ""), exactly as the cost report sums them."""
        totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for day in sorted(self.usage.keys() | self.code_exec.keys()):
            for row in self.cost_rows(day):
                key = (day.isoformat(), workspace_name(row["workspace_id"]), row["model"] or "")
                totals[key] += row["amount"].scaleb(-2)
        return dict(totals)

    def expected_tokens(self) -> dict[tuple[str, str, str], TokenCounts]:
        """Tokens by (day ISO, workspace name, model) in the ledger's contract (input includes cache)."""
        totals: dict[tuple[str, str, str], TokenCounts] = defaultdict(TokenCounts)
        for day, rows in sorted(self.usage.items()):
            for r in rows:
                counts = TokenCounts.from_disjoint(
                    uncached_input=r["uncached"],
                    cache_read=r["cache_read"],
                    cache_write_5m=r["cache_5m"],
                    cache_write_1h=r["cache_1h"],
                    output=r["output"],
                )
                totals[(day.isoformat(), workspace_name(r["workspace_id"]), r["model"])] += counts
        return dict(totals)

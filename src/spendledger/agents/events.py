"""A call read from a log → the events API's event, and what the call is worth.

The event is the one every way in sends (`ingest.event.Event`): id, timestamp, provider,
model, the token counts, the user and project (attribution.py), the tool as its
`feature`, and tags naming the tool (`agent`) and the session. It goes out without a
cost, so the ledger prices it where every metered event is priced; the call's value at
list prices is also computed here, with the same `Pricer` (the ledger's overrides in
ledger mode, the catalogue alone with `--send`), for the run's summary and for a call
covered by a subscription. A covered call (`--covered-by PLAN`) is sent with cost 0 and
its value in the tags `covered_by`, `usage_value` and `usage_value_currency` (see the
package's docstring for why).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from spendledger.agents.attribution import Attribution
from spendledger.agents.calls import AgentCall
from spendledger.errors import SpendledgerError
from spendledger.ingest.event import Event
from spendledger.ingest.records import EventError, event_to_record
from spendledger.pricing import Pricer
from spendledger.records import format_money

AGENT_TAG = "agent"
SESSION_TAG = "session"
COVERED_BY_TAG = "covered_by"
USAGE_VALUE_TAG = "usage_value"
USAGE_VALUE_CURRENCY_TAG = "usage_value_currency"
_PLAN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Event)}
_TEXT = ("id", "provider", "model", "project", "user", "request_id")  # the texts a log gives


class PlanError(SpendledgerError, ValueError):
    def __init__(self, plan: str) -> None:
        super().__init__(
            f"--covered-by {plan!r}: name the plan in lower case with letters, digits, '.', '_' or '-' "
            "(at most 64 characters), e.g. claude-max or chatgpt-plus",
            field="covered_by",
        )


def check_plan(plan: str | None) -> str | None:
    if plan is not None and not _PLAN.fullmatch(plan):
        raise PlanError(plan)
    return plan


@dataclass(slots=True)
class Priced:
    event: dict[str, Any]  # the event as the events API takes it (JSON-ready)
    value: Decimal | None  # what the call costs at list prices; None when no price is known
    currency: str
    covered: bool


class EventBuilder:
    def __init__(self, *, attribution: Attribution, pricer: Pricer, covered_by: str | None = None) -> None:
        self.attribution = attribution
        self.pricer = pricer
        self.covered_by = check_plan(covered_by)

    def build(self, call: AgentCall) -> Priced:
        """The event of `call`; raises ingest's EventError when the ledger would refuse it."""
        user, project = self.attribution.of(call.cwd)
        tags: dict[str, Any] = {AGENT_TAG: call.tool, **call.tags}
        if call.session:
            tags[SESSION_TAG] = call.session
        t = call.tokens
        event = Event(
            id=call.event_id,
            timestamp=call.timestamp,
            provider=call.provider,
            model=call.model,
            project=project or None,
            user=user or None,
            feature=call.tool,
            tags=tags,
            input_tokens=t.input,
            cached_input_tokens=t.cached_input,
            cache_write_5m_tokens=t.cache_write_5m,
            cache_write_1h_tokens=t.cache_write_1h,
            output_tokens=t.output,
            reasoning_tokens=t.reasoning,
            request_id=call.request_id,
        )
        if bad := next((n for n in _TEXT if "\x00" in (getattr(event, n) or "")), None):
            raise EventError(bad, f"{bad} contains a NUL character, which the ledger cannot store")
        record = event_to_record(event)
        self.pricer.price(record)
        if self.covered_by is not None:
            tags[COVERED_BY_TAG] = self.covered_by
            if record.cost is not None:
                tags[USAGE_VALUE_TAG] = format_money(record.cost)
                tags[USAGE_VALUE_CURRENCY_TAG] = record.currency
            event.cost = Decimal(0)
            event_to_record(event)  # the tags still fit
        return Priced(as_json(event), record.cost, record.currency, self.covered_by is not None)


def as_json(event: Event) -> dict[str, Any]:
    """The event's fields that differ from their defaults, as JSON values."""
    out: dict[str, Any] = {}
    for name, default in _DEFAULTS.items():
        value = getattr(event, name)
        if value is None or value == default:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = format_money(value)
        out[name] = value
    return out

"""`EventIn`: the event's fields (event.py) with the constraints each column imposes.

A batch is validated at once from the raw bytes (pydantic-core parses and validates in
one pass), so every constraint a column imposes is declared here: a value the database
would refuse must be rejected per event, or it would fail the whole batch's transaction.
The fields, their types, defaults and documentation come from `event.Event`; this module
adds only the rules, so a field added there is accepted here (and documented) at once.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from spendledger.ingest.event import TOKEN_FIELDS, Event
from spendledger.store.tables import DIM

# Bounds keep every sum of a column inside a 64-bit integer, in nano-units for money.
MAX_COUNT = 10**12
MAX_COST = 10**9
COUNT: dict[str, Any] = {"ge": 0, "le": MAX_COUNT}

RULES: dict[str, dict[str, Any]] = {
    "id": {"min_length": 1, "max_length": 396},
    "provider": {"min_length": 1, "max_length": DIM},
    "model": {"min_length": 1, "max_length": DIM},
    **dict.fromkeys(
        ("account", "workspace", "project", "api_key_id", "user", "feature", "customer"), {"max_length": DIM}
    ),
    "requests": COUNT,
    **dict.fromkeys(TOKEN_FIELDS, COUNT),
    "service_tier": {"max_length": 32},
    "cost": {"ge": 0, "le": MAX_COST, "allow_inf_nan": False},
    "currency": {"pattern": r"^[A-Za-z]{3}$"},
    "latency_ms": {"ge": 0, "le": 2**31 - 1},
    "status": {"pattern": r"^(ok|error|cancelled)$"},
    "request_id": {"max_length": DIM},
}
TYPES: dict[str, Any] = {"timestamp": AwareDatetime}  # a time without a zone is refused per event


def _fields() -> dict[str, Any]:
    hints = typing.get_type_hints(Event)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(Event):
        default = ... if f.default is dataclasses.MISSING else f.default
        rules = {**f.metadata, **RULES.get(f.name, {})}
        fields[f.name] = (Annotated[TYPES.get(f.name, hints[f.name]), Field(**rules)], default)
    return fields


# Unknown fields are ignored so that newer SDKs can send more than this server reads.
EventIn: type[BaseModel] = create_model(
    "EventIn", __config__=ConfigDict(extra="ignore"), __doc__=Event.__doc__, **_fields()
)
EventBatchIn: type[BaseModel] = create_model("EventBatchIn", events=(list[EventIn], ...))  # type: ignore[valid-type]

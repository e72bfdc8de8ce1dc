"""Garbage thrown at every input path: never a 5xx, and the good rows of a batch are kept.

The events API gets batches mixing good events with events whose fields (or the event
itself) are random JSON: nested up to 1 500 levels, numbers of thousands of digits,
strings with NUL, lone surrogates and any character. GET /api/v1/spend and the explorer
get random query parameters. The OTLP receiver gets exports mixing a good span with
spans of random attribute values, and exports mutated at random.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from spendledger.store.tables import usage
from test_otlp import CHAT, json_export

PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_ids = itertools.count()

# JSON texts: scalars, odd strings and numbers, containers of them, deep nesting
NUMBERS = st.one_of(  # as JSON texts
    st.integers().map(str),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-1e400", "1e-400", "-0", "0.0", "9" * 5000, "-" + "9" * 4400]),
)
STRINGS = st.one_of(
    st.text(max_size=30),  # lone surrogates included, escaped by json.dumps
    st.sampled_from(["", "\x00", "a\x00b", "\u202e", "💸" * 50, "x" * 300, "2026-11-20T10:00:00Z"]),
)
SCALARS = st.one_of(
    st.none().map(json.dumps), st.booleans().map(json.dumps), NUMBERS, STRINGS.map(json.dumps)
)
JSON_TEXT = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.dictionaries(st.text(max_size=8).map(json.dumps), children, max_size=4).map(
            lambda d: "{" + ",".join(f"{k}:{v}" for k, v in d.items()) + "}"
        ),
    ),
    max_leaves=12,
)
DEEP = st.integers(min_value=1, max_value=1500).map(lambda n: "[" * n + "]" * n)
GARBAGE = st.one_of(JSON_TEXT, DEEP, DEEP.map(lambda d: '{"a": ' + d + "}"))
FIELDS = [
    "id", "timestamp", "provider", "model", "account", "project", "user", "tags", "requests",
    "input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "cost",
    "currency", "latency_ms", "status", "service_tier", "batch", "extra",
]  # fmt: skip


def good_event() -> dict[str, Any]:
    return {
        "id": f"good-{next(_ids)}",
        "timestamp": "2026-11-20T10:00:00Z",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "input_tokens": 100,
        "output_tokens": 20,
        "tags": {"env": "test"},
    }


def as_text(fields: dict[str, str]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in fields.items()) + "}"


# an item of a batch: (is it good, its JSON text)
BAD_EVENTS = st.one_of(
    st.tuples(st.sampled_from(FIELDS), GARBAGE).map(
        lambda fv: (False, as_text({**{k: json.dumps(v) for k, v in good_event().items()}, fv[0]: fv[1]}))
    ),
    GARBAGE.map(lambda text: (False, text)),
)
GOOD_EVENTS = st.builds(good_event).map(lambda e: (True, json.dumps(e)))


def stored_keys(engine: Engine, keys: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(usage.c.key).where(usage.c.key.in_(keys))).scalars())


@PROPERTY
@given(items=st.lists(st.one_of(GOOD_EVENTS, BAD_EVENTS), min_size=1, max_size=6))
def test_events_api_garbage_is_rejected_per_event_and_good_events_are_kept(
    client: TestClient, engine: Engine, items: list[tuple[bool, str]]
) -> None:
    body = '{"events": [' + ",".join(text for _, text in items) + "]}"
    response = client.post("/api/v1/events", content=body.encode("utf-8", "surrogatepass"))
    assert response.status_code == 200, response.text
    result = response.json()
    good = [i for i, (ok, _) in enumerate(items) if ok]
    assert not {r["index"] for r in result["rejected"]} & set(good), result
    assert result["accepted"] + result["duplicates"] + result["rejected_count"] == len(items)
    keys = [f"api:{json.loads(items[i][1])['id']}" for i in good]
    assert stored_keys(engine, keys) == set(keys)


@PROPERTY
@given(body=st.one_of(st.binary(max_size=200), JSON_TEXT.map(str.encode), DEEP.map(str.encode)))
def test_events_api_any_body_is_never_a_server_error(client: TestClient, body: bytes) -> None:
    response = client.post("/api/v1/events", content=body)
    assert response.status_code in (200, 422), response.text


PARAM_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    st.sampled_from(
        ["0001-01-01", "9999-12-31", "2026-01-01garbage", "2026-02-30", "999999999d", "0d", "mtd", "x\x00y"]
    ),
)
PARAMS = st.lists(
    st.tuples(
        st.sampled_from(["from", "to", "period", "by", "filter", "granularity", "basis", "format"]),
        PARAM_TEXT,
    )
    | st.tuples(
        st.just("filter"), st.tuples(st.sampled_from(["provider", "project", "x"]), PARAM_TEXT).map(":".join)
    )
    | st.tuples(st.just("granularity"), st.sampled_from(["day", "week", "month", "total"])),
    max_size=5,
)


@PROPERTY
@given(params=PARAMS)
def test_spend_api_any_parameters_are_a_200_or_a_400(
    client: TestClient, params: list[tuple[str, str]]
) -> None:
    response = client.get("/api/v1/spend", params=params)
    assert response.status_code in (200, 400, 422), response.text


@PROPERTY
@given(params=PARAMS)
def test_explore_page_any_parameters_are_a_200_or_a_400_page(
    admin_client: TestClient, params: list[tuple[str, str]]
) -> None:
    response = admin_client.get("/explore", params=params)
    assert response.status_code in (200, 400), response.text
    assert response.headers["content-type"].startswith("text/html")


GOOD_SPAN = 1
ANY_VALUE = st.one_of(
    st.text(max_size=20).map(lambda s: {"stringValue": s}),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda n: {"intValue": str(n)}),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: {"doubleValue": f}),
    st.booleans().map(lambda b: {"boolValue": b}),
    st.sampled_from(["--5", "9" * 5000, "-3", " 12 ", "1e3", "٣", ""]).map(lambda s: {"stringValue": s}),
)
ATTRIBUTE_KEYS = st.sampled_from([*CHAT, "user.id", "spendledger.account", "gen_ai.usage.cost", "other"])


@PROPERTY
@given(
    spans=st.lists(st.dictionaries(ATTRIBUTE_KEYS, ANY_VALUE, max_size=6), min_size=1, max_size=4),
    start=st.integers(min_value=0, max_value=2**64 - 1),
)
def test_otlp_spans_with_garbage_values_are_rejected_spans_and_the_good_one_is_kept(
    client: TestClient, engine: Engine, spans: list[dict[str, Any]], start: int
) -> None:
    body = json_export((GOOD_SPAN, CHAT))
    trace = f"{next(_ids):032x}"
    good = body["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    good["traceId"] = trace
    for n, values in enumerate(spans, start=2):
        bad = {
            **good,
            "spanId": f"{n:016x}",
            "attributes": [{"key": k, "value": v} for k, v in values.items()],
        }
        if n == 2:
            bad["startTimeUnixNano"] = str(start)
        body["resourceSpans"][0]["scopeSpans"][0]["spans"].append(bad)
    response = client.post("/v1/traces", json=body)
    assert response.status_code == 200, response.text
    rejected = int(response.json().get("partialSuccess", {}).get("rejectedSpans", 0))
    assert rejected <= len(spans)
    key = f"otlp:{trace}{good['spanId']}"
    assert stored_keys(engine, [key]) == {key}


@PROPERTY
@given(
    path=st.lists(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "attributes", 0, "value"]), max_size=6
    ),
    garbage=GARBAGE,
)
def test_otlp_any_mutated_export_is_never_a_server_error(
    client: TestClient, path: list[Any], garbage: str
) -> None:
    body: Any = json_export((GOOD_SPAN, CHAT))
    node = body
    for step in path:  # walk as far as the path leads, then put garbage there
        child = node[step] if isinstance(node, dict) and step in node else None
        if isinstance(node, list) and isinstance(step, int) and node:
            child = node[0]
        if not isinstance(child, dict | list):
            break
        node = child
    text = json.dumps(body)
    marker = json.dumps(node)
    mutated = text.replace(marker, garbage, 1) if marker in text else garbage
    response = client.post(
        "/v1/traces",
        content=mutated.encode("utf-8", "surrogatepass"),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (200, 400), response.text

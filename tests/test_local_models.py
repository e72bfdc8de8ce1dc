"""Local models: calls to Ollama, LM Studio, vLLM or llama.cpp are self-hosted, $0 by default
(status `self_hosted`, never `unpriced`), or at a configured price per 1M tokens or per GPU-hour.

Figures, by hand:
- $0.20 per 1M tokens in and out: 1,200,000 in + 300,000 out = 1.5M × $0.20 = $0.30;
  at $0.10 (a newer override): $0.15.
- $3.60 per GPU-hour ($0.001 per GPU-second), GPU time from the call's latency:
  4,500 ms → $0.0045; 90,000 ms → $0.09; a call without latency → unpriced (no guess).
  With a throughput of 500 tokens/s the GPU time is the call's tokens ÷ 500:
  1,500 tokens → 3 s → $0.003; 75,000 → 150 s → $0.15; 3,000 → 6 s → $0.006; total $0.159.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import Engine, select

import spendledger
from clirun import cli_runner
from fakes.local_llm import OLLAMA_PORT, LocalLLMServer
from logins import csrf_of, text_of
from otlp_spans import accepted, export, post_proto, span
from sdk_ledger import Ledger, sdk_ledger
from spendledger.config import Settings
from spendledger.errors import SpendledgerError
from spendledger.local_servers import (
    ENV_LOCAL_SERVERS,
    parse_servers,
    server_provider,
    split_address,
    url_provider,
)
from spendledger.model_names import canonical_provider
from spendledger.pricing import Pricer, parse_prices
from spendledger.records import TokenCounts, from_nanos
from spendledger.store.tables import usage
from spendledger.web import create_app

MESSAGES: list[Any] = [{"role": "user", "content": "Summarise the ledger."}]
NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def rows(engine: Engine) -> dict[str, dict[str, Any]]:
    """The stored records by key, with their cost in dollars."""
    with engine.connect() as conn:
        found = {r.key: dict(r._mapping) for r in conn.execute(select(usage))}
    for row in found.values():
        row["cost"] = from_nanos(row["cost_nanos"])
    return found


def event(n: int, provider: str = "ollama", model: str = "llama3.1:70b", **fields: Any) -> dict[str, Any]:
    return {"id": f"local-{n}", "timestamp": (NOW - timedelta(minutes=n)).isoformat(), "provider": provider,
            "model": model, **fields}  # fmt: skip


def send(client: TestClient, *events: dict[str, Any]) -> None:
    response = client.post("/api/v1/events", json={"events": list(events)})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.json()


# --- the tracker (SDK) --------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    monkeypatch.delenv(ENV_LOCAL_SERVERS, raising=False)
    with sdk_ledger(tmp_path, sqlite_template) as ledger:
        yield ledger


def test_local_sdk_ollama_call_is_self_hosted_at_zero(ledger: Ledger) -> None:
    with LocalLLMServer(usage=(1_200, 300)) as srv:
        assert srv.url.endswith(f":{OLLAMA_PORT}/v1")  # at Ollama's port, on a loopback address
        with openai.OpenAI(base_url=srv.url, api_key="ollama", max_retries=0) as client:
            spendledger.instrument(client, project="notes")
            reply = client.chat.completions.create(model="llama3.2:3b", messages=MESSAGES)
            chunks = list(client.chat.completions.create(model="llama3.2:3b", messages=MESSAGES, stream=True))
        assert reply.usage is not None and reply.usage.total_tokens == 1_500
        # the stream was asked for its usage, and the usage-only chunk is hidden from the caller
        assert srv.requests[1].body["stream_options"] == {"include_usage": True}
        assert all(chunk.choices for chunk in chunks)
    stored = ledger.rows()
    assert len(stored) == 2
    for row in stored:
        assert (row["provider"], row["model"], row["project"]) == ("ollama", "llama3.2:3b", "notes")
        assert (row["input_tokens"], row["output_tokens"]) == (1_200, 300)
        # self-hosted, no price set: $0, and not waiting for a price
        assert (row["pricing_status"], row["cost"], row["unpriced_requests"]) == ("self_hosted", 0, 0)
        assert row["price_source"] == "self-hosted, no price set: $0"


def test_local_sdk_configured_address_and_explicit_provider(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LocalLLMServer(usage=(10, 5), port=0) as srv:  # a free port: no server's default
        with openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0) as client:
            spendledger.instrument(client)  # an unknown port on localhost may be a proxy: kept
            client.chat.completions.create(model="llama3.2:3b", messages=MESSAGES)
        monkeypatch.setenv(ENV_LOCAL_SERVERS, f"127.0.0.1:{srv.port}=vLLM")
        with openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0) as client:
            spendledger.instrument(client)
            client.chat.completions.create(model="llama3.2:3b", messages=MESSAGES)
        with openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0) as client:
            spendledger.instrument(client, provider="LM Studio")
            client.chat.completions.create(model="llama3.2:3b", messages=MESSAGES)
    got = [(r["provider"], r["pricing_status"], r["cost"]) for r in ledger.rows()]
    # the unpriced call's cost column holds 0 and its request counts as unpriced
    assert got == [("openai", "unpriced", 0), ("vllm", "self_hosted", 0), ("lmstudio", "self_hosted", 0)]


# --- OTLP ------------------------------------------------------------------------------------


def local_span(n: int, **attributes: Any) -> Any:
    return span(
        n,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "openai",  # an OpenAI client pointed at the local server says so
            "gen_ai.request.model": "llama3.2:3b",
            "gen_ai.usage.input_tokens": 1_000,
            "gen_ai.usage.output_tokens": 500,
            **attributes,
        },
    )


def test_local_otlp_server_address_makes_a_call_self_hosted(client: TestClient, engine: Engine) -> None:
    request = export(
        local_span(0, **{"server.address": "localhost:11434"}),  # the port inside the address
        local_span(1, **{"server.address": "127.0.0.1", "server.port": 8000, "gen_ai.system": "vLLM"}),
        local_span(2, **{"server.address": "localhost", "server.port": 4000}),  # a proxy, maybe
        local_span(
            3,
            **{"server.address": "api.openai.com", "server.port": 443, "gen_ai.request.model": "gpt-4o-mini"},
        ),  # fmt: skip
    )
    assert not accepted(post_proto(client, request)).HasField("partial_success")
    got = sorted(
        (r["start"], r["provider"], r["pricing_status"], r["cost"], r["tags"]) for r in rows(engine).values()
    )
    assert [g[1:4] for g in got] == [
        ("ollama", "self_hosted", 0),
        ("vllm", "self_hosted", 0),
        ("openai", "unpriced", 0),  # llama3.2:3b is no OpenAI model: waits for a price
        # 1,000 × $0.15/M + 500 × $0.60/M = $0.00015 + $0.0003
        ("openai", "priced", Decimal("0.00045")),
    ]
    assert got[0][4]["otel.reported_provider"] == "openai"
    assert "otel.reported_provider" not in got[1][4]  # vLLM said so itself


def test_local_otlp_configured_host(settings: Settings, token: str, engine: Engine) -> None:
    configured = Settings(
        **{**settings.model_dump(), "local_servers": "gpu-box.lan:9000=llama.cpp, gpu2=local"}
    )
    request = export(
        local_span(0, **{"server.address": "gpu-box.lan", "server.port": 9000}),
        local_span(1, **{"server.address": "GPU2", "server.port": 80}),  # a host without port: any
    )
    with TestClient(create_app(configured), headers={"Authorization": f"Bearer {token}"}) as client:
        accepted(post_proto(client, request))
    assert sorted(r["provider"] for r in rows(engine).values()) == ["llamacpp", "self-hosted"]


# --- configured prices, re-pricing ----------------------------------------------------------


def test_local_price_per_million_tokens_and_repricing(
    client: TestClient, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(client, event(1, input_tokens=1_200_000, output_tokens=300_000))
    assert rows(engine)["api:local-1"]["cost"] == 0
    run = cli_runner(db_url, tmp_path, monkeypatch)
    note = "GPU box, amortised over 3 years"
    out = run("prices", "set", "--provider", "ollama", "--model", "*", "--input", "0.20", "--output", "0.20",
              "--note", note).output  # fmt: skip
    assert "1 changed" in out
    row = rows(engine)["api:local-1"]
    # 1.5M tokens × $0.20/M = $0.30, still self-hosted
    assert (row["cost"], row["pricing_status"], row["price_source"]) == (
        Decimal("0.30"), "self_hosted", f"override #1: {note}"
    )  # fmt: skip
    run("prices", "set", "--provider", "ollama", "--model", "llama3.1:*", "--input", "0.1", "--output", "0.1",
        "--note", "cheaper power")  # fmt: skip
    assert rows(engine)["api:local-1"]["cost"] == Decimal("0.15")  # 1.5M × $0.10/M, the newer wins
    run("prices", "remove", "2")
    run("prices", "remove", "1")
    row = rows(engine)["api:local-1"]
    assert (row["cost"], row["pricing_status"]) == (0, "self_hosted")
    shown = run("prices", "show", "llama3.1:70b", "--provider", "ollama").output
    assert "$0 (self-hosted)" in shown and "Source: self-hosted, no price set: $0" in " ".join(shown.split())


def test_local_price_per_gpu_hour(
    client: TestClient, engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(
        client,
        event(1, provider="vllm", input_tokens=1_000, output_tokens=500, latency_ms=4_500),
        event(2, provider="vllm", input_tokens=60_000, output_tokens=15_000, latency_ms=90_000),
        event(3, provider="vllm", input_tokens=2_000, output_tokens=1_000),  # no latency
        event(4, provider="openai", model="gpt-4o-mini", input_tokens=1_000, latency_ms=4_500),
    )
    run = cli_runner(db_url, tmp_path, monkeypatch)
    run("prices", "set", "--provider", "vllm", "--model", "*", "--gpu-hour", "3.60", "--note", "A100 rental")
    got = {k: (r["cost"], r["pricing_status"]) for k, r in rows(engine).items()}
    assert got == {
        "api:local-1": (Decimal("0.0045"), "self_hosted"),  # 4.5 s × $3.60/3600
        "api:local-2": (Decimal("0.09"), "self_hosted"),  # 90 s × $3.60/3600
        "api:local-3": (0, "unpriced"),  # no latency, no throughput: no guess
        "api:local-4": (Decimal("0.00015"), "priced"),  # 1,000 × $0.15/M: the catalogue's, untouched
    }
    assert "vllm" in run("prices", "unpriced").output
    run("prices", "set", "--provider", "vllm", "--model", "*", "--gpu-hour", "3.60",
        "--tokens-per-second", "500", "--note", "A100 rental, 500 tokens/s measured")  # fmt: skip
    got = {k: r["cost"] for k, r in rows(engine).items() if r["provider"] == "vllm"}
    # 1,500 / 500 = 3 s; 75,000 / 500 = 150 s; 3,000 / 500 = 6 s; × $0.001 per second
    assert got == {
        "api:local-1": Decimal("0.003"),
        "api:local-2": Decimal("0.15"),
        "api:local-3": Decimal("0.006"),
    }
    assert sum(got.values()) == Decimal("0.159")
    assert "Every record has a price." in run("prices", "unpriced").output
    listed = " ".join(run("prices", "list").output.split())
    assert "$3.60 per GPU-hour" in listed and "500 tokens/s" in listed


def test_local_gpu_hour_price_from_the_prices_page(
    client: TestClient, admin_client: TestClient, engine: Engine
) -> None:
    send(client, event(1, provider="llamacpp", model="gemma-3-4b", latency_ms=4_500))
    csrf = csrf_of(admin_client.get("/prices").text)
    form = {
        "provider": "llama.cpp",
        "model": "gemma-*",
        "gpu_hour": "3.60",
        "note": "Mac Studio",
        "csrf_token": csrf,
    }
    html = admin_client.post("/prices/overrides", data=form).text
    assert "Re-priced 1 records: 1 changed" in text_of(html)
    assert (rows(engine)["api:local-1"]["cost"], rows(engine)["api:local-1"]["pricing_status"]) == (
        Decimal("0.0045"),  # 4.5 s × $3.60 / 3600
        "self_hosted",
    )
    lookup = text_of(admin_client.get("/prices", params={"model": "gemma-3-4b", "provider": "llamacpp"}).text)
    assert "GPU time $3.60 per GPU-hour" in lookup and "GPU time of a call its latency" in lookup


# --- pages and reports: local models are not waiting for a price -----------------------------


def test_local_models_are_not_listed_as_unpriced(
    client: TestClient, admin_client: TestClient, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(
        client,
        event(1, provider="ollama", input_tokens=1_000),
        event(2, provider="lm_studio", model="qwen2.5-7b-instruct", input_tokens=1_000),
        event(3, provider="llama.cpp", model="gemma-3-4b", input_tokens=1_000),
        event(4, provider="acme", model="acme-llm-7b", input_tokens=1_000),  # truly unknown
    )
    prices = text_of(admin_client.get("/prices").text)
    waiting = prices[prices.index("Records waiting for a price") :]
    assert "acme-llm-7b" in waiting
    assert not re.search(r"ollama|lmstudio|llamacpp|llama3|qwen|gemma", waiting)
    overview = text_of(admin_client.get("/").text)
    assert "4 1 unpriced" in overview  # 4 requests in 30 days, 1 of them unpriced: acme's
    unpriced = run_unpriced(db_url, tmp_path, monkeypatch)
    assert "acme" in unpriced and "ollama" not in unpriced and "lmstudio" not in unpriced


def run_unpriced(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    return str(cli_runner(db_url, tmp_path, monkeypatch)("prices", "unpriced").output)


# --- names, addresses, bad input ----------------------------------------------------------------


def test_local_provider_spellings_unify() -> None:
    spellings = {"Ollama": "ollama", "LM Studio": "lmstudio", "lm_studio": "lmstudio", "vLLM": "vllm",
                 "llama.cpp": "llamacpp", "llama-cpp": "llamacpp", "local": "self-hosted"}  # fmt: skip
    assert {s: canonical_provider(s) for s in spellings} == spellings
    assert Pricer().rates_for("LM_Studio", "qwen2.5-7b-instruct", NOW) is not None  # $0, not unknown


def test_local_server_addresses() -> None:
    assert [url_provider(u) for u in ("http://localhost:11434/v1/", "http://127.0.0.1:1234/v1",
            "http://[::1]:8000/v1", "http://host.docker.internal:8080", "http://localhost:4000",
            "https://api.openai.com/v1", "http://10.0.0.5:11434", "not a url at all")] == [
        "ollama", "lmstudio", "vllm", "llamacpp", None, None, None, None]  # fmt: skip
    servers, problems = parse_servers("gpu-box.lan:8000=vllm, 10.0.0.5=ollama,,[::1]:9000=llamacpp")
    assert problems == []
    assert server_provider("10.0.0.5", 11434, servers) == "ollama"  # a host without a port: any
    assert server_provider("GPU-BOX.lan", 8000, servers) == "vllm"
    assert server_provider("gpu-box.lan", 8001, servers) is None
    assert server_provider("::1", 9000, servers) == "llamacpp"
    assert split_address("localhost:11434", None) == ("localhost", 11434)
    assert split_address("[::1]:8000", None) == ("[::1]", 8000)
    assert split_address("::1", 8000) == ("::1", 8000)


def test_local_bad_configuration_says_what_to_write() -> None:
    _, problems = parse_servers("gpu-box.lan:8000, a b=vllm, host:99999=ollama")
    assert problems == [
        "SPENDLEDGER_LOCAL_SERVERS: 'gpu-box.lan:8000' is not host[:port]=provider; "
        "write e.g. gpu-box.lan:8000=vllm,localhost:9090=llamacpp",
        "SPENDLEDGER_LOCAL_SERVERS: 'a b=vllm' is not host[:port]=provider; "
        "write e.g. gpu-box.lan:8000=vllm,localhost:9090=llamacpp",
        "SPENDLEDGER_LOCAL_SERVERS: 'host:99999=ollama' has port 99999; a port is 1 to 65535",
    ]
    with pytest.raises(ValidationError, match="'gpu-box.lan:8000' is not host"):
        Settings(local_servers="gpu-box.lan:8000")


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"gpu_hour": "2", "input": "0.2"}, "either tokens or GPU time, not both (input_mtok with gpu_hour)"),
        ({"tokens_per_second": "500"}, "give the GPU-hour price with it"),
        ({"gpu_hour": "2", "tokens_per_second": "0"}, "tokens_per_second must be above zero"),
        ({"gpu_hour": "-1"}, "price for 'gpu_hour' must be zero or more"),
    ],
)
def test_local_bad_gpu_prices_are_refused(prices: dict[str, str], message: str) -> None:
    with pytest.raises(SpendledgerError, match=re.escape(message)):
        parse_prices(prices)


def test_local_cli_refuses_tokens_with_gpu_time(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = cli_runner(db_url, tmp_path, monkeypatch)
    result = run("prices", "set", "--provider", "vllm", "--model", "*", "--gpu-hour", "2", "--input", "0.1",
                 "--note", "n", ok=False)  # fmt: skip
    assert result.exit_code != 0
    assert "either tokens or GPU time, not both" in result.output


@given(st.text(max_size=200))
def test_local_servers_parser_never_raises(text: str) -> None:
    servers, problems = parse_servers(text)
    assert all(isinstance(p, str) for p in problems)
    for (host, port), provider in servers.items():
        assert host and provider and (port is None or 0 < port < 65536)


@given(st.dictionaries(st.sampled_from(["gpu_hour", "tokens_per_second", "input", "gpu-hour", "x"]),
                       st.text(max_size=12), max_size=4))  # fmt: skip
def test_local_gpu_price_parser_raises_only_our_errors(prices: dict[str, str]) -> None:
    try:
        parsed = parse_prices(prices)
    except SpendledgerError:
        return
    # what parses builds rates a Pricer can use: a GPU-time cost or a token cost
    from spendledger.pricing import PriceOverride

    rates = PriceOverride(1, "vllm", "*", parsed, "n").rates()
    assert rates.cost_of(TokenCounts(input=10, output=5), 1, 1_000) is not None

"""`spendledger prices ...`: what a model costs, the user's overrides, re-pricing.

Overrides are how a model the catalogue does not know (a fine-tune, a self-hosted
model, a negotiated rate) gets a price; `prices set` re-prices the records it covers
straight away, so a report run next shows the new figures.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from spendledger.cli.context import (
    cli_actor,
    fail,
    open_ledger,
    out,
    parse_day,
    print_table,
    progress_bar,
    user_errors,
)
from spendledger.pricing import Pricer
from spendledger.pricing.display import guess_provider, price_lines, source_kind
from spendledger.pricing.overrides import day_start
from spendledger.pricing.pricer import CATALOGUE, price_day
from spendledger.queries import unpriced_models
from spendledger.repricing import RepriceResult, reprice
from spendledger.store import Engine, audit
from spendledger.store.overrides import add_override, list_overrides, load_overrides, remove_override

app = typer.Typer(help="Prices: look up, override, re-price.", no_args_is_help=True)

SET_HINT = (
    "spendledger prices set --provider {provider} --model {model} --input PRICE --output PRICE "
    '--note "where the price comes from"   (USD per 1M tokens)'
)


@app.command("show")
def show(
    ctx: typer.Context,
    model: str,
    provider: Annotated[
        str | None, typer.Option(help="openai, anthropic, ...; guessed when left out.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="The day to look prices up on (YYYY-MM-DD); default now.")
    ] = None,
) -> None:
    """The rates a call to MODEL pays, and where they come from."""
    day = parse_day("--at", at)
    when = price_day(day) if day else datetime.now(UTC)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        overrides = load_overrides(conn)
    guessed = provider or guess_provider(model, overrides)
    rates = Pricer(overrides).rates_for(guessed or "", model, when)
    if rates is None:
        who = f"{guessed}/{model}" if guessed else model
        fail(
            f"unknown model: no price for {who} on {when.date()}: neither the catalogue ({CATALOGUE}) nor "
            f"an override covers it. Add a price with:\n  "
            + SET_HINT.format(provider=guessed or "PROVIDER", model=model)
        )
    table = Table(
        "Price", f"{rates.currency} per 1M tokens", title=f"{guessed or '?'}/{model} · {when.date()}"
    )
    for kind, label in price_lines(rates):
        table.add_row(kind, label)
    print_table(table)
    catalogue = source_kind(rates.source) == "catalogue"
    out().print(f"Source: catalogue ({rates.source})" if catalogue else f"Source: {rates.source}")


@app.command("set")
def set_(
    ctx: typer.Context,
    provider: Annotated[str, typer.Option(help="openai, anthropic, ... or '*' for any provider.")],
    model: Annotated[str, typer.Option(help="A model name or pattern: gpt-4o, ft:gpt-4o-mini:acme:*")],
    note: Annotated[
        str, typer.Option(help="Where the price comes from: contract, invoice, pricing page URL.")
    ],
    input_: Annotated[str | None, typer.Option("--input", help="Per 1M input tokens.")] = None,
    output: Annotated[str | None, typer.Option(help="Per 1M output tokens.")] = None,
    cached_input: Annotated[str | None, typer.Option(help="Per 1M cached input tokens.")] = None,
    cache_write: Annotated[str | None, typer.Option(help="Per 1M tokens written to the cache.")] = None,
    cache_write_1h: Annotated[
        str | None, typer.Option(help="Per 1M tokens written to the 1 h cache.")
    ] = None,
    gpu_hour: Annotated[
        str | None, typer.Option(help="A self-hosted model: the cost of one hour of its server.")
    ] = None,
    tokens_per_second: Annotated[
        str | None,
        typer.Option(
            help="With --gpu-hour: the server's throughput; a call's GPU time is then its tokens ÷ it."
        ),
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First day it applies (YYYY-MM-DD, UTC).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="First day it no longer applies.")] = None,
    currency: Annotated[str, typer.Option(help="The currency the prices are in.")] = "USD",
    do_reprice: Annotated[
        bool, typer.Option("--reprice/--no-reprice", help="Re-price covered records.")
    ] = True,
) -> None:
    """Add a price override, then re-price the records it covers."""
    prices = {
        kind: value
        for kind, value in {
            "input": input_,
            "output": output,
            "cached_input": cached_input,
            "cache_write": cache_write,
            "cache_write_1h": cache_write_1h,
            "gpu-hour": gpu_hour,
            "tokens-per-second": tokens_per_second,
        }.items()
        if value is not None
    }
    first, last = parse_day("--from", start), parse_day("--to", end)
    with open_ledger(ctx) as engine:
        with user_errors(), engine.begin() as conn:
            override_id = add_override(
                conn,
                provider=provider,
                model_pattern=model,
                prices=prices,
                note=note,
                effective_from=first,
                effective_to=last,
                currency=currency,
            )
            audit.record(
                conn, actor=cli_actor(), action="price_override.add", what={"id": override_id, "model": model}
            )
        out().print(f"Added price override #{override_id} for {provider}/{model}.")
        if do_reprice:
            _reprice_and_report(engine, since=day_start(first))


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """The price overrides, oldest first (the newest wins where two cover a call)."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        overrides = list_overrides(conn)
    if not overrides:
        out().print(
            "No price overrides. Add one with:\n  " + SET_HINT.format(provider="PROVIDER", model="MODEL")
        )
        return
    table = Table("ID", "Provider", "Model", "Prices (per 1M tokens)", "From", "Until (excl.)", "Note")
    for o in overrides:
        table.add_row(
            str(o.id),
            o.provider or "*",
            o.model_pattern,
            ", ".join(f"{kind} {price}" for kind, price in price_lines(o.rates())),
            _day(o.effective_from),
            _day(o.effective_to),
            o.note,
        )
    print_table(table)


@app.command("remove")
def remove(
    ctx: typer.Context,
    override_id: Annotated[int, typer.Argument(metavar="ID", help="The override's id (`prices list`).")],
    do_reprice: Annotated[
        bool, typer.Option("--reprice/--no-reprice", help="Re-price covered records.")
    ] = True,
) -> None:
    """Remove a price override, then re-price the records it covered."""
    with open_ledger(ctx) as engine:
        with engine.begin() as conn:
            removed = next((o for o in list_overrides(conn) if o.id == override_id), None)
            if removed is None or not remove_override(conn, override_id):
                fail(f"no price override #{override_id}; `spendledger prices list` shows them")
            audit.record(conn, actor=cli_actor(), action="price_override.remove", what={"id": override_id})
        out().print(
            f"Removed price override #{override_id} ({removed.provider or '*'}/{removed.model_pattern})."
        )
        if do_reprice:
            _reprice_and_report(engine, since=removed.effective_from)


@app.command("unpriced")
def unpriced(ctx: typer.Context) -> None:
    """Models with records waiting for a price (never counted as $0)."""
    with open_ledger(ctx) as engine, engine.connect() as conn:
        models = unpriced_models(conn)
    console = out()
    if not models:
        console.print("Every record has a price.")
        return
    columns = (
        "Provider",
        "Model",
        "Records",
        "Requests",
        "Input tokens",
        "Output tokens",
        "First seen",
        "Last seen",
    )
    table = Table(*columns, title="Records waiting for a price")
    for m in models:
        table.add_row(
            m.provider,
            m.model or "—",
            f"{m.records:,}",
            f"{m.requests:,}",
            f"{m.input_tokens:,}",
            f"{m.output_tokens:,}",
            m.first_seen.date().isoformat(),
            m.last_seen.date().isoformat(),
        )
    print_table(table)
    first = models[0]
    console.print(
        "Add a price and re-price these records with:\n  "
        + SET_HINT.format(provider=first.provider, model=first.model)
    )


@app.command("reprice")
def reprice_cmd(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option(help="Only records from this day on (YYYY-MM-DD, UTC).")
    ] = None,
) -> None:
    """Price again what the catalogue or an override now covers (provider costs stay)."""
    first = parse_day("--since", since)
    with open_ledger(ctx) as engine:
        _reprice_and_report(engine, since=day_start(first))


def _reprice_and_report(engine: Engine, *, since: datetime | None) -> RepriceResult:
    with engine.connect() as conn:
        pricer = Pricer(load_overrides(conn))
    with progress_bar("Re-pricing") as progress:
        result = reprice(engine, pricer=pricer, since=since, progress=progress)
    out().print(
        f"Re-priced {result.examined:,} records: {result.changed:,} changed, "
        f"{result.newly_priced:,} newly priced, {result.still_unpriced:,} still unpriced."
    )
    return result


def _day(value: datetime | None) -> str:
    return "—" if value is None else value.date().isoformat()

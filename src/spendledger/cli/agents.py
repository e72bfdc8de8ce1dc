"""`spendledger agents ...`: coding agents' local logs into the ledger, and what they cost.

`agents import claude-code|codex|gemini-cli [PATH ...]` reads the tool's logs (its own
folders by default) and writes the calls to the configured ledger, or with `--send URL
--token T` to a spendledger server, so each developer's laptop reports to the team's
ledger; `--watch` then follows the files until Ctrl-C. A re-run changes nothing.
Malformed lines are listed with file:line and skipped; the command fails (exit 1) only
when the destination cannot be reached or refuses events. `agents report` shows the
spend the imported calls count and the usage value a subscription covered.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from spendledger.agents.attribution import Attribution
from spendledger.agents.delivery import ApiSink, LedgerSink, Sink
from spendledger.agents.events import check_plan
from spendledger.agents.importer import Importer, ImportSummary, follow, run_once
from spendledger.agents.logfiles import default_roots
from spendledger.agents.usage import GROUPS, AgentUsage, agent_usage, check_groups
from spendledger.cli.context import (
    err,
    fail,
    open_ledger,
    out,
    parse_day,
    print_table,
    progress_bar,
    settings_of,
    today_in,
    user_errors,
)
from spendledger.errors import SpendledgerError
from spendledger.records import display_money, format_money

app = typer.Typer(
    help="Coding agents' local logs (Claude Code, Codex, Gemini CLI) into the ledger.", no_args_is_help=True
)
PROBLEMS_SHOWN = 20


class Tool(enum.StrEnum):
    CLAUDE_CODE = "claude-code"
    CODEX = "codex"
    GEMINI_CLI = "gemini-cli"


class Format(enum.StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command("import")
def import_(
    ctx: typer.Context,
    tool: Annotated[Tool, typer.Argument(help="claude-code, codex or gemini-cli.")],
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Log files or folders (default: the tool's own folders).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="The user (default: git's user.email, else the OS user).")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="The project (default: each session's repository folder).")
    ] = None,
    send: Annotated[
        str | None, typer.Option(metavar="URL", help="Send to this spendledger server instead of the ledger.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(envvar="SPENDLEDGER_TOKEN", help="The server's API token (with --send).")
    ] = None,
    covered_by: Annotated[
        str | None,
        typer.Option(
            metavar="PLAN", help="The calls are paid by a flat plan (e.g. claude-max): usage value, $0 spend."
        ),
    ] = None,
    watch: Annotated[bool, typer.Option(help="Keep following the logs until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between reads with --watch.")] = 2.0,
    watch_for: Annotated[
        float | None, typer.Option(min=0, metavar="SECONDS", help="With --watch: stop after SECONDS.")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
) -> None:
    """Read TOOL's session logs and store (or send) each call once, priced from the catalogue."""
    with user_errors():
        check_plan(covered_by)
    roots = list(paths or ()) or default_roots(tool.value)
    if not any(root.exists() for root in roots):
        shown = ", ".join(str(r) for r in roots)
        err().print(f"No {tool.value} logs found (looked in {shown}); nothing to import.", style="yellow")
    attribution = Attribution(user=user, project=project)
    with _sink(ctx, send, token) as sink, _sending(sink):
        importer = Importer(
            tool.value, roots=roots, sink=sink, attribution=attribution, covered_by=covered_by
        )
        if watch:
            err().print(f"Following {tool.value} logs into {sink.where}; Ctrl-C stops.")
            summary = follow(importer, interval=interval, duration=watch_for, on_poll=_said)
        else:
            with progress_bar(f"Reading {tool.value} logs") as progress:
                importer.progress = progress
                summary = run_once(importer)
    _show(summary, fmt)
    if summary.rejected:
        raise typer.Exit(1)


@contextmanager
def _sink(ctx: typer.Context, send: str | None, token: str | None) -> Iterator[Sink]:
    if send is not None:
        with user_errors():
            api = ApiSink(send, token)
        try:
            yield api
        finally:
            api.close()
        return
    settings = settings_of(ctx)
    with open_ledger(ctx) as engine:
        yield LedgerSink(engine, tz=settings.tz, where=engine.url.render_as_string(hide_password=True))


@contextmanager
def _sending(sink: Sink) -> Iterator[None]:
    try:
        yield
    except SpendledgerError as exc:
        fail(
            f"{exc}\nThe calls sent before this are stored; run the import again to send the rest "
            "(nothing is counted twice)."
        )


def _said(importer: Importer, sent: int) -> None:
    if sent:
        err().print(f"+{sent} call{'s' if sent != 1 else ''}")
    if importer.waiting:
        err().print(f"{importer.waiting}; trying again at the next read", style="yellow", markup=False)


def _money(amounts: dict[str, Decimal]) -> str:
    return ", ".join(display_money(v, c) for c, v in sorted(amounts.items())) or display_money(
        Decimal(0), "USD"
    )


def summary_dict(summary: ImportSummary) -> dict[str, Any]:
    return {
        "tool": summary.tool,
        "destination": summary.where,
        "covered_by": summary.covered_by,
        "files": summary.files,
        "lines": summary.lines,
        "calls": summary.calls,
        "stored": summary.stored,
        "already_stored": summary.duplicates,
        "rejected": summary.rejected,
        "malformed": [str(p) for p in summary.problems],
        "spend": {c: format_money(v) for c, v in sorted(summary.spend.items())},
        "covered_usage_value": {c: format_money(v) for c, v in sorted(summary.covered.items())},
        "unpriced_calls": summary.unpriced,
    }


def _show(summary: ImportSummary, fmt: Format) -> None:
    if fmt is Format.JSON:
        typer.echo(json.dumps(summary_dict(summary), indent=2))
    else:
        console = out()
        console.print(
            f"{summary.tool}: {summary.calls:,} calls in {summary.files:,} files "
            f"({summary.lines:,} lines) → {summary.where}: {summary.stored:,} stored, "
            f"{summary.duplicates:,} already stored, {len(summary.rejected):,} refused."
        )
        if summary.covered_by:
            console.print(
                f"Covered by {summary.covered_by}: usage value {_money(summary.covered)} at list prices "
                "(not counted as spend)."
            )
        else:
            console.print(f"Spend at list prices: {_money(summary.spend)}.")
        if summary.unpriced:
            console.print(f"{summary.unpriced:,} calls of models without a known price are stored unpriced.")
    for reason in summary.rejected[:PROBLEMS_SHOWN]:
        err().print(f"refused: {reason}", style="red", markup=False)
    if summary.problems:
        count = len(summary.problems)
        err().print(f"{count:,} malformed line{'s' if count != 1 else ''} skipped:", style="yellow")
        for problem in summary.problems[:PROBLEMS_SHOWN]:
            err().print(f"  {problem}", markup=False)
        if len(summary.problems) > PROBLEMS_SHOWN:
            err().print(
                f"  … and {len(summary.problems) - PROBLEMS_SHOWN:,} more (--format json lists them all)"
            )


@app.command("report")
def report(
    ctx: typer.Context,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD, local).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, included (default: today).")] = None,
    by: Annotated[list[str] | None, typer.Option(help=f"Group by NAME,... of: {', '.join(GROUPS)}.")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table or json.")] = Format.TABLE,
) -> None:
    """The imported calls (default: the last 30 days by tool and plan): spend counted, usage value covered."""
    settings = settings_of(ctx)
    last = parse_day("--to", end) or today_in(settings)
    first = parse_day("--from", start) or last - timedelta(days=29)
    with user_errors():
        groups = check_groups(by or ()) or ("tool", "covered_by")
    if first > last:
        fail(f"--from {first} is after --to {last}", code=2)
    with open_ledger(ctx) as engine, engine.connect() as conn:
        result = agent_usage(conn, start=first, end=last, by=groups)
    if fmt is Format.JSON:
        typer.echo(json.dumps(usage_dict(result), indent=2))
    else:
        print_table(usage_table(result))


def usage_dict(result: AgentUsage) -> dict[str, Any]:
    def money(amounts: dict[str, Decimal]) -> dict[str, str]:
        return {c: format_money(v) for c, v in sorted(amounts.items())}

    return {
        "from": result.start.isoformat(),
        "to": result.end.isoformat(),
        "by": list(result.by),
        "rows": [
            {
                **row.group,
                "calls": row.calls,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "spend": money(row.spend),
                "covered_usage_value": money(row.covered),
                "unpriced_calls": row.unpriced,
            }
            for row in result.rows
        ],
        "spend": money(result.spend),
        "covered_usage_value": money(result.covered),
    }


def usage_table(result: AgentUsage) -> Table:
    table = Table(
        title=f"Coding agents {result.start} → {result.end}",
        caption="spend: what the ledger counts · usage value covered: the list price of calls "
        "a plan paid for, not counted as spend",
    )
    for name in result.by:
        table.add_column(name.replace("_", " ").capitalize(), overflow="fold")
    for name in ("Calls", "Input tokens", "Output tokens", "Spend", "Usage value covered"):
        table.add_column(name, justify="right", no_wrap=True)
    for i, row in enumerate(result.rows):
        table.add_row(
            *(row.group[g] or "—" for g in result.by),
            f"{row.calls:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            _money(row.spend),
            _money(row.covered) if row.covered else "—",
            end_section=i == len(result.rows) - 1,
        )
    table.add_row(
        "Total",
        *[""] * (len(result.by) - 1),
        f"{sum(r.calls for r in result.rows):,}",
        f"{sum(r.input_tokens for r in result.rows):,}",
        f"{sum(r.output_tokens for r in result.rows):,}",
        _money(result.spend),
        _money(result.covered) if result.covered else "—",
        style="bold",
    )
    return table

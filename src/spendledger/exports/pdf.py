"""A period's report as a PDF (A4), drawn with ReportLab: text, tables and a vector chart.

Why ReportLab (README "Monthly report"): it lays out flowing tables across pages and draws
charts as vector shapes in pure Python, embeds a TrueType font it ships (Bitstream Vera,
subset, so the PDF reads the same on every machine with no font of the system's and no
network), writes the text with a Unicode map (copy, search and the tests read it back),
and its footprint is the smallest of the candidates (see the README for the figures).

Money is shown as on every page (`display_money`: cents, or two significant digits below a
cent); the chart's bar heights are the only floats, and only for drawing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from spendledger.exports.pdf_chart import daily_chart
from spendledger.exports.pdf_style import BOLD, FONT, INK, MUTED, RULE, SHADE, register_fonts
from spendledger.exports.report_figures import BASIS_WORDS, Breakdown, ReportFigures, percent
from spendledger.reconcile import CATEGORY_LABELS, CATEGORY_SHORT, KIND_LABELS
from spendledger.records import display_money

WIDTH = A4[0] - 36 * mm  # the text block between the margins
LABELS = {
    "provider": "Provider",
    "account": "Account",
    "project": "Project",
    "model": "Model",
    "user": "User",
}
PLURAL = {
    "provider": "providers",
    "account": "accounts",
    "project": "projects",
    "model": "models",
    "user": "users",
}


def _style(size: float, *, bold: bool = False, colour: Any = INK, **kw: Any) -> ParagraphStyle:
    return ParagraphStyle(
        f"s{size}{bold}",
        fontName=BOLD if bold else FONT,
        fontSize=size,
        leading=size * 1.3,
        textColor=colour,
        **kw,
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_pdf(figures: ReportFigures) -> bytes:
    """The report as PDF bytes: summary, daily chart, breakdowns, budgets, anomalies,
    reconciliation and the basis of the figures."""
    register_fonts()
    buffer = io.BytesIO()
    title = f"Spend report — {figures.period.label}"
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=title,
        author="spendledger",
        subject=f"LLM spend, {figures.period.start} to {figures.through}",
        creator="spendledger",
    )
    story: list[Flowable] = [Paragraph(_esc(title), _style(17, bold=True)), Spacer(1, 2 * mm)]
    story.append(Paragraph(_esc(_subtitle(figures)), _style(8.5, colour=MUTED)))
    story += [Spacer(1, 4 * mm), *_summary(figures)]
    story += _section(
        "Daily spend by provider", daily_chart(figures, width=WIDTH), "best available basis, per local day"
    )
    for breakdown in figures.breakdowns:
        story += _section(
            f"Spend by {breakdown.dimension}",
            _breakdown_table(breakdown, figures),
            _top_note(breakdown, figures),
        )
    story += _budgets(figures)
    story += _anomalies(figures)
    story += _reconciliation(figures)
    story += _basis_notes(figures)

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(18 * mm, 9 * mm, f"spendledger · {title}")
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _subtitle(f: ReportFigures) -> str:
    days = f"{f.period.start:%-d %b %Y} – {f.through:%-d %b %Y}"
    if not f.complete:
        days += f" (to date; the {f.period.kind} ends {f.period.end:%-d %b})"
    scope = " ".join(f"{dim}={','.join(values)}" for dim, values in f.scope.items()) or "all spend"
    return (
        f"{days} · days in {f.timezone} · figures in {f.currency} · scope: {scope} · "
        f"generated {f.generated_at:%Y-%m-%d %H:%M %Z}"
    )


def money(amount: Decimal, currency: str) -> str:
    return display_money(amount, currency)


def _signed(amount: Decimal, currency: str) -> str:
    return ("+" if amount > 0 else "") + money(amount, currency)


def _pct(value: Decimal | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{'+' if signed and value > 0 else ''}{value} %"


def _summary(f: ReportFigures) -> list[Flowable]:
    cur = f.currency
    compared = _compared(f)
    change = (
        f"{_signed(f.change, cur)} ({_pct(f.change_pct, signed=True)})"
        if f.previous_total
        else f"{_signed(f.change, cur)} (nothing spent before)"
    )
    rows = [
        ["Total spend", money(f.total, cur)],
        [f"Previous: {compared}", money(f.previous_total, cur)],
        ["Change", change],
        ["Basis of the total", " · ".join(f"{b} {money(v, cur)}" for b, v in f.bases.items()) or "no spend"],
        ["Requests", f"{f.requests:,}"],
        ["Tokens (input + output)", f"{f.tokens:,}"],
    ]
    if f.unpriced_requests:
        rows.append(["Unpriced requests (no cost yet)", f"{f.unpriced_requests:,}"])
    for other, amount in f.other_currencies.items():
        rows.append(
            [f"Also spent in {other}", f"{money(amount, other)} (not converted, not in these figures)"]
        )
    table = Table(
        [
            [Paragraph(_esc(k), _style(9, colour=MUTED)), Paragraph(_esc(v), _style(9, bold=i == 0))]
            for i, (k, v) in enumerate(rows)
        ],
        colWidths=[55 * mm, WIDTH - 55 * mm],
    )
    table.setStyle(
        TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.3, RULE), ("VALIGN", (0, 0), (-1, -1), "TOP")])
    )
    return [table]


def _section(heading: str, body: Flowable | list[Flowable], note: str = "") -> list[Flowable]:
    parts: list[Flowable] = [
        Paragraph(_esc(heading), _style(11.5, bold=True, spaceBefore=5 * mm, spaceAfter=1 * mm))
    ]
    if note:
        parts.append(Paragraph(_esc(note), _style(7.5, colour=MUTED, spaceAfter=1.5 * mm)))
    items = body if isinstance(body, list) else [body]
    return [KeepTogether([*parts, *items[:1]]), *items[1:]]


def _top_note(b: Breakdown, f: ReportFigures) -> str:
    count = len(b.top) + (b.rest.count if b.rest else 0)
    plural = PLURAL[b.dimension]
    shown = f"the top {len(b.top)} of {count} {plural}" if b.rest else f"all {count} {plural}"
    return f"{shown}; best available basis; previous: {_compared(f)}"


def _compared(f: ReportFigures) -> str:
    """The days the figures are compared with: "October 2026", or "1 Oct – 3 Oct 2026 (as many days)"."""
    if f.compared.days == f.period.previous.days:
        return f.compared.label
    return f"{f.compared.start:%-d %b} – {f.compared.end:%-d %b %Y} (as many days)"


def _grid(
    rows: Sequence[Sequence[str]], widths: Sequence[float], *, numeric: Sequence[int], total: bool = False
) -> Table:
    """A table: a header row, rows of text (long names wrap), numbers aligned right."""
    head, cell = _style(7.5, bold=True, colour=MUTED), _style(8)
    right_head, right = (
        _style(7.5, bold=True, colour=MUTED, alignment=TA_RIGHT),
        _style(8, alignment=TA_RIGHT),
    )
    data = [
        [
            Paragraph(
                _esc(text),
                (right_head if j in numeric else head) if i == 0 else (right if j in numeric else cell),
            )
            for j, text in enumerate(row)
        ]
        for i, row in enumerate(rows)
    ]
    table = Table(data, colWidths=list(widths), repeatRows=1)
    style = [
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, RULE),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if total:
        style.append(("BACKGROUND", (0, -1), (-1, -1), SHADE))
    table.setStyle(TableStyle(style))
    return table


def _breakdown_table(b: Breakdown, f: ReportFigures) -> Flowable | list[Flowable]:
    if not b.top:
        return Paragraph("No spend in this period.", _style(8.5, colour=MUTED))
    cur = f.currency
    rows = [[LABELS[b.dimension], "Spend", "Share", "Previous", "Change", "Basis"]]
    for line in [*b.top, *([b.rest] if b.rest else [])]:
        rows.append(
            [
                line.name,
                money(line.cost, cur),
                _pct(percent(line.cost, f.total)),
                money(line.previous, cur),
                _signed(line.change, cur),
                " + ".join(line.bases),
            ]
        )
    rows.append(
        [
            "Total",
            money(f.total, cur),
            _pct(percent(f.total, f.total)),
            money(f.previous_total, cur),
            _signed(f.change, cur),
            " + ".join(f.bases),
        ]
    )
    widths = [WIDTH - 126 * mm, 26 * mm, 18 * mm, 26 * mm, 26 * mm, 30 * mm]
    return _grid(rows, widths, numeric=(1, 2, 3, 4), total=True)


def _budgets(f: ReportFigures) -> list[Flowable]:
    if f.budgets is None:
        return []
    if not f.budgets:
        return _section("Budgets", Paragraph("No budgets are set.", _style(8.5, colour=MUTED)))
    rows = [["Budget", "Window", "Spent", "Amount", "Used", "How it ended"]]
    for b in f.budgets:
        rows.append(
            [
                f"{b.name} ({b.scope}, {b.period})",
                b.window,
                money(b.spent, b.currency),
                money(b.amount, b.currency),
                f"{b.percent} %",
                b.outcome,
            ]
        )
    widths = [WIDTH - 132 * mm, 34 * mm, 22 * mm, 22 * mm, 18 * mm, 36 * mm]
    return _section(
        "Budgets",
        _grid(rows, widths, numeric=(2, 3, 4)),
        "each budget on its own basis and scope, over its windows in the period",
    )


def _anomalies(f: ReportFigures) -> list[Flowable]:
    note = (
        "days whose spend jumped against the usual for that weekday (as `spendledger anomalies` finds them)"
    )
    if not f.anomalies:
        return _section(
            "Anomalies", Paragraph("No anomalies in this period.", _style(8.5, colour=MUTED)), note
        )
    rows = [["Day", "Subject", "Spent", "Usual", "Driver and likely cause"]]
    for a in f.anomalies:
        rows.append(
            [a.day.isoformat(), a.subject, money(a.spent, a.currency), money(a.usual, a.currency), a.note]
        )
    if f.anomalies_left_out:
        note += f"; the {len(f.anomalies)} largest jumps, {f.anomalies_left_out} smaller ones not listed"
    widths = [22 * mm, 38 * mm, 22 * mm, 22 * mm, WIDTH - 104 * mm]
    return _section("Anomalies", _grid(rows, widths, numeric=(2, 3)), note)


def _reconciliation(f: ReportFigures) -> list[Flowable]:
    """The reconciliation's summary per provider, as `spendledger reconcile` prints it: billed,
    metered, coverage, gap and flagged days, then the gap by category (they add up to it)."""
    if f.reconciliation is None:
        return []
    note = (
        "each provider's bill beside your metered estimate over the period's UTC days, in the "
        "currency billed (as `spendledger reconcile` shows it); coverage is metered as a share of "
        "billed; a flagged day's billed and metered differ by more than the tolerance"
    )
    if not f.reconciliation:
        return _section(
            "Reconciliation",
            Paragraph("No billed or metered records in this period.", _style(8.5, colour=MUTED)),
            note,
        )
    rows = [
        ["Provider", "Currency", "Billed", "Metered", "Coverage", "Gap (billed − metered)", "Flagged days"]
    ]
    for p in f.reconciliation:
        rows.append(
            [
                p.provider,
                p.currency,
                money(p.billed, p.currency),
                money(p.metered, p.currency),
                _pct(p.coverage),
                money(p.gap, p.currency),
                f"{len(p.flagged_days)} of {p.days}",
            ]
        )
    widths = [WIDTH - 140 * mm, 18 * mm, 26 * mm, 26 * mm, 20 * mm, 30 * mm, 20 * mm]
    parts = _section("Reconciliation", _grid(rows, widths, numeric=(2, 3, 4, 5, 6)), note)
    explained = [["Provider", "Category", "Amount", "What it is"]]
    for p in f.reconciliation:
        for category, amount in p.gaps.items():
            detail = CATEGORY_LABELS[category]
            if category == "non_token" and p.non_token:
                detail = ", ".join(f"{KIND_LABELS[k]} {money(v, p.currency)}" for k, v in p.non_token.items())
            explained.append([p.provider, CATEGORY_SHORT[category], money(amount, p.currency), detail])
    if len(explained) > 1:
        widths = [WIDTH - 124 * mm, 36 * mm, 26 * mm, 62 * mm]
        parts += _section(
            "The gap explained",
            _grid(explained, widths, numeric=(2,)),
            "each provider's gap split by cause; its amounts add up to the gap above",
        )
    return parts


def _basis_notes(f: ReportFigures) -> list[Flowable]:
    lines = [
        "Every spend figure above is on the best available basis: for each provider account and UTC day, "
        "the billed figure wins where a billing sync covers it and the metered estimate fills the rest; "
        "manual entries always count. Nothing is counted twice. Each row names the bases it is made of:"
    ]
    lines += [f"<b>{basis}</b>: {_esc(BASIS_WORDS[basis])}" for basis in BASIS_WORDS]
    how = ["anomalies compare a day with the same weekday of the four weeks before"]
    if f.budgets is not None:
        how.insert(0, "each budget counts its own basis and scope")
    if f.reconciliation is not None:
        how.append(
            "the reconciliation sets billed and metered records side by side per UTC day, provider and "
            "account, in the currency billed, and leaves out manual entries and demo calls (no other side)"
        )
    text = "; ".join(how)
    lines.append(text[0].upper() + text[1:] + ".")
    body = [
        Paragraph(text if i else _esc(text), _style(8, spaceAfter=1 * mm)) for i, text in enumerate(lines)
    ]
    return _section("The basis of the figures", body)

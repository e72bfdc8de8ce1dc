"""GET /explore: the cost explorer, one `queries.spend` call drawn as charts and a table.

The view's whole state is the URL's query string, in the JSON API's own parameter names
(from, to, period, by, filter=DIM:VALUE, granularity, basis, currency), parsed by the same
`queries.build_query`: a bookmark reopens the view, and the export links
(`/api/v1/spend?<the same string>&format=csv|json`) return exactly the rows shown. A
member sees their scope only, in the figures and in the values the filters offer. An
htmx request (the form) gets the template's `results` block alone. A range that holds
today also shows its period-end projection with an 80 % band (projection.py), drawn as a
cone on the daily chart. The table shows PAGE_ROWS rows a page (`page=N`, not an API
parameter: the exports and the totals are the whole answer's), with links to the others.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import QueryParams

from spendledger import queries
from spendledger.alerts.links import filter_token
from spendledger.queries import Granularity, SpendQuery, SpendReport, SpendRow
from spendledger.records import Basis, shown_amount
from spendledger.store import Connection
from spendledger.store.mapped import recent_tag_keys
from spendledger.web.auth import PageViewer, scope_of, scoped
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep
from spendledger.web.pages.projection import Projection, project, with_cone

router = APIRouter(include_in_schema=False)

API_PARAMS = ("from", "to", "period", "by", "filter", "granularity", "basis", "currency")
# a bare /explore: a summary that reads at a glance (a row and a slice per provider, the
# month's projection); "Over time" adds the daily chart and a row per day
DEFAULT_VIEW = (("period", "30d"), ("by", "provider"), ("granularity", "total"))
FILTER_DIMS = (
    "provider",
    "account",
    "workspace",
    "project",
    "model",
    "user",
    "feature",
    "customer",
    "team",
    "basis",
)
# the filters' values come from four grouped reads; each group fits one rollup
OPTION_GROUPS = (
    ("provider", "account", "basis"),
    ("workspace", "project", "model", "team"),
    ("user", "customer"),
    ("feature",),
)
TAG_KEYS = "tag:"  # filter_options' entry of the tag keys the group-by offers (`tag:KEY`)
MAX_OPTIONS = 200  # per filter, the values with the most spend
MAX_SERIES = 8  # chart series; the rest are summed into one "other"
PAGE_ROWS = 500  # the table's rows a page; the totals, charts and exports are the whole answer's
_PAGE = re.compile(r"[0-9]{1,9}")
LABELS = {"api_key_id": "API key"}
PERIODS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "This month",
    "last-month": "Last month",
    "ytd": "Year to date",
}
BASES = {
    "best": "Best available",
    "all": "All bases",
    "billed": "Billed only",
    "metered": "Metered only",
    "manual": "Manual only",
    "demo": "Demo only",
}


def label(dim: str) -> str:
    if dim.startswith(TAG_KEYS):
        return f"Tag {dim[len(TAG_KEYS) :]}"
    return LABELS.get(dim, dim.capitalize())


@dataclass(frozen=True)
class Choice:
    value: str  # what the control sends
    text: str
    selected: bool


@dataclass(frozen=True)
class FilterControl:
    dim: str
    label: str
    choices: list[Choice]
    multiple: bool  # a bookmarked URL may OR several values of one dimension


@dataclass(frozen=True)
class Results:
    report: SpendReport
    bases: list[str]  # the bases that make up the total, in Basis order
    sums: dict[str, int]  # the totals row's counts, over every currency
    chart: dict[str, Any]
    projection: Projection | None = None  # when the range holds today
    page: int = 1  # the table's page (PAGE_ROWS rows each); past the last: the last

    @property
    def pages(self) -> int:
        return max(1, -(-len(self.report.lines) // PAGE_ROWS))

    @property
    def shown_page(self) -> int:
        return min(self.page, self.pages)

    @property
    def first_row(self) -> int:
        """The 0-based index of the page's first row in the whole answer."""
        return (self.shown_page - 1) * PAGE_ROWS

    @property
    def page_rows(self) -> list[SpendRow]:
        return self.report.rows[self.first_row : self.first_row + PAGE_ROWS]

    @property
    def timed(self) -> bool:
        return self.report.query.granularity is not Granularity.TOTAL

    @property
    def dimension_labels(self) -> list[str]:
        return [label(d) for d in self.report.query.by]

    @property
    def period_label(self) -> str | None:
        """The period column's header; in total, the range labels the only row when nothing groups."""
        names = {"day": "Day", "week": "Week of", "month": "Month"}
        query = self.report.query
        return names.get(query.granularity) or (None if query.by else "Period")

    @property
    def basis_label(self) -> str:
        return BASES[self.report.query.basis].lower()

    @property
    def filters(self) -> list[tuple[str, str]]:
        """The filters in force, the viewer's scope included, as the summary line names them."""
        shown = {queries.NOTHING: "nothing in your scope", "": "(none)", "-": "(none)", "none": "(none)"}
        return [
            (label(dim), ", ".join(shown.get(v, v) for v in values))
            for dim, values in self.report.query.filters.items()
        ]


@router.get("/explore", response_class=HTMLResponse)
def explore_page(
    request: Request, settings: SettingsDep, engine: EngineDep, templates: TemplatesDep, viewer: PageViewer
) -> HTMLResponse:
    """The explorer for the URL's query within the viewer's scope; the results block alone for htmx."""
    params = view_params(request.query_params)
    page = request.query_params.get("page", "1")
    partial = "HX-Request" in request.headers and "HX-History-Restore-Request" not in request.headers
    scope = scope_of(viewer.user)
    today = datetime.now(settings.tz).date()
    context: dict[str, Any] = {"viewer": viewer, "query_string": urlencode(params, safe=":,")}
    query: SpendQuery | None = None
    with engine.connect() as conn:
        try:
            query = scoped(parse_query(params, today=today, currency=settings.currency), viewer.user)
            query = queries.check_display_currency(conn, query)
            number = page_number(page)
        except queries.QueryError as exc:  # a friendly message on the page, not the API's JSON
            context["error"], query = str(exc), None
        if query is not None:
            found = explore(conn, query, today=today, preset=dict(params).get("period"))
            context["results"] = replace(found, page=number)
        if not partial:
            options = cached_filter_options(request, conn, query, scope) if query else {}
            context["form"] = form_state(params, options)
            chosen = dict(params).get("currency") or settings.currency or queries.ORIGINAL
            original = chosen.lower() == queries.ORIGINAL
            context["form"]["currency"] = queries.ORIGINAL if original else chosen.upper()
            context["form"]["currencies"] = queries.display_currencies(conn)
    return render(request, templates, context, partial=partial, status=400 if query is None else 200)


def view_params(query_params: QueryParams) -> list[tuple[str, str]]:
    """The request's API parameters, empty ones left out; a bare /explore gets the default view."""
    items = [(k, v.strip()) for k, v in query_params.multi_items() if k in API_PARAMS and v.strip()]
    return items or list(DEFAULT_VIEW)


def page_number(value: str) -> int:
    """The table's page of the `page` parameter: 1 or more (a page past the last shows the last)."""
    text = value.strip()
    if not _PAGE.fullmatch(text) or int(text) < 1:
        shown = text if len(text) <= 20 else text[:17] + "..."
        raise queries.QueryError("page", f"{shown!r} is not a page number; give 1 or more")
    return int(text)


def parse_query(params: Sequence[tuple[str, str]], *, today: date, currency: str | None = None) -> SpendQuery:
    """The query of the parameters, as the API parses them (a repeated single value: the last);
    `currency` is the display currency when the parameters name none (SPENDLEDGER_CURRENCY)."""
    last = dict(params)
    query = queries.build_query(
        today=today,
        start=last.get("from"),
        end=last.get("to"),
        period=last.get("period"),
        by=[v for k, v in params if k == "by"],
        filters=[v for k, v in params if k == "filter"],
        granularity=last.get("granularity", "total"),
        basis=last.get("basis", "best"),
        currency=last.get("currency", currency),
    )
    if len(query.by) > 2:
        raise queries.QueryError(
            "by", f"the explorer groups by one or two dimensions, not {len(query.by)}; the API takes more"
        )
    return query


def explore(
    conn: Connection, query: SpendQuery, *, today: date | None = None, preset: str | None = None
) -> Results:
    """The report of `query` with what the page adds: its bases, count totals and chart series;
    given `today`, the period-end projection when the range holds it (projection.py)."""
    report = queries.spend(conn, query)
    by_basis = queries.spend(conn, replace(query, by=("basis",), granularity=Granularity.TOTAL))
    present = {row.dims["basis"] for row in by_basis.rows}
    counts = ("requests", "input_tokens", "cached_input_tokens", "output_tokens", "unpriced_requests")
    sums = {name: sum(getattr(row, name) for row in report.rows) for name in counts}
    chart, projected = chart_of(report), None
    if today is not None and report.rows:
        projected = project(conn, query, preset=preset, today=today, currency=report.leading_currency)
        if projected is not None and query.granularity is Granularity.DAY:
            chart = with_cone(chart, report, projected)
    return Results(report, [str(b) for b in Basis if str(b) in present], sums, chart, projected)


def cached_filter_options(
    request: Request, conn: Connection, query: SpendQuery, scope: Mapping[str, Sequence[str]]
) -> dict[str, list[str | None]]:
    """`filter_options`, kept per app until the ledger's next write: they depend only on the
    period and the scope, and reading them is four breakdowns of the whole period (half
    of a two-year page's time, bench/pages.py)."""
    cache: dict[tuple[Any, ...], dict[str, list[str | None]]] = request.app.state.__dict__.setdefault(
        "explore_options", {}
    )
    key = (
        query.start,
        query.end,
        tuple(sorted((d, tuple(v)) for d, v in scope.items())),
        queries.last_write_at(conn),
    )
    found = cache.get(key)
    if found is None:
        if len(cache) >= 256:
            cache.pop(next(iter(cache)))  # the oldest
        found = cache[key] = filter_options(conn, query, scope)
    return found


def filter_options(
    conn: Connection, query: SpendQuery, scope: Mapping[str, Sequence[str]]
) -> dict[str, list[str | None]]:
    """The values each filter offers: what the ledger has in the period, within the viewer's scope."""
    spent: dict[str, dict[str | None, Decimal]] = {dim: {} for dim in FILTER_DIMS}
    for dims in OPTION_GROUPS:
        probe = SpendQuery(start=query.start, end=query.end, by=dims, basis="all")
        for row in queries.spend(conn, queries.restrict(probe, scope)).rows:
            for dim in dims:
                spent[dim][row.dims[dim]] = spent[dim].get(row.dims[dim], Decimal(0)) + row.cost
    options: dict[str, list[str | None]] = {}
    for dim, values in spent.items():
        top = sorted(values, key=lambda v: -values[v])[:MAX_OPTIONS]
        options[dim] = sorted(top, key=lambda v: (v is None, (v or "").lower()))
    options[TAG_KEYS] = list(recent_tag_keys(conn))
    return options


def form_state(params: Sequence[tuple[str, str]], options: Mapping[str, list[str | None]]) -> dict[str, Any]:
    """The form's controls set to the parameters; filters the form has no control for stay hidden."""
    last = dict(params)
    period = last.get("period") or ("" if "from" in last or "to" in last else "30d")
    periods = dict(PERIODS)
    if period and period not in periods:
        periods[period] = f"Last {period[:-1]} days" if period[:-1].isdigit() else period
    by = [d.strip() for k, v in params if k == "by" for d in v.split(",") if d.strip()]
    by = [d if d.startswith(TAG_KEYS) else d.replace("-", "_") for d in by]
    by = ["api_key_id" if d == "key" else d for d in by]
    tags = [f"{TAG_KEYS}{key}" for key in options.get(TAG_KEYS, []) if key]
    tags += [d for d in by if d.startswith(TAG_KEYS) and d not in tags]
    chosen: dict[str, list[str | None]] = {}
    hidden: list[str] = []
    for k, raw in params:
        if k != "filter":
            continue
        name, _, value = raw.partition("=" if "=" in raw else ":")
        dim, value = name.strip().replace("-", "_"), value.strip()
        if dim in FILTER_DIMS and not raw.strip().startswith(TAG_KEYS):
            chosen.setdefault(dim, []).append(None if value in ("", "-", "none") else value)
        else:
            hidden.append(raw)
    controls = []
    for dim in FILTER_DIMS:
        picked = chosen.get(dim, [])
        values = [*options.get(dim, []), *(v for v in picked if v not in options.get(dim, []))]
        choices = [Choice(filter_token(dim, v), "(none)" if v is None else v, v in picked) for v in values]
        controls.append(FilterControl(dim, label(dim), choices, len(picked) > 1))
    return {
        "period": period,
        "periods": periods,
        "start": last.get("from", ""),
        "end": last.get("to", ""),
        "by": [*by, "", ""][:2],
        "dimensions": [(d, label(d)) for d in (*queries.QUERY_DIMENSIONS, *tags)],
        "granularity": last.get("granularity", "total"),
        "basis": last.get("basis", "best"),
        "bases": BASES,
        "filters": controls,
        "filtered": bool(chosen or hidden),
        "hidden": hidden,
    }


def periods_of(query: SpendQuery) -> list[str]:
    """Every period of the query's range, so the chart shows the days without spend too."""
    out: list[str] = []
    if query.granularity is Granularity.MONTH:
        day = query.start.replace(day=1)
        while day <= query.end:
            out.append(day.isoformat()[:7])
            day = (day + timedelta(days=32)).replace(day=1)
        return out
    step = 7 if query.granularity is Granularity.WEEK else 1
    day = query.start - timedelta(days=query.start.weekday() if step == 7 else 0)
    while day <= query.end:
        out.append(day.isoformat())
        day += timedelta(days=step)
    return out


def chart_of(report: SpendReport) -> dict[str, Any]:
    """The charts' data in the report's main currency: stacked series over time by the first
    group-by, and its share of the total; past MAX_SERIES names, the smallest become one."""
    query, first = report.query, (report.query.by or (None,))[0]
    rows = [r for r in report.rows if r.currency == report.leading_currency]
    names = [(r.dims[first] or "(none)") if first else "Spend" for r in rows]
    totals: dict[str, Decimal] = {}
    for name, row in zip(names, rows, strict=True):
        totals[name] = totals.get(name, Decimal(0)) + row.cost
    ranked = sorted(totals, key=lambda n: (-totals[n], n))
    if len(ranked) > MAX_SERIES:
        kept, other = set(ranked[: MAX_SERIES - 1]), f"{len(ranked) - MAX_SERIES + 1} others"
        names = [n if n in kept else other for n in names]
        ranked = [*ranked[: MAX_SERIES - 1], other]
    share = dict.fromkeys(ranked, Decimal(0))
    for name, row in zip(names, rows, strict=True):
        share[name] += row.cost
    chart: dict[str, Any] = {
        "currency": report.leading_currency,
        "dimension": label(first) if first else None,
        "share": [{"name": n, "value": float(shown_amount(v))} for n, v in share.items()] if first else [],
    }
    if query.granularity is not Granularity.TOTAL:
        periods = sorted({*periods_of(query), *(r.period for r in rows if r.period)})
        index = {p: i for i, p in enumerate(periods)}
        cells = {n: [Decimal(0)] * len(periods) for n in ranked}
        for name, row in zip(names, rows, strict=True):
            cells[name][index[row.period or ""]] += row.cost
        chart["periods"] = periods
        chart["series"] = [{"name": n, "data": [float(shown_amount(v)) for v in cells[n]]} for n in ranked]
    return chart


def render(
    request: Request, templates: Jinja2Templates, context: dict[str, Any], *, partial: bool, status: int
) -> HTMLResponse:
    """The whole page, or for htmx only its `results` block (a block of the page's own template)."""
    if partial:
        template = templates.get_template("explore.html")
        blocks = template.blocks["results"](template.new_context({"request": request, **context}))
        response = HTMLResponse("".join(blocks), status_code=status)
    else:
        response = templates.TemplateResponse(request, "explore.html", context, status_code=status)
    response.headers["Vary"] = "HX-Request"  # one URL, two bodies: caches must tell them apart
    return response

"""GET /showback: what each team, project or customer cost (admins and viewers).

One `showback.showback` call drawn as a table: each group's direct spend, its shares of
the shared costs the allocation rules split (/allocation), and the total; the shared
spend no rule splits is shown unallocated, so the total column sums to the period's
spend. The state is the URL in GET /api/v1/showback's parameter names, and the CSV link
is that endpoint with the same parameters: the export holds exactly what is shown.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from spendledger import queries
from spendledger.showback import UNALLOCATED, Showback, showback
from spendledger.store.allocation import RULE_DIMENSIONS
from spendledger.web.auth import Viewer, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep
from spendledger.web.pages.explore import PERIODS

router = APIRouter(include_in_schema=False)

ReaderViewer = Annotated[Viewer, require("admin", "viewer")]
PARAMS = ("by", "period", "from", "to", "filter", "basis")
DEFAULT = (("by", "team"), ("period", "last-month"))


@router.get("/showback", response_class=HTMLResponse)
def showback_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, settings: SettingsDep, viewer: ReaderViewer
) -> HTMLResponse:
    """The showback of the URL's parameters (last month by team without any)."""
    params = [(k, v.strip()) for k, v in request.query_params.multi_items() if k in PARAMS and v.strip()]
    params = params or list(DEFAULT)
    last = dict(params)
    context: dict[str, Any] = {
        "viewer": viewer,
        "dimensions": RULE_DIMENSIONS,
        "periods": PERIODS,
        "by": last.get("by", "team"),
        "period": last.get("period") or ("" if "from" in last or "to" in last else "last-month"),
        "start": last.get("from", ""),
        "end": last.get("to", ""),
        "hidden": [(k, v) for k, v in params if k in ("filter", "basis")],
        "query_string": urlencode(params, safe=":,"),
        "unallocated_label": UNALLOCATED,
        "result": None,
        "error": None,
    }
    try:
        query = queries.build_query(
            today=datetime.now(settings.tz).date(),
            start=last.get("from"),
            end=last.get("to"),
            period=last.get("period"),
            by=[last.get("by", "team")],
            filters=[v for k, v in params if k == "filter"],
            basis=last.get("basis", "best"),
        )
        with engine.connect() as conn:
            result = showback(conn, query)
    except queries.QueryError as exc:  # a message on the page, not the API's JSON
        context["error"] = str(exc)
        return templates.TemplateResponse(request, "showback.html", context, status_code=400)
    context["result"] = result
    context["sums"] = sums(result)
    return templates.TemplateResponse(request, "showback.html", context)


def sums(result: Showback) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per currency, the table's footer: (direct with the unallocated, shared, total)."""
    out: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for currency, total in sorted(result.totals.items()):
        rows = [r for r in result.rows if r.currency == currency]
        direct = sum((r.direct for r in rows), result.unallocated.get(currency, Decimal(0)))
        out[currency] = (direct, sum((r.shared for r in rows), Decimal(0)), total)
    return out

"""/prices: what a model costs and why, the price overrides, the models waiting for a price.

A lookup asks the app's Pricer, so it shows what a record is priced at (overrides → shipped
corrections → genai-prices). An admin's add, edit or delete re-prices the records it covers
at once, as `spendledger prices set` does. Others read only; a member (scoped to their own
spend) does not see the unpriced volumes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from spendledger.pricing import OverrideError, PriceOverride
from spendledger.pricing.display import KIND_LABELS, guess_provider, price_lines
from spendledger.pricing.overrides import day_start
from spendledger.pricing.pricer import CATALOGUE, price_day
from spendledger.queries import unpriced_models
from spendledger.repricing import reprice
from spendledger.store import Engine, audit
from spendledger.store import overrides as stored
from spendledger.web.auth import PageViewer, Viewer, check_csrf, require, scope_of
from spendledger.web.deps import EngineDep, TemplatesDep, get_pricer

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    request: Request
    templates: Jinja2Templates
    engine: Engine


def _page(request: Request, templates: TemplatesDep, engine: EngineDep) -> Page:
    return Page(request, templates, engine)


PageDep = Annotated[Page, Depends(_page)]

# The form's price fields: `prices set`'s option names, which parse_prices accepts.
FORM_KINDS: dict[str, str] = {
    "input": "input_mtok",
    "cached_input": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "output": "output_mtok",
    "gpu_hour": "gpu_hour",  # a self-hosted model's GPU time (pricing/gpu.py)
    "tokens_per_second": "tokens_per_second",
}


class OverrideForm(BaseModel):
    """The add/edit form as posted: strings as typed, validated by the store."""

    provider: str = ""
    model: str = ""
    input: str = ""
    cached_input: str = ""
    cache_write: str = ""
    output: str = ""
    gpu_hour: str = ""
    tokens_per_second: str = ""
    effective_from: str = ""
    effective_to: str = ""
    note: str = ""
    csrf_token: str | None = None

    @classmethod
    def of(cls, o: PriceOverride) -> OverrideForm:
        prices = {field: str(o.prices.get(key, "")) for field, key in FORM_KINDS.items()}
        return cls(
            provider=o.provider or "*",
            model=o.model_pattern,
            effective_from=o.effective_from.date().isoformat() if o.effective_from else "",
            effective_to=o.effective_to.date().isoformat() if o.effective_to else "",
            note=o.note,
            **prices,
        )

    def to_override(self, kept: PriceOverride | None = None) -> dict[str, Any]:
        """`add_override`'s arguments; an edit keeps the kinds and currency the form does not show."""
        if not self.provider.strip():
            raise OverrideError("an override needs a provider: openai, anthropic, ... or * for any provider")
        prices = {k: str(v) for k, v in (kept.prices if kept else {}).items() if k not in FORM_KINDS.values()}
        prices.update({field: v for field in FORM_KINDS if (v := str(getattr(self, field)).strip())})
        return {
            "provider": self.provider,
            "model_pattern": self.model,
            "prices": prices,
            "note": self.note,
            "effective_from": _day("from", self.effective_from),
            "effective_to": _day("to", self.effective_to),
            "currency": kept.currency if kept else "USD",
        }


@dataclass(frozen=True)
class Lookup:
    provider: str | None
    model: str
    day: date
    prices: list[tuple[str, str]]  # (kind, "$0.15") per 1M tokens
    source: str  # the catalogue entry, or the shipped correction's or override's note


@router.get("/prices", response_class=HTMLResponse)
def prices_page(
    page: PageDep, viewer: PageViewer, model: str = "", provider: str = "", at: str = "",
    edit: int | None = None, add: bool = False,
) -> HTMLResponse:  # fmt: skip
    """The lookup (when a model is asked for), the overrides and the unpriced models."""
    editing = None
    if edit is not None and viewer.user.is_admin:
        with page.engine.connect() as conn:
            editing = _found(stored.get_override(conn, edit), edit)
    form = OverrideForm.of(editing) if editing else OverrideForm(provider=provider, model=model)
    return _render(page, viewer, lookup=(model, provider, at), form=form, editing=editing, add=add)


@router.post("/prices/overrides", response_class=HTMLResponse)
def add_price(page: PageDep, viewer: AdminViewer, form: Annotated[OverrideForm, Form()]) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)
    try:
        fields = form.to_override()
        with page.engine.begin() as conn:
            override_id = stored.add_override(conn, **fields)
            audit.record(conn, actor=viewer.user.email, action="price_override.add", what={"id": override_id})
    except OverrideError as exc:
        return _render(page, viewer, form=form, error=str(exc), status_code=400)
    notices = [f"Added price override #{override_id} for {form.provider.strip()}/{form.model.strip()}."]
    notices.append(_reprice(page, since=day_start(fields["effective_from"])))
    return _render(page, viewer, notices=notices)


@router.post("/prices/overrides/{override_id}/edit", response_class=HTMLResponse)
def edit_price(
    page: PageDep, viewer: AdminViewer, override_id: int, form: Annotated[OverrideForm, Form()]
) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)
    with page.engine.connect() as conn:
        old = _found(stored.get_override(conn, override_id), override_id)
    try:
        fields = form.to_override(kept=old)
        with page.engine.begin() as conn:
            _found(stored.update_override(conn, override_id, **fields) or None, override_id)
            audit.record(
                conn, actor=viewer.user.email, action="price_override.change", what={"id": override_id}
            )
    except OverrideError as exc:
        return _render(page, viewer, form=form, editing=old, error=str(exc), status_code=400)
    new_from = day_start(fields["effective_from"])
    since = None if old.effective_from is None or new_from is None else min(old.effective_from, new_from)
    notices = [f"Changed price override #{override_id}.", _reprice(page, since=since)]
    return _render(page, viewer, notices=notices)


@router.post("/prices/overrides/{override_id}/delete", response_class=HTMLResponse)
def delete_price(
    page: PageDep, viewer: AdminViewer, override_id: int, csrf_token: Annotated[str | None, Form()] = None
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)
    with page.engine.begin() as conn:
        removed = _found(stored.get_override(conn, override_id), override_id)
        stored.remove_override(conn, override_id)
        audit.record(conn, actor=viewer.user.email, action="price_override.remove", what={"id": override_id})
    notices = [
        f"Removed price override #{override_id} ({removed.provider or '*'}/{removed.model_pattern}).",
        _reprice(page, since=removed.effective_from),
    ]
    return _render(page, viewer, notices=notices)


def _render(
    page: Page,
    viewer: Viewer,
    *,
    lookup: tuple[str, str, str] = ("", "", ""),
    form: OverrideForm | None = None,
    editing: PriceOverride | None = None,
    add: bool = False,
    notices: list[str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    model, provider, at = (v.strip() for v in lookup)
    with page.engine.connect() as conn:
        overrides = stored.list_overrides(conn)
        unpriced = unpriced_models(conn) if not scope_of(viewer.user) else None
    found, lookup_error = _look_up(page, overrides, model, provider, at) if model else (None, None)
    kept = [KIND_LABELS[k] for k in editing.prices if k not in FORM_KINDS.values()] if editing else []
    context = {
        "viewer": viewer,
        "query": {"model": model, "provider": provider, "at": at or datetime.now(UTC).date().isoformat()},
        "lookup": found,
        "lookup_error": lookup_error,
        "overrides": [(o, price_lines(o.rates())) for o in overrides],
        "unpriced": unpriced,
        "form": form or OverrideForm(),
        "editing": editing,
        "kept": kept,
        "open_form": add or editing is not None or error is not None,
        "notices": notices or [],
        "error": error,
    }
    return page.templates.TemplateResponse(page.request, "prices.html", context, status_code=status_code)


def _look_up(
    page: Page, overrides: list[PriceOverride], model: str, provider: str, at: str
) -> tuple[Lookup | None, str | None]:
    """What `prices show` prints, as data: the rates on the day and their source, or why none."""
    try:
        day = date.fromisoformat(at) if at else None
    except ValueError:
        return None, f"as of: {at!r} is not a date (YYYY-MM-DD)"
    when = price_day(day) if day else datetime.now(UTC)
    guessed = provider or guess_provider(model, overrides)
    rates = get_pricer(page.request, page.engine).rates_for(guessed or "", model, when)
    if rates is None:
        who = f"{guessed}/{model}" if guessed else model
        return None, (
            f"unknown model: no price for {who} on {when.date()}: neither the catalogue ({CATALOGUE}) nor "
            "an override covers it."
        )
    source = rates.source
    if source.startswith("correction"):
        source = f"shipped {source}"
    elif not source.startswith("override #"):
        source = f"catalogue ({source})"
    return Lookup(guessed, model, when.date(), price_lines(rates), source), None


def _reprice(page: Page, *, since: datetime | None) -> str:
    """Re-price from `since` with the app's Pricer (rebuilt for the changed overrides)."""
    result = reprice(page.engine, pricer=get_pricer(page.request, page.engine), since=since)
    return (
        f"Re-priced {result.examined:,} records: {result.changed:,} changed, "
        f"{result.newly_priced:,} newly priced, {result.still_unpriced:,} still unpriced."
    )


def _day(which: str, value: str) -> date | None:
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError as exc:
        raise OverrideError(f"effective {which}: {value!r} is not a date (YYYY-MM-DD)") from exc


def _found(override: T | None, override_id: int) -> T:
    if override is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no price override #{override_id}")
    return override

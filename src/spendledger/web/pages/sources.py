"""/sources: the provider accounts the ledger syncs from; admins only.

The same library calls and messages as `spendledger sources ...` (cli/sources.py). A key
is sealed the moment it arrives and never rendered back: pages show its `key_hint`
(`sk-admin…a1b2`) and nothing else. "Sync now" runs `sync_source` in a daemon thread (the
source's lease keeps it safe beside the scheduler and other workers); the page polls a
status partial, which reads the run's progress from the database, until the run ends.
Changes answer with a redirect to /sources (the query string names what changed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from spendledger import sources_admin
from spendledger.config import Settings
from spendledger.secrets import SecretError, load_vault, mask
from spendledger.sources_admin import SourceError, SourceType
from spendledger.store import Connection, Engine
from spendledger.store.balances import BalanceRow, latest_balances
from spendledger.store.sources import (
    SourceExistsError,
    SourceRow,
    SyncRun,
    UnknownSourceError,
    get_source,
    list_sources,
    recent_runs,
    set_credential,
    update_source,
)
from spendledger.sync import sync_source
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

Csrf = Annotated[str | None, Form()]
Text = Annotated[str, Form()]
_LOCK = threading.Lock()  # guards each app's registry of background syncs


class SyncThread(threading.Thread):
    """One "Sync now": `sync_source` off the request thread, its outcome kept for the page."""

    def __init__(self, engine: Engine, settings: Settings, source: str) -> None:
        super().__init__(name=f"sync {source}", daemon=True)
        self.engine, self.settings, self.source = engine, settings, source
        self.note: str | None = None  # what the source's row cannot say: skipped, or failed to start

    def run(self) -> None:
        try:
            outcome = sync_source(self.engine, self.settings, self.source)
            self.note = outcome.error if outcome.skipped else None
        except Exception as exc:  # the source vanished or the database failed: show it, never raise
            self.note = f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class SourceView:
    row: SourceRow
    runs: list[SyncRun]
    records: int | None  # None while a sync runs (counting a large ledger each second is not free)
    running: bool
    note: str | None
    balances: list[BalanceRow] = field(default_factory=list)  # a balance source's latest, per currency


@dataclass(frozen=True)
class OptionField:
    """One input of the form: an option one or more source types declare (`providers`)."""

    name: str
    label: str
    help: str
    kind: str
    providers: tuple[str, ...]
    common: bool  # every type takes it: shown whatever the provider


def option_fields(types: list[SourceType]) -> list[OptionField]:
    """The form's option inputs, from the types' declarations; one per option name."""
    found: dict[str, OptionField] = {}
    for kind in types:
        for o in kind.all_options:
            if not o.form:
                continue
            seen = found.get(o.name)
            providers = (*seen.providers, kind.name) if seen else (kind.name,)
            found[o.name] = OptionField(o.name, o.label, o.help, o.kind, providers, False)
    everyone = {t.name for t in types}
    return [replace(f, common=set(f.providers) == everyone) for f in found.values()]


@dataclass
class SourceForm:
    """The add or edit form as typed (never the key), and what is wrong with it, by field."""

    provider: str = "openai"
    name: str = ""
    options: dict[str, str] = field(default_factory=dict)  # every option input, by name
    backfill_days: str = "90"
    interval_minutes: str = "60"
    errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a pasted value often brings a space or a newline along
        for attr, value in list(vars(self).items()):
            if isinstance(value, str):
                setattr(self, attr, value.strip())
        self.options = {k: v.strip() for k, v in self.options.items()}

    def chosen_options(self) -> dict[str, str]:
        """The filled-in options the chosen provider takes."""
        if sources_admin.unknown_type(self.provider):
            return {}
        kind = sources_admin.source_type(self.provider)
        return {o.name: self.options[o.name] for o in kind.all_options if o.form and self.options.get(o.name)}

    def check(self, key: str, *, new: bool) -> tuple[int, int]:
        """(backfill days, interval minutes), with a message naming each wrong field in `errors`."""
        if problem := sources_admin.unknown_type(self.provider):
            self.errors["provider"] = f"Provider: {problem}"
        else:
            self.errors |= sources_admin.check_options(
                sources_admin.source_type(self.provider), self.chosen_options(), key or None
            )
        if not self.name or len(self.name) > 200:
            self.errors["name"] = "Name: give the account a name (up to 200 characters), e.g. its org"
        if new and not key:
            self.errors["key"] = "Admin key: paste the organisation's admin key (sk-admin-… for OpenAI)"
        backfill = self._int("backfill_days", "Backfill days", 1, 3650)
        return backfill, self._int("interval_minutes", "Interval minutes", 5, 10080)

    def _int(self, attr: str, label: str, low: int, high: int) -> int:
        text = getattr(self, attr)
        if text.isdigit() and low <= int(text) <= high:
            return int(text)
        self.errors[attr] = f"{label}: a whole number from {low} to {high}"
        return low


async def source_form(request: Request) -> SourceForm:
    """The form's fields; the option inputs are those the source types declare."""
    data = await request.form()

    def text(name: str, default: str = "") -> str:
        value = data.get(name, default)
        return value if isinstance(value, str) else default

    names = {f.name for f in option_fields(sources_admin.source_types())}
    return SourceForm(
        text("provider", "openai"),
        text("name"),
        {name: text(name) for name in names},
        text("backfill_days", "90"),
        text("interval_minutes", "60"),
    )


@dataclass(frozen=True)
class SourcesPage:
    """What every route of the page needs; `render` the page or a partial of it."""

    request: Request
    templates: Jinja2Templates
    engine: Engine
    settings: Settings
    viewer: Viewer

    @property
    def syncs(self) -> dict[str, SyncThread]:
        """This app's background syncs by source name (other processes': the lease and the row)."""
        with _LOCK:
            if not hasattr(self.request.app.state, "source_syncs"):
                self.request.app.state.source_syncs = {}
        found: dict[str, SyncThread] = self.request.app.state.source_syncs
        return found

    def running(self, row: SourceRow) -> bool:
        thread = self.syncs.get(row.name)
        return row.last_status == "running" or (thread is not None and thread.is_alive())

    def view(self, conn: Connection, row: SourceRow, counts: dict[str, int] | None = None) -> SourceView:
        running, thread = self.running(row), self.syncs.get(row.name)
        if counts is None and not running:  # one source's count, once its sync is over
            counts = sources_admin.record_counts(self.engine, source=row.name)
        records = None if running or counts is None else counts.get(row.name, 0)
        note = thread.note if thread and not thread.is_alive() else None
        balances = latest_balances(conn, row.name).get(row.name, [])
        return SourceView(row, recent_runs(conn, row.name, limit=5), records, running, note, balances)

    def render(self, name: str = "sources.html", *, status_code: int = 200, **context: Any) -> HTMLResponse:
        if name == "sources.html":
            counts = sources_admin.record_counts(self.engine)
            with self.engine.connect() as conn:
                views = [self.view(conn, row, counts) for row in list_sources(conn)]
            context = {"form": SourceForm(), "sources": views} | context  # `edit`, `tested`, `error`: unset
        types = sources_admin.source_types()
        context |= {"viewer": self.viewer, "tz": self.settings.tz}
        context |= {"types": types, "option_fields": option_fields(types)}
        return self.templates.TemplateResponse(self.request, name, context, status_code=status_code)

    def source(self, name: str) -> SourceRow:
        with self.engine.connect() as conn:
            try:
                return get_source(conn, name)
            except UnknownSourceError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def sources_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, settings: SettingsDep,
    viewer: Annotated[Viewer, require("admin")],
) -> SourcesPage:  # fmt: skip
    return SourcesPage(request, templates, engine, settings, viewer)


PageDep = Annotated[SourcesPage, Depends(sources_page)]
FormDep = Annotated[SourceForm, Depends(source_form)]


def back(**params: str | int | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(
        "/sources" + ("?" + query if query else ""), status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/sources", response_class=HTMLResponse)
def list_page(page: PageDep) -> HTMLResponse:
    """The sources, their runs and the add form; `?added=`/`?saved=`/`?removed=` say what changed."""
    return page.render()


@router.post("/sources", response_class=HTMLResponse)
def add(page: PageDep, form: FormDep, csrf_token: Csrf = None, key: Text = "") -> Response:
    check_csrf(page.viewer, csrf_token)
    key = key.strip()
    backfill, interval = form.check(key, new=True)
    try:
        if not form.errors:
            sources_admin.add(
                page.engine, page.settings, provider=form.provider, name=form.name, key=key,
                options=form.chosen_options(), backfill_days=backfill, interval_minutes=interval,
                actor=page.viewer.user.email,
            )  # fmt: skip
    except SourceExistsError as exc:
        form.errors["name"] = f"Name: {exc}"
    except SecretError as exc:
        form.errors["key"] = f"Admin key: {exc}"
    return page.render(form=form, status_code=400) if form.errors else back(added=form.name)


@router.post("/sources/{name:path}/edit", response_class=HTMLResponse)
def edit(page: PageDep, name: str, form: FormDep, csrf_token: Csrf = None, key: Text = "") -> Response:
    """Change the options, the interval or the backfill; a blank key keeps the stored one."""
    check_csrf(page.viewer, csrf_token)
    row = page.source(name)
    form.provider, form.name, key = row.provider, row.name, key.strip()
    backfill, interval = form.check(key, new=False)
    shown = {f.name for f in option_fields(sources_admin.source_types())}
    kept = {k: v for k, v in row.options.items() if k not in shown}
    sealed = None
    try:
        if key and not form.errors:
            sealed = load_vault(page.settings).seal(key)
    except SecretError as exc:
        form.errors["key"] = f"Admin key: {exc}"
    if form.errors:
        return page.render(edit=form, status_code=400)
    with page.engine.begin() as conn:
        update_source(
            conn,
            row.name,
            options=kept | form.chosen_options(),
            backfill_days=backfill,
            interval_minutes=interval,
        )
        if sealed is not None:
            set_credential(conn, row.name, credential=sealed, key_hint=mask(key))
    return back(saved=row.name)


@router.post("/sources/{name:path}/test", response_class=HTMLResponse)
def check_connection(page: PageDep, name: str, csrf_token: Csrf = None) -> HTMLResponse:
    """One cheap authenticated call with the source's key, as `spendledger sources test`."""
    check_csrf(page.viewer, csrf_token)
    row = page.source(name)
    try:
        # the template tells success by the "OK: " prefix
        result = f"OK: {sources_admin.check(page.engine, page.settings, row.name)}"
    except (SourceError, SecretError) as exc:
        result = str(exc)
    if page.request.headers.get("HX-Request"):
        return page.render("sources_test.html", result=result)
    return page.render(tested={row.name: result})


@router.get("/sources/{name:path}/status", response_class=HTMLResponse)
def sync_status(page: PageDep, name: str) -> HTMLResponse:
    """The source's live figures; the partial polls itself (htmx) while a sync runs."""
    row = page.source(name)
    with page.engine.connect() as conn:
        return page.render("sources_status.html", v=page.view(conn, row))


@router.post("/sources/{name:path}/sync", response_class=HTMLResponse)
def sync_now(page: PageDep, name: str, csrf_token: Csrf = None) -> Response:
    """Start a sync in the background; answer at once with the polling status partial."""
    check_csrf(page.viewer, csrf_token)
    row, syncs = page.source(name), page.syncs
    with _LOCK:
        if row.name not in syncs or not syncs[row.name].is_alive():
            syncs[row.name] = SyncThread(page.engine, page.settings, row.name)
            syncs[row.name].start()
    return sync_status(page, row.name) if page.request.headers.get("HX-Request") else back()


@router.post("/sources/{name:path}/remove", response_class=HTMLResponse)
def remove(
    page: PageDep, name: str, csrf_token: Csrf = None, purge: Annotated[bool, Form()] = False
) -> Response:
    """Remove a source; its records stay in the ledger unless `purge`."""
    check_csrf(page.viewer, csrf_token)
    row = page.source(name)
    if page.running(row):  # its pages would land after the purge
        error = f"A sync of {row.name!r} is running: wait for it to end, then remove the source."
        return page.render(error=error, status_code=409)
    deleted = sources_admin.remove(page.engine, row.name, purge=purge, actor=page.viewer.user.email)
    return back(removed=row.name, purged=deleted)

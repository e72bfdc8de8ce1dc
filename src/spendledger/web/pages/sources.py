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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection, Engine, and_, func, select

from spendledger.config import Settings
from spendledger.secrets import SecretError, load_vault, mask
from spendledger.sources.base import SourceConfig, SourceError, connector_for
from spendledger.store.ledger import delete_where
from spendledger.store.sources import (
    SourceExistsError,
    SourceRow,
    SyncRun,
    UnknownSourceError,
    add_source,
    get_source,
    list_sources,
    recent_runs,
    remove_source,
    set_credential,
    update_source,
)
from spendledger.store.tables import usage
from spendledger.sync import sync_source
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

PROVIDERS = {"openai": "project_ids", "anthropic": "workspace_ids"}  # provider → its filter option
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


@dataclass
class SourceForm:
    """The add or edit form as typed (never the key), and what is wrong with it, by field."""

    provider: str = "openai"
    name: str = ""
    base_url: str = ""
    project_ids: str = ""
    workspace_ids: str = ""
    backfill_days: str = "90"
    interval_minutes: str = "60"
    errors: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a pasted value often brings a space or a newline along
        for attr, value in list(vars(self).items()):
            if isinstance(value, str):
                setattr(self, attr, value.strip())

    def options(self) -> dict[str, str]:
        ids = PROVIDERS.get(self.provider, "")
        return {k: v for k, v in {"base_url": self.base_url, ids: getattr(self, ids, "")}.items() if k and v}

    def check(self, key: str, *, new: bool) -> tuple[int, int]:
        """(backfill days, interval minutes), with a message naming each wrong field in `errors`."""
        if self.provider not in PROVIDERS:
            self.errors["provider"] = f"Provider: unknown {self.provider!r}; use one of openai, anthropic"
        if not self.name or len(self.name) > 200:
            self.errors["name"] = "Name: give the account a name (up to 200 characters), e.g. its org"
        if new and not key:
            self.errors["key"] = "Admin key: paste the organisation's admin key (sk-admin-… for OpenAI)"
        if self.base_url and not self.base_url.startswith(("https://", "http://")):
            self.errors["base_url"] = "Base URL: must start with https:// (leave it blank for the default)"
        backfill = self._int("backfill_days", "Backfill days", 1, 3650)
        return backfill, self._int("interval_minutes", "Interval minutes", 5, 10080)

    def _int(self, attr: str, label: str, low: int, high: int) -> int:
        text = getattr(self, attr)
        if text.isdigit() and low <= int(text) <= high:
            return int(text)
        self.errors[attr] = f"{label}: a whole number from {low} to {high}"
        return low


def source_form(  # `source`, not `name`: the edit route's path has a `name`
    provider: Text = "openai", source: Annotated[str, Form(alias="name")] = "", base_url: Text = "",
    project_ids: Text = "", workspace_ids: Text = "", backfill_days: Text = "90",
    interval_minutes: Text = "60",
) -> SourceForm:  # fmt: skip
    return SourceForm(provider, source, base_url, project_ids, workspace_ids, backfill_days, interval_minutes)


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
            query = select(func.count()).where(usage.c.source == row.name)
            counts = {row.name: conn.execute(query).scalar_one()}
        records = None if running or counts is None else counts.get(row.name, 0)
        note = thread.note if thread and not thread.is_alive() else None
        return SourceView(row, recent_runs(conn, row.name, limit=5), records, running, note)

    def render(self, name: str = "sources.html", *, status_code: int = 200, **context: Any) -> HTMLResponse:
        if name == "sources.html":
            with self.engine.connect() as conn:
                query = select(usage.c.source, func.count().label("n")).group_by(usage.c.source)
                counts = {r.source: int(r.n) for r in conn.execute(query)}
                views = [self.view(conn, row, counts) for row in list_sources(conn)]
            context = {"form": SourceForm(), "sources": views} | context  # `edit`, `tested`, `error`: unset
        context |= {"viewer": self.viewer, "tz": self.settings.tz}
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
            with page.engine.begin() as conn:
                add_source(
                    conn, name=form.name, provider=form.provider, key_hint=mask(key), options=form.options(),
                    credential=load_vault(page.settings).seal(key), now=datetime.now(UTC),
                    backfill_days=backfill, interval_minutes=interval,
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
    kept = {k: v for k, v in row.options.items() if k not in ("base_url", *PROVIDERS.values())}
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
            conn, row.name, options=kept | form.options(), backfill_days=backfill, interval_minutes=interval
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
        key = load_vault(page.settings).open(row.credential)
        connector = connector_for(row.provider)(SourceConfig(row.name, key, row.options))
        try:
            result = f"OK: {connector.check()}"  # the template tells success by this prefix
        finally:
            connector.close()
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
    with page.engine.begin() as conn:
        remove_source(conn, row.name)
        deleted = delete_where(conn, and_(usage.c.source == row.name)) if purge else None
    return back(removed=row.name, purged=deleted)

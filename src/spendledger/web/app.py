"""`create_app(settings)`: the FastAPI application, built on demand and never at import.

The app owns its engine (disposed at shutdown) and a cached Pricer; it does not run
migrations: `spendledger serve` calls `store.upgrade(engine)` before serving.
"""

from __future__ import annotations

import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from spendledger.config import Settings, get_settings
from spendledger.demo import demo_state
from spendledger.ingest.hooks import NewDataHook
from spendledger.ingest.records import PricerCache
from spendledger.queries import QueryError
from spendledger.store import Engine, make_engine
from spendledger.store.ledger import ZoneChangedError
from spendledger.web import api, docs
from spendledger.web.api import otlp
from spendledger.web.auth import LoginRequired
from spendledger.web.pages import (
    STATIC,
    account,
    alerts_page,
    allocation_page,
    audit_page,
    balance_alerts,
    budgets_page,
    channels,
    data_page,
    demo_data,
    entries_page,
    explore,
    imports_page,
    make_templates,
    overview,
    prices,
    reconcile_page,
    refused,
    reports_page,
    showback_page,
    sources,
    subscriptions_page,
    tokens,
)

API_DESCRIPTION = """A self-hosted ledger of LLM spend.

Send metered calls to `POST /api/v1/events` and read spend from `GET /api/v1/spend`,
with an API token from `spendledger tokens create NAME` as `Authorization: Bearer sl_...`.
Apps instrumented with OpenTelemetry can export their traces to `POST /v1/traces`
(OTLP/HTTP, same token): their GenAI spans are stored as metered calls. Scripts read
the ledger's dimensions with their spend (`/api/v1/dimensions/{dim}`), the sources,
the budgets and the alerts, as the dashboard's pages show them.
"""


class DemoFlag:
    """What the ledger holds of demo data (demo.demo_state: "", "alone" or "mixed"), for
    the strip every page shows; read at most every 30 s, or again after `reset()`."""

    def __init__(self, engine: Engine) -> None:
        self._engine, self._value, self._at = engine, "", -1e9

    def __call__(self) -> str:
        now = time.monotonic()
        if now - self._at > 30:
            with self._engine.connect() as conn:
                self._value = demo_state(conn)
            self._at = now
        return self._value

    def reset(self) -> None:
        self._at = -1e9


def app_from_env() -> FastAPI:
    """The app for settings read from the environment (`serve --workers N` starts these)."""
    app = create_app(get_settings())
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Keep what a server loads at start (the price catalogue, the libraries: ~140 k objects,
    alive as long as the process) out of the collector's full passes: 84 ms -> ~15 ms each
    (bench/pages.py). For a serving process only, once its app is built."""
    gc.collect()
    gc.freeze()


def alerts_on_new_data(engine: Engine, settings: Settings) -> NewDataHook:
    """The ingest routes' new-data hook: evaluate the alerts and send their notifications."""

    def hook() -> None:
        from spendledger.scheduler import evaluate_and_notify  # imported when data first arrives

        evaluate_and_notify(engine, settings)

    return hook


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """The web app for `settings`; pass `engine` to share one (it is then not disposed)."""
    owned = engine is None
    db = engine if engine is not None else make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            db.dispose()

    app = FastAPI(
        title="spendledger",
        description=API_DESCRIPTION,
        version=_version(),
        lifespan=lifespan,
        docs_url=None,  # served by web/docs.py from the app's own static folder
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = db
    app.state.pricers = PricerCache()
    app.state.on_new_data = alerts_on_new_data(db, settings)
    app.state.templates = make_templates()
    app.state.demo_flag = DemoFlag(db)
    app.state.templates.env.globals["ledger_demo"] = app.state.demo_flag
    app.include_router(api.router)
    app.include_router(docs.router)  # /docs and /redoc, offline
    app.include_router(otlp.router)  # POST /v1/traces, where OTLP exporters send by default
    app.include_router(overview.router)
    app.include_router(account.router)
    for page in (
        explore,
        reports_page,
        budgets_page,
        entries_page,
        subscriptions_page,
        balance_alerts,
        alerts_page,
        channels,
        sources,
        prices,
        tokens,
        imports_page,
        demo_data,
        data_page,
        audit_page,
        reconcile_page,
        showback_page,
        allocation_page,
    ):
        app.include_router(page.router)
    if STATIC.is_dir():  # the front-end libraries `make setup` copies in (vendor/)
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(QueryError, _query_error)
    app.add_exception_handler(ZoneChangedError, _zone_changed)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(HTTPException, refused.refused_page)  # a 403 page is a page

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def _query_error(_request: Request, exc: Exception) -> JSONResponse:
    """A query parameter the caller got wrong: 400 naming it and what is allowed."""
    param = exc.param if isinstance(exc, QueryError) else None
    return JSONResponse({"detail": str(exc), "param": param}, status_code=400)


async def _login_required(_request: Request, exc: Exception) -> RedirectResponse:
    """A page asked for without a session: to the login (or the first admin's set-up)."""
    to = exc.to if isinstance(exc, LoginRequired) else "/login"
    return RedirectResponse(to, status_code=303)


async def _zone_changed(_request: Request, exc: Exception) -> JSONResponse:
    """The configured zone differs from the ledger's: writes wait for a rebuild."""
    return JSONResponse({"detail": str(exc)}, status_code=503)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spendledger")
    except PackageNotFoundError:
        return "0+unknown"

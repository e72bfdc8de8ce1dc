"""The dependencies routes declare, defined once: settings, engine, templates, pricer, token.

Everything hangs off `app.state`, set by `create_app(settings)`; nothing is global, so
tests build as many apps as they like, each on its own database.
"""

from __future__ import annotations

from typing import Annotated, NoReturn

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.templating import Jinja2Templates

from spendledger.config import Settings
from spendledger.ingest.records import PricerCache
from spendledger.pricing import Pricer
from spendledger.store import Engine
from spendledger.store.tokens import verify_token

HOW_TO_GET_A_TOKEN = (
    "send it as 'Authorization: Bearer sl_...'; create one with `spendledger tokens create NAME`"
)

_bearer = HTTPBearer(auto_error=False, description="An API token from `spendledger tokens create NAME`")


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_templates(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]


def get_pricer(request: Request, engine: EngineDep) -> Pricer:
    """The app's Pricer, rebuilt when the price overrides changed since the last request."""
    pricers: PricerCache = request.app.state.pricers
    with engine.connect() as conn:
        return pricers.get(conn)


PricerDep = Annotated[Pricer, Depends(get_pricer)]


def current_token(
    engine: EngineDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The name of the request's API token; 401 saying how to get one when it is not valid."""
    if credentials is None:
        _unauthorised(f"this endpoint needs an API token: {HOW_TO_GET_A_TOKEN}")
    with engine.begin() as conn:
        name = verify_token(conn, credentials.credentials)
    if name is None:
        _unauthorised(f"the API token is not valid or was revoked: {HOW_TO_GET_A_TOKEN}")
    return name


CurrentToken = Annotated[str, Depends(current_token)]


def _unauthorised(detail: str) -> NoReturn:
    raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})

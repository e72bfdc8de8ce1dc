"""/channels: where alerts are sent, and the log of what was sent; admins only.

The same library calls and messages as `spendledger channels ...` (cli/channels.py). A
channel's URL often holds a token or a password: it is sealed the moment it arrives and
never rendered back, pages show its `url_hint` (`json://…cdef`) and nothing else. "Send
test" opens the sealed URL and sends one message, answering inline (an htmx partial, a
block of the page's own template). The log is the latest `LOG_LIMIT` deliveries with
their alert's budget and kind. Changes answer with a redirect to /channels (the query
string names what changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from spendledger.alerts.transport import TEST_TITLE, NotifyError, check_url, send, url_hint
from spendledger.config import Settings
from spendledger.secrets import SecretError, load_vault
from spendledger.store import Engine
from spendledger.store.budgets import list_budgets
from spendledger.store.channels import (
    ChannelExistsError,
    ChannelRow,
    UnknownChannelError,
    add_channel,
    get_channel,
    list_channels,
    remove_channel,
)
from spendledger.store.delivery_log import count_deliveries, last_delivery_by_channel, latest_deliveries
from spendledger.store.tables import DIM
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

LOG_LIMIT = 200  # deliveries the log shows, newest first
SENT = "sent"  # the test's answer when the message went out; anything else is the error
Csrf = Annotated[str | None, Form()]


@dataclass
class ChannelForm:
    """The add form as typed (never the URL), and what is wrong with it, by field."""

    name: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    def check(self, url: str) -> None:
        """Fill `errors`, each message naming its field."""
        if not self.name or len(self.name) > DIM:
            self.errors["name"] = f"Name: give the channel a name (up to {DIM} characters), e.g. ops-slack"
        if not url:
            self.errors["url"] = (
                "URL: paste a webhook URL (https://…) or an Apprise URL (slack://, mailto://…)"
            )
            return
        try:
            check_url(url)
        except NotifyError as exc:
            self.errors["url"] = f"URL: {exc}"


@dataclass(frozen=True)
class ChannelsPage:
    """What every route of the page needs; `render` the page or its test answer."""

    request: Request
    templates: Jinja2Templates
    engine: Engine
    settings: Settings
    viewer: Viewer

    def render(self, *, status_code: int = 200, **context: Any) -> HTMLResponse:
        with self.engine.connect() as conn:
            channels = list_channels(conn)
            last = last_delivery_by_channel(conn)
            log = latest_deliveries(conn, limit=LOG_LIMIT)
            logged = count_deliveries(conn)
            budgets = list_budgets(conn)
        used_by = {c.name: [b.name for b in budgets if c.name in b.channels] for c in channels}
        names = {c.name for c in channels}
        # budgets naming a channel that is gone: with none of theirs left, their alerts go nowhere
        stale = {b.name: [n for n in b.channels if n not in names] for b in budgets}
        context = {
            "form": ChannelForm(),
            "channels": channels,
            "last": last,
            "used_by": used_by,
            "stale": {budget: missing for budget, missing in stale.items() if missing},
            "log": log,
            "logged": logged,
            "log_limit": LOG_LIMIT,
            "tested": {},
            "sent": SENT,
        } | context
        context |= {"viewer": self.viewer, "tz": self.settings.tz}
        return self.templates.TemplateResponse(
            self.request, "channels.html", context, status_code=status_code
        )

    def tested(self, channel: ChannelRow, result: str) -> HTMLResponse:
        """The test's answer: the block alone for htmx, else the whole page with it in place."""
        if not self.request.headers.get("HX-Request"):
            return self.render(tested={channel.name: result})
        template = self.templates.get_template("channels.html")
        context = template.new_context({"request": self.request, "result": result, "sent": SENT})
        return HTMLResponse("".join(template.blocks["test_result"](context)))

    def channel(self, name: str) -> ChannelRow:
        with self.engine.connect() as conn:
            try:
                return get_channel(conn, name)
            except UnknownChannelError as exc:
                raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from None


def channels_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, settings: SettingsDep,
    viewer: Annotated[Viewer, require("admin")],
) -> ChannelsPage:  # fmt: skip
    return ChannelsPage(request, templates, engine, settings, viewer)


PageDep = Annotated[ChannelsPage, Depends(channels_page)]


def back(**params: str | None) -> RedirectResponse:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    to = "/channels" + ("?" + query if query else "")
    return RedirectResponse(to, status_code=status.HTTP_303_SEE_OTHER)


@router.get("/channels", response_class=HTMLResponse)
def list_page(page: PageDep) -> HTMLResponse:
    """The channels, the add form and the delivery log; `?added=`/`?removed=` say what changed."""
    return page.render()


@router.post("/channels", response_class=HTMLResponse)
def add(
    page: PageDep,
    csrf_token: Csrf = None,
    name: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
) -> Response:
    """Add a channel: its URL checked by Apprise, then sealed; the form again, marked, if wrong."""
    check_csrf(page.viewer, csrf_token)
    form, url = ChannelForm(name.strip()), url.strip()
    form.check(url)
    try:
        if not form.errors:
            sealed = load_vault(page.settings).seal(url)
            with page.engine.begin() as conn:
                add_channel(conn, name=form.name, url=sealed, url_hint=url_hint(url), now=datetime.now(UTC))
    except ChannelExistsError as exc:
        form.errors["name"] = f"Name: {exc}"
    except SecretError as exc:
        form.errors["url"] = f"URL: {exc}"
    return page.render(form=form, status_code=400) if form.errors else back(added=form.name)


@router.post("/channels/{name:path}/test", response_class=HTMLResponse)
def send_test(page: PageDep, name: str, csrf_token: Csrf = None) -> HTMLResponse:
    """Send one test message through the channel, as `spendledger channels test`; "sent" or why not."""
    check_csrf(page.viewer, csrf_token)
    channel = page.channel(name)
    body = f"A test message to the channel {channel.name!r}: alerts will arrive here."
    try:
        send(load_vault(page.settings).open(channel.url), TEST_TITLE, body)
        result = SENT
    except (NotifyError, SecretError) as exc:
        result = f"Sending to {channel.name!r} ({channel.url_hint}) failed: {exc}"
    return page.tested(channel, result)


@router.post("/channels/{name:path}/remove", response_class=HTMLResponse)
def remove(page: PageDep, name: str, csrf_token: Csrf = None) -> Response:
    """Remove a channel; its delivery log stays."""
    check_csrf(page.viewer, csrf_token)
    channel = page.channel(name)
    with page.engine.begin() as conn:
        remove_channel(conn, channel.name)
    return back(removed=channel.name)

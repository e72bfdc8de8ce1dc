"""Notification transport: one message to one channel's URL through Apprise, one attempt.

A channel is an Apprise URL (`mailto://`, `slack://`, `workflows://` for Microsoft Teams,
`discord://`, `json://`...) or an http(s) webhook URL: a service's own (Slack's, Discord's,
a Teams workflow's) is sent in that service's format, any other as Apprise's generic JSON
webhook (`json://` / `jsons://`).

A message's level is Apprise's notify type (info, warning, failure), so a JSON webhook's
`type`, Slack's colour and the title every service shows say it. Which alerts go where,
once each, with retries and a log, is alerts.delivery's part.
"""

from __future__ import annotations

import logging
import sys
import warnings
from dataclasses import dataclass
from typing import Any

if sys.version_info < (3, 13):  # Apprise imports imghdr (deprecated) when it loads its email plugin
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        import imghdr  # noqa: F401

import apprise  # noqa: E402 - after the shim above
import apprise.attachment.memory  # noqa: E402 - an attachment from bytes (a digest's PDF)

from spendledger.errors import SpendledgerError  # noqa: E402

_apprise_lib: Any = apprise  # untyped: used only through send/check_url below

TEST_TITLE = "spendledger: test message"


class NotifyError(SpendledgerError, RuntimeError):
    """A message could not be sent; the message says why."""


def apprise_url(url: str) -> str:
    """The Apprise URL for a channel's URL. A service's own webhook URL that Apprise knows
    (Slack's, Discord's, a Teams workflow's...) stays as it is, so that it is sent in that
    service's format; any other http(s) URL becomes the generic JSON webhook, json(s)://."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("http", "https") and _apprise(url) is None:
        return f"{'jsons' if scheme.lower() == 'https' else 'json'}://{rest}"
    return url


def url_hint(url: str) -> str:
    """A channel's URL as it may be shown: its scheme and last four characters."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return "…"
    return f"{scheme}://…{rest[-4:]}" if len(rest) >= 12 else f"{scheme}://…"


def check_url(url: str) -> None:
    """Raise NotifyError unless Apprise understands the URL."""
    if _apprise(apprise_url(url)):
        return
    if url.strip().lower().startswith("msteams://"):
        # Microsoft retired Office 365 connectors; Apprise 2 dropped msteams:// for them
        raise NotifyError(
            "msteams:// (Office 365 connector webhooks) is retired: in Teams, add the "
            '"Post to a channel when a webhook request is received" workflow and add its URL '
            "(https://....logic.azure.com/workflows/...) or workflows://HOST/WORKFLOW/SIGNATURE"
        )
    raise NotifyError(
        "not a URL Apprise can send to: use an http(s) webhook URL or an Apprise URL such as mailto://, "
        "slack://, workflows:// (Microsoft Teams), discord://, json:// (see https://appriseit.com/services/)"
    )


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message (by email): its name, bytes and MIME type."""

    name: str
    content: bytes
    mimetype: str


def is_email(url: str) -> bool:
    """Whether a channel's URL sends email (Apprise's mailto:// and mailtos://)."""
    return url.strip().lower().startswith(("mailto://", "mailtos://"))


def send(url: str, title: str, body: str, *, level: str = "info", attach: Attachment | None = None) -> None:
    """Send one message to `url` (one attempt) with Apprise's notify type `level` (info,
    warning, failure), with `attach` when given; NotifyError with Apprise's reason if it fails."""
    sender = _apprise(apprise_url(url))
    if sender is None:
        raise NotifyError("not a URL Apprise can send to")
    notify_type = _apprise_lib.NotifyType(level)
    files = None
    if attach is not None:
        files = _apprise_lib.AppriseAttachment()
        memory = _apprise_lib.attachment.memory.AttachMemory
        files.add(memory(content=attach.content, name=attach.name, mimetype=attach.mimetype))
    with _apprise_lib.LogCapture(level=logging.WARNING) as captured:
        ok = bool(sender.notify(title=title, body=body, notify_type=notify_type, attach=files))
    if not ok:
        lines = [line.strip() for line in str(captured.getvalue()).splitlines() if line.strip()]
        reason = lines[-1].split(" - ", 2)[-1] if lines else "Apprise reported a failure"
        raise NotifyError(reason)


def _apprise(url: str) -> Any:
    """An Apprise object holding `url`, or None when Apprise does not understand it."""
    sender = _apprise_lib.Apprise()
    return sender if sender.add(url) else None

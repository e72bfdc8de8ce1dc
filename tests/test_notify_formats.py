"""An alert's message as Slack, Microsoft Teams and Discord receive it, checked against their
documented webhook formats.

Apprise sends these to fixed hosts; the tests point its Slack and Discord plugins' endpoint
constants at a local receiver (third-party constants, never our code). A Teams workflow URL
names its own host, so Teams is sent over real TLS to a local receiver whose self-signed
certificate `requests` is told to trust (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack

from receivers import Webhook, self_signed, webhook_server
from spendledger.alerts.delivery import message
from spendledger.alerts.evaluate import describe, severity
from spendledger.alerts.transport import NotifyError, apprise_url, check_url, send
from spendledger.store.alerts import AlertRow

DASHBOARD = "https://ledger.example.com"
ALERT = AlertRow(
    id=7,
    budget="web",
    kind="threshold",
    threshold=80,
    window_start=date(2026, 11, 1),
    window_end=date(2026, 11, 30),
    figures={"spent": Decimal("85"), "amount": Decimal("100"), "percent": Decimal("85")},
)
OVER = AlertRow(
    id=8,
    budget="web",
    kind="threshold",
    threshold=100,
    window_start=date(2026, 11, 1),
    window_end=date(2026, 11, 30),
    figures={"spent": Decimal("105"), "amount": Decimal("100"), "percent": Decimal("105")},
)
TITLE, BODY = message(ALERT, DASHBOARD)
# Apprise's colours for its notify types WARNING and FAILURE (apprise.asset.AppriseAsset)
LEVELS = [(ALERT, "warning", "#CACF29"), (OVER, "failure", "#A32037")]
LINK = f"{DASHBOARD}/alerts"
SLACK_TOKENS = "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
DISCORD_ID = "417429632418316298"
DISCORD_TOKEN = "JHZ7lQml277CDHmQKMHI8qBe7bk2ZwO5UKjCiOAF7711o33MyqU344Qpgv7YTpadV_js"


def _one(hook: Webhook) -> dict[str, Any]:
    assert len(hook.received) == 1, hook.received
    assert hook.content_types[0].startswith("application/json")
    return hook.received[0]


def test_the_message_names_the_budget_and_links_the_alert_centre() -> None:
    # no budget row and no raising time at hand: the explorer over the whole window
    why = f"{DASHBOARD}/explore?from=2026-11-01&to=2026-11-30&by=project&granularity=day"
    assert message(ALERT, DASHBOARD) == (
        "spendledger warning — budget web reached 80 %",
        f"{describe(ALERT)}\n\nWhy: {why}\nDetails: {LINK}",
    )
    assert describe(ALERT).startswith("web: 80 % reached")


def test_a_message_is_a_warning_below_100_and_a_failure_at_100() -> None:
    assert [(severity(alert), message(alert)[0]) for alert, _, _ in LEVELS] == [
        ("warning", "spendledger warning — budget web reached 80 %"),
        ("failure", "spendledger failure — budget web reached 100 %"),
    ]
    forecast = AlertRow(**{**vars(OVER), "kind": "forecast"})  # heading over, not over yet
    assert (severity(forecast), message(forecast)[0]) == (
        "warning",
        "spendledger warning — budget web heading over",
    )


def test_an_anomaly_message_names_it_and_its_subject() -> None:
    anomaly = AlertRow(
        id=9,
        budget="project:",  # spend with no project
        kind="anomaly",
        threshold=0,
        window_start=date(2026, 11, 20),
        window_end=date(2026, 11, 20),
        figures={"spent": Decimal("447"), "usual": Decimal("35"), "spread": Decimal("3.5")},
        note="100 % of the jump is user u_17",
    )
    title, body = message(anomaly, DASHBOARD)
    assert title == "spendledger warning — Anomaly: project:(none)"
    assert body.startswith(
        "Anomaly: project:(none) — spend jumped to $447.00 on 2026-11-20, usual $35.00 ± $3.50; "
        "100 % of the jump is user u_17\n\nWhy: "
    )


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    with webhook_server(reply=b"ok") as hook:  # a Slack webhook answers 200 "ok"
        monkeypatch.setattr(NotifySlack, "webhook_url", f"http://127.0.0.1:{hook.port}/services")
        yield hook


@pytest.mark.parametrize(
    "url",
    [f"slack://{SLACK_TOKENS}", f"https://hooks.slack.com/services/{SLACK_TOKENS}"],
    ids=["apprise-url", "webhook-url"],
)
def test_slack_gets_an_incoming_webhook_message(slack: Webhook, url: str) -> None:
    send(url, TITLE, BODY)
    payload = _one(slack)
    assert slack.paths == [f"/services/{SLACK_TOKENS}"]
    # https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks: a JSON object
    # with `text`, `blocks` or (legacy) `attachments`; an attachment's title, text and color:
    # https://docs.slack.dev/legacy/legacy-messaging/legacy-secondary-message-attachments
    assert {"text", "blocks", "attachments"} & payload.keys()
    (attachment,) = payload["attachments"]
    assert attachment["title"] == TITLE
    # Slack's text escapes &, < and > as HTML entities (docs: "Escaping text"): the links' &s
    assert attachment["text"] == BODY.replace("&", "&amp;") and LINK in attachment["text"]
    assert attachment["color"].startswith("#")
    assert isinstance(payload["mrkdwn"], bool)


@pytest.mark.parametrize(("alert", "level", "colour"), LEVELS, ids=["warning", "failure"])
def test_slack_colours_the_message_by_its_level(
    slack: Webhook, alert: AlertRow, level: str, colour: str
) -> None:
    title, body = message(alert, DASHBOARD)
    send(f"slack://{SLACK_TOKENS}", title, body, level=severity(alert))
    (attachment,) = _one(slack)["attachments"]
    assert (attachment["title"], attachment["color"]) == (title, colour)
    assert title.startswith(f"spendledger {level} — ")


def test_slack_blocks_follow_block_kit(slack: Webhook) -> None:
    send(f"slack://{SLACK_TOKENS}?blocks=yes", TITLE, BODY)
    (attachment,) = _one(slack)["attachments"]
    # https://docs.slack.dev/reference/block-kit/blocks: every block has a type; a header
    # holds plain_text of at most 150 characters, a section a text object of at most 3000
    blocks = attachment["blocks"]
    assert all(isinstance(b["type"], str) for b in blocks)
    header, section = blocks[0], blocks[1]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == TITLE and len(TITLE) <= 150
    assert section["type"] == "section" and section["text"]["type"] in ("plain_text", "mrkdwn")
    assert section["text"]["text"] == BODY and len(BODY) <= 3000


@pytest.fixture
def teams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    trust, server_pem = self_signed(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(trust))  # requests verifies TLS against it
    with webhook_server(reply=b"", tls=server_pem) as hook:
        yield hook


@pytest.mark.parametrize("native", [False, True], ids=["apprise-url", "workflow-url"])
def test_teams_gets_an_adaptive_card_message(teams: Webhook, native: bool) -> None:
    base = f"https://127.0.0.1:{teams.port}/workflows/wf-123abc/triggers/manual/paths/invoke"
    url = (
        f"{base}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s1g_XYZ-789"
        if native
        else f"workflows://127.0.0.1:{teams.port}/wf-123abc/s1g_XYZ-789"
    )
    send(url, TITLE, BODY)
    payload = _one(teams)
    path, _, query = teams.paths[0].partition("?")
    assert path == "/workflows/wf-123abc/triggers/manual/paths/invoke" and "sig=s1g_XYZ-789" in query
    # Teams' workflow webhooks take a message with an Adaptive Card attachment:
    # https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook
    assert payload["type"] == "message"
    (attachment,) = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert tuple(int(n) for n in card["version"].split(".")) <= (1, 5)  # what Teams renders
    texts = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert texts == [TITLE, BODY] and LINK in texts[1]


@pytest.mark.parametrize(("alert", "level", "colour"), LEVELS, ids=["warning", "failure"])
def test_teams_card_says_the_level(teams: Webhook, alert: AlertRow, level: str, colour: str) -> None:
    title, body = message(alert, DASHBOARD)
    send(f"workflows://127.0.0.1:{teams.port}/wf-123abc/s1g_XYZ-789", title, body, level=severity(alert))
    card = _one(teams)["attachments"][0]["content"]
    heading = next(b for b in card["body"] if b.get("id") == "title")
    assert heading["text"] == title and title.startswith(f"spendledger {level} — ")
    assert [b["altText"] for b in card["body"] if b["type"] == "Image"] == [level]  # its icon


def test_teams_connector_urls_say_what_to_use_instead() -> None:
    with pytest.raises(NotifyError, match="retired.*workflow"):
        check_url("msteams://T0k3n/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7")


@pytest.mark.parametrize(
    "url",
    [
        f"discord://{DISCORD_ID}/{DISCORD_TOKEN}",
        f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}",
    ],
    ids=["apprise-url", "webhook-url"],
)
def test_discord_gets_an_execute_webhook_message(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    with webhook_server() as hook:
        monkeypatch.setattr(NotifyDiscord, "notify_url", f"http://127.0.0.1:{hook.port}/api/webhooks")
        send(url, TITLE, BODY)
    payload = _one(hook)
    assert hook.paths == [f"/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}"]
    # https://discord.com/developers/docs/resources/webhook#execute-webhook: one of content,
    # embeds, components, file or poll; content at most 2000 characters
    assert {"content", "embeds", "components", "file", "poll"} & payload.keys()
    content = payload["content"]
    assert TITLE in content and BODY in content and len(content) <= 2000


@pytest.mark.parametrize(("alert", "level", "colour"), LEVELS, ids=["warning", "failure"])
def test_discord_message_starts_with_the_level(
    monkeypatch: pytest.MonkeyPatch, alert: AlertRow, level: str, colour: str
) -> None:
    title, body = message(alert, DASHBOARD)
    with webhook_server() as hook:
        monkeypatch.setattr(NotifyDiscord, "notify_url", f"http://127.0.0.1:{hook.port}/api/webhooks")
        send(f"discord://{DISCORD_ID}/{DISCORD_TOKEN}", title, body, level=severity(alert))
    content = _one(hook)["content"]
    assert content.startswith(f"spendledger {level} — budget web reached {alert.threshold} %\r\n")


def test_service_webhook_urls_keep_their_format_and_others_become_json() -> None:
    assert apprise_url(f"https://hooks.slack.com/services/{SLACK_TOKENS}").startswith("https://hooks.slack")
    assert apprise_url(f"https://discord.com/api/webhooks/{DISCORD_ID}/{DISCORD_TOKEN}").startswith(
        "https://"
    )
    assert apprise_url("https://hooks.example.com/ledger") == "jsons://hooks.example.com/ledger"
    assert apprise_url("http://127.0.0.1:9/hook") == "json://127.0.0.1:9/hook"

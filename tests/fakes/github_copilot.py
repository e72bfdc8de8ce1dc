"""A fake GitHub REST API for Copilot billing on 127.0.0.1, serving a `SeededBill`.

It answers as docs.github.com describes (rest/billing/usage, rest/copilot/copilot-user-
management, rest/using-the-rest-api/rate-limits-for-the-rest-api) and checks what it is
asked:
- `Authorization: Bearer`, `Accept: application/vnd.github+json`, a known
  `X-GitHub-Api-Version`, a `User-Agent`;
- the tokens: a fine-grained token reads the organisation; one without "Administration"
  gets 403 with `x-accepted-github-permissions`; only a classic token reads the enterprise;
  any other token gets 401 "Bad credentials";
- the usage reports (`…/settings/billing/{ai_credit,premium_request}/usage`) need `year`
  and `month`, take `day` and `user`, reject a day that does not exist, and answer each
  era on its own endpoint only. By default they aggregate every user, by product × SKU ×
  model; with `user=` they answer that user alone. An enterprise-owned organisation
  refuses `user=` (403), as GitHub does for organisation admins;
- the billing usage report (`…/settings/billing/usage`) lists every product per
  timestamped line: the seat lines split in two, an Actions line, and the Copilot usage
  lines again (a connector must not count those twice);
- the seat listing pages by `per_page`/`page` (≤ 100) with Link headers; the enterprise's
  lists each user twice (an organisation and an enterprise team).
Knobs: `fail()` (any status and headers), `throttle()` (GitHub's three styles),
`malform()`, `revise()`. `requests` logs (path, query, headers).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fakes.github_copilot_data import AI_CREDITS, PREMIUM_REQUESTS, Era, Line, SeededBill, era_of
from fakes.server import FakeHTTPServer, FakeServer

FINE_GRAINED = "github_pat_11FAKEORG0_adminRead0123456789abcdefABCDEF"
NO_ADMIN = "github_pat_11FAKEORG0_noAdministration987654321zyxwv"
CLASSIC = "ghp_FakeEnterpriseBilling0123456789abcdef"
VERSIONS = ("2022-11-28", "2026-03-10")
MISSING = object()  # `malform(..., value=MISSING)` drops the field
_DOCS = "https://docs.github.com/rest"
_ERAS = {"ai_credit": AI_CREDITS, "premium_request": PREMIUM_REQUESTS}
_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you "
    "reach out to GitHub Support for help, please include the request ID."
)


def _num(value: Decimal) -> str:
    return format(value, "f")


def _error(status: int, message: str) -> tuple[int, bytes]:
    return status, json.dumps(
        {"message": message, "documentation_url": _DOCS, "status": str(status)}
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def do_GET(self) -> None:
        status, body, headers = self.server.fake.handle(self.path, dict(self.headers.items()))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json; charset=utf-8", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeGitHubCopilot(SeededBill, FakeServer):
    """The seeded bill, served for `org` and for `enterprise`; a context manager, or `stop()`.

    `seats_per_page` serves fewer seats a page than asked (to force Link paging);
    `enterprise_owned` makes the organisation refuse usage by user.
    """

    def __init__(
        self,
        *,
        enterprise: str = "acme-corp",
        seats_per_page: int | None = None,
        enterprise_owned: bool = False,
        **bill: Any,
    ) -> None:
        super().__init__(**bill)
        self.enterprise, self.seats_per_page, self.enterprise_owned = (
            enterprise,
            seats_per_page,
            enterprise_owned,
        )
        self.requests: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self._faults: list[dict[str, Any]] = []
        self._malformed: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._index: dict[date, list[tuple[str, str, Line]]] | None = None
        self.listen(_Handler)

    def day_lines(self, day: date) -> list[tuple[str, str, Line]]:
        """The (login, model, line)s of `day`, from an index built once (a revise rebuilds it)."""
        if self._index is None:
            index: dict[date, list[tuple[str, str, Line]]] = {}
            for (when, login, model), line in self.lines.items():
                index.setdefault(when, []).append((login, model, line))
            self._index = index
        return self._index.get(day, [])

    def revise(self, day: date, factor: Decimal) -> None:
        super().revise(day, factor)
        self._index = None

    # ---- knobs --------------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        *,
        at: int = 1,
        times: int | None = 1,
        path: str = "",
        headers: dict[str, str] | None = None,
        message: str = "fake fault",
    ) -> None:
        """Answer `status` to the `at`-th next request whose path contains `path`, and to the
        `times - 1` after it (None: forever)."""
        self._faults.append(
            {"status": status, "at": at, "times": times, "path": path, "headers": headers or {},
             "message": message, "seen": 0}
        )  # fmt: skip

    def clear_faults(self) -> None:
        self._faults.clear()

    def throttle(self, style: str, *, at: int = 1, path: str = "", wait: int = 7) -> None:
        """GitHub's rate limits: "primary" (403, x-ratelimit-remaining 0, reset in `wait` s),
        "secondary" (429 with retry-after) or "secondary-403" (403, the message alone)."""
        if style == "primary":
            reset = str(int(time.time()) + wait)
            headers = {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
            self.fail(
                403, at=at, path=path, headers=headers, message="API rate limit exceeded for user ID 1."
            )
        elif style == "secondary":
            self.fail(429, at=at, path=path, headers={"retry-after": str(wait)}, message=_SECONDARY)
        else:
            self.fail(403, at=at, path=path, message=_SECONDARY)

    def malform(self, path: str, *, field: str, value: object, day: date | None = None) -> None:
        """In the next answer of a path containing `path` (for `day`, when given) with items, set
        the first item's `field` to `value` (a JSON value; MISSING drops it)."""
        self._malformed.append({"path": path, "field": field, "value": value, "day": day})

    # ---- HTTP ---------------------------------------------------------------------------------

    def handle(self, raw_path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        url = urlsplit(raw_path)
        query = parse_qs(url.query, keep_blank_values=True)
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append((url.path, query, lower))
            fault = next((f for f in self._faults if self._trips(f, url.path)), None)
        if fault is not None:
            return (*_error(fault["status"], fault["message"]), fault["headers"])
        auth = lower.get("authorization", "")
        if not auth:
            return (*_error(401, "Requires authentication"), {})
        token = auth.removeprefix("Bearer ")
        if token not in (FINE_GRAINED, NO_ADMIN, CLASSIC):
            return (*_error(401, "Bad credentials"), {})
        if not lower.get("user-agent"):
            return (*_error(403, "Request forbidden by administrative rules. Please make sure your request "
                            "has a User-Agent header"), {})  # fmt: skip
        if "application/vnd.github+json" not in lower.get("accept", ""):
            return (*_error(415, "the fake expects Accept: application/vnd.github+json"), {})
        if lower.get("x-github-api-version", "2022-11-28") not in VERSIONS:
            return (*_error(400, "Unsupported 'X-GitHub-Api-Version' provided."), {})
        try:
            return self._route(url.path, query, token)
        except ValueError as exc:
            return (*_error(400, str(exc)), {})

    def _trips(self, fault: dict[str, Any], path: str) -> bool:
        if fault["path"] not in path:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _route(self, path: str, q: dict[str, list[str]], token: str) -> tuple[int, bytes, dict[str, str]]:
        parts = path.strip("/").split("/")
        scope = parts[0]
        if scope in ("organizations", "orgs") and len(parts) > 1 and parts[1].lower() == self.org:
            if token == NO_ADMIN:
                status, body = _error(403, "Resource not accessible by personal access token")
                return status, body, {"x-accepted-github-permissions": "administration=read"}
        elif scope == "enterprises" and len(parts) > 1 and parts[1].lower() == self.enterprise:
            if token != CLASSIC:
                return (*_error(403, "Resource not accessible by personal access token"), {})
        else:
            return (*_error(404, "Not Found"), {})
        rest = "/".join(parts[2:])
        if scope in ("organizations", "enterprises") and rest in (
            "settings/billing/ai_credit/usage",
            "settings/billing/premium_request/usage",
        ):
            if scope == "organizations" and self.enterprise_owned and _one(q, "user"):
                message = "Organization admins for enterprise owned organizations cannot filter usage by user"
                return (*_error(403, message), {})
            return 200, self._usage(_ERAS[parts[4]], scope, q), {}
        if scope in ("organizations", "enterprises") and rest == "settings/billing/usage":
            return 200, self._billing(scope, q), {}
        if (scope, rest) in (("orgs", "copilot/billing/seats"), ("enterprises", "copilot/billing/seats")):
            return self._seats(path, scope, q)
        return (*_error(404, "Not Found"), {})

    # ---- the reports --------------------------------------------------------------------------

    def _period(self, q: dict[str, list[str]]) -> tuple[int, int, int | None]:
        year, month, day = _one(q, "year"), _one(q, "month"), _one(q, "day")
        if year is None or month is None:  # GitHub defaults them; the connector must say what it wants
            raise ValueError("the fake expects year and month")
        when = (int(year), int(month), int(day) if day is not None else None)
        date(when[0], when[1], when[2] or 1)  # ValueError: no such day
        return when

    def _usage(self, era: Era, scope: str, q: dict[str, list[str]]) -> bytes:
        year, month, day = self._period(q)
        user = (_one(q, "user") or "").lower()
        sums: dict[str, list[Decimal]] = {}
        days = (
            [date(year, month, day)]
            if day
            else [d for d in self.day_list() if (d.year, d.month) == (year, month)]
        )
        for login, model, line in (x for when in days if era_of(when) is era for x in self.day_lines(when)):
            if user and login != user:
                continue
            acc = sums.setdefault(model, [Decimal(0)] * 3)
            acc[0] += line.gross_quantity
            acc[1] += line.discount_quantity
            acc[2] += line.net_quantity
        items = [
            {
                "product": '"Copilot"',
                "sku": json.dumps(era.sku),
                "model": json.dumps(model),
                "unitType": json.dumps(era.unit_type),
                "pricePerUnit": _num(era.price),
                "grossQuantity": _num(gross),
                "grossAmount": _num(gross * era.price),
                "discountQuantity": _num(discount),
                "discountAmount": _num(discount * era.price),
                "netQuantity": _num(net),
                "netAmount": _num(net * era.price),
            }
            for model, (gross, discount, net) in sorted(sums.items())
        ]
        self._break(era.endpoint, items, date(year, month, day) if day else None)
        period = {"year": year, "month": month, **({"day": day} if day else {})}
        owner = {"organization": self.org} if scope == "organizations" else {"enterprise": self.enterprise}
        head = json.dumps({"timePeriod": period, **owner, **({"user": user} if user else {})})[:-1]
        return f'{head},"usageItems":[{",".join(_obj(i) for i in items)}]}}'.encode()

    def _billing(self, scope: str, q: dict[str, list[str]]) -> bytes:
        year, month, day = self._period(q)
        org = json.dumps(self.org)
        items: list[dict[str, str]] = []
        for when in self.day_list():
            if (when.year, when.month) != (year, month) or (day is not None and when.day != day):
                continue
            stamp = when.isoformat()
            for charge, at in zip(self.seat_items(when), ("01:34:34", "13:02:11"), strict=False):
                items.append(
                    {"date": f'"{stamp}T{at}Z"', "product": '"copilot"', "sku": '"Copilot Business"',
                     "quantity": _num(charge.quantity), "unitType": '"UserMonths"', "pricePerUnit": "19",
                     "grossAmount": _num(charge.gross_amount), "discountAmount": "0",
                     "netAmount": _num(charge.net_amount), "organizationName": org, "repositoryName": '""'}
                )  # fmt: skip
            items.append(
                {"date": f'"{stamp}T02:00:00Z"', "product": '"actions"', "sku": '"Actions Linux"',
                 "quantity": "30", "unitType": '"Minutes"', "pricePerUnit": "0.006", "grossAmount": "0.18",
                 "discountAmount": "0", "netAmount": "0.18", "organizationName": org,
                 "repositoryName": '"api"'}
            )  # fmt: skip
            era = era_of(when)
            net = sum((line.net_amount for _login, _model, line in self.day_lines(when)), Decimal(0))
            items.append(
                {"date": f'"{stamp}T00:00:00Z"', "product": '"copilot"', "sku": json.dumps(era.sku),
                 "quantity": "1", "unitType": json.dumps(era.unit_type), "pricePerUnit": _num(era.price),
                 "grossAmount": _num(net), "discountAmount": "0", "netAmount": _num(net),
                 "organizationName": org, "repositoryName": '""'}
            )  # fmt: skip
        self._break("settings/billing/usage", items, None)
        return f'{{"usageItems":[{",".join(_obj(i) for i in items)}]}}'.encode()

    def _seats(self, path: str, scope: str, q: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str]]:
        per_page, page = int(_one(q, "per_page") or 50), int(_one(q, "page") or 1)
        if not 1 <= per_page <= 100 or page < 1:
            raise ValueError("per_page must be 1 to 100, page at least 1")
        holders = self.seats_on(self.day_list()[-1])
        seats = [
            {"created_at": f"{self.seat_from[login].isoformat()}T09:00:00Z", "plan_type": "business",
             "assignee": {"login": login, "type": "User"}, "last_activity_at": None}
            for login in holders
        ]  # fmt: skip
        if scope == "enterprises":  # one entry per organisation or enterprise team granting the seat
            seats = [s for seat in seats for s in (seat, {**seat, "assigning_team": {"slug": "all-devs"}})]
        size = min(per_page, self.seats_per_page or per_page)
        last = max(1, -(-len(seats) // size))
        body = json.dumps({"total_seats": len(holders), "seats": seats[(page - 1) * size : page * size]})
        links = []
        if page < last:
            links.append(f'<{self.base_url}{path}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{self.base_url}{path}?per_page={per_page}&page={last}>; rel="last"')
        return 200, body.encode(), {"Link": ", ".join(links)} if links else {}

    def _break(self, path: str, items: list[dict[str, str]], day: date | None) -> None:
        for spec in self._malformed:
            if spec["path"] in path and items and (spec["day"] is None or spec["day"] == day):
                if spec["value"] is MISSING:
                    items[0].pop(spec["field"], None)
                else:
                    items[0][spec["field"]] = json.dumps(spec["value"])
                self._malformed.remove(spec)
                return


def _obj(item: dict[str, str]) -> str:
    return "{" + ",".join(f'"{name}":{raw}' for name, raw in item.items()) + "}"


def _one(q: dict[str, list[str]], name: str) -> str | None:
    values = q.get(name)
    return values[-1] if values else None

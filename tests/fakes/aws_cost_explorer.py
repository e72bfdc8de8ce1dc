"""A fake AWS Cost Explorer on 127.0.0.1, serving a `SeededBill` (aws_bill.py) to boto3.

It speaks Cost Explorer's wire protocol (AWS JSON 1.1): `POST /` with
`X-Amz-Target: AWSInsightsIndexService.<Operation>` and `application/x-amz-json-1.1`,
errors as `{"__type": ..., "message": ...}` with status 400 (5xx for server faults), so
the connector's boto3 client signs real requests to it and parses its answers.

What it checks rather than echoes:
- SigV4: the Authorization header's credential scope (access key id, date, region
  us-east-1, service ce) and the signature, recomputed from the request with the key's
  secret: an unknown key id is UnrecognizedClientException, a wrong secret or region
  InvalidSignatureException, the key pair without the permission AccessDeniedException.
- GetCostAndUsage computes its answer from the rows: TimePeriod (Start inclusive, End
  exclusive, DAILY or MONTHLY), Filter (Dimensions with EQUALS, Tags, And, Or, Not),
  GroupBy (at most 2, DIMENSION or TAG; a tag group's key is `Key$value`), Metrics
  (UnblendedCost, AmortizedCost, NetUnblendedCost, UsageQuantity; amounts as strings),
  `Total` when nothing is grouped, `Estimated` on unfinished days, DimensionValueAttributes
  naming linked accounts; `page_groups` groups a page, paged with NextPageToken tokens
  bound to the request and the data's version (a revision since: RequestChangedException).
- GetDimensionValues lists the values billed in the period, SearchString matched
  case-insensitively, `page_values` a page.
Knobs: `fail(code, ...)` (ThrottlingException, LimitExceededException, 5xx...), `malform()`,
`revise()` (from SeededBill). `requests` logs (operation, body, access key id).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any

from fakes.aws_bill import Row, SeededBill, dimension
from fakes.server import FakeHTTPServer, FakeServer

ACCESS_KEY_ID = "AKIAFAKEBEDROCK00001"
SECRET_KEY = "fAkE+sEcReT/kEy0bEdRoCk0cOsT0eXpLoReR01"
DENIED_KEY_ID = "AKIAFAKENOCEACCESS02"  # a valid pair whose user lacks ce:* permissions
DENIED_SECRET = "dEnIeD+sEcReT/kEy0nO0cE0pErMiSsIoN00002"
MISSING = object()  # `malform(..., value=MISSING)` deletes the field
METRICS = ("UnblendedCost", "AmortizedCost", "NetUnblendedCost", "UsageQuantity")
DIMENSIONS = ("SERVICE", "USAGE_TYPE", "LINKED_ACCOUNT", "REGION", "RECORD_TYPE")
_STATUS = {"InternalServerError": 500, "ServiceUnavailableException": 503}
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request,"
    r"\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


class ApiError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: FakeHTTPServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, answer = self.server.fake.handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "8e9f2a4c-fake-4b1d-9c3e-000000000000")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeCostExplorer(SeededBill, FakeServer):
    """The seeded bill, served; takes SeededBill's arguments plus the page sizes and key pairs."""

    def __init__(
        self,
        *,
        page_groups: int = 2000,
        page_values: int = 100,
        keys: dict[str, str] | None = None,
        **bill: Any,
    ) -> None:
        super().__init__(**bill)
        self.page_groups, self.page_values = page_groups, page_values
        self.keys = keys or {ACCESS_KEY_ID: SECRET_KEY, DENIED_KEY_ID: DENIED_SECRET}
        self.requests: list[tuple[str, dict[str, Any], str]] = []
        self.malformed_paths: list[str] = []
        self._faults: list[dict[str, Any]] = []
        self._malformed: dict[int, tuple[str, object]] = {}
        self._cache: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self.listen(_Handler)

    def fail(self, code: str, *, at: int = 1, times: int | None = 1, operation: str = "") -> None:
        """Answer `code` to the `at`-th next request of `operation` (any when "") and the
        `times - 1` after it (None: forever)."""
        self._faults.append({"code": code, "at": at, "times": times, "operation": operation, "seen": 0})

    def malform(self, *, page: int = 1, field: str = "ResultsByTime.0.Groups.0.Metrics.UnblendedCost.Amount",
                value: object = "abc") -> None:  # fmt: skip
        """On the `page`-th page of a GetCostAndUsage answer, set the dotted `field` to `value`."""
        self._malformed[page] = (field, value)

    def cost_requests(self) -> list[dict[str, Any]]:
        return [body for op, body, _key in self.requests if op == "GetCostAndUsage"]

    # ---- HTTP -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        headers = {k.lower(): v for k, v in headers.items()}
        target = headers.get("x-amz-target", "")
        operation = target.removeprefix("AWSInsightsIndexService.")
        try:
            key = self._authenticate(method, path, headers, body)
            if headers.get("content-type") != "application/x-amz-json-1.1":
                raise ApiError("SerializationException", "Content-Type must be application/x-amz-json-1.1")
            request = json.loads(body or b"{}")
            with self._lock:
                self.requests.append((operation, request, key))
                fault = next((f for f in self._faults if self._trips(f, operation)), None)
            if fault is not None:
                raise ApiError(fault["code"], "Rate exceeded" if "Exceed" in fault["code"] or "Throttl" in
                               fault["code"] else "fake fault", _STATUS.get(fault["code"], 400))  # fmt: skip
            if key == DENIED_KEY_ID:
                raise ApiError(
                    "AccessDeniedException",
                    "User: arn:aws:iam::111122223333:user/reader is not authorized to perform: "
                    f"ce:{operation} on resource: arn:aws:ce:us-east-1:111122223333:/{operation} "
                    f"because no identity-based policy allows the ce:{operation} action",
                )
            if operation == "GetCostAndUsage":
                answer = self._cost_and_usage(request)
            elif operation == "GetDimensionValues":
                answer = self._dimension_values(request)
            else:
                raise ApiError("UnknownOperationException", f"Unknown operation {target!r}")
            return 200, json.dumps(answer).encode()
        except ApiError as exc:
            return exc.status, json.dumps({"__type": exc.code, "message": exc.message}).encode()

    def _trips(self, fault: dict[str, Any], operation: str) -> bool:
        if fault["operation"] and fault["operation"] != operation:
            return False
        fault["seen"] += 1
        until = None if fault["times"] is None else fault["at"] + fault["times"]
        return bool(fault["at"] <= fault["seen"] and (until is None or fault["seen"] < until))

    def _authenticate(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        """The access key id of a correctly signed request (SigV4), or the error AWS answers."""
        match = _AUTH.fullmatch(headers.get("authorization", ""))
        if match is None:
            raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token")
        secret = self.keys.get(match["key"])
        if secret is None:
            raise ApiError(
                "UnrecognizedClientException", "The security token included in the request is invalid."
            )
        if match["region"] != "us-east-1" or match["service"] != "ce":
            raise ApiError(
                "InvalidSignatureException",
                f"Credential should be scoped to a valid region and service ('us-east-1', 'ce'), "
                f"not ('{match['region']}', '{match['service']}').",
            )
        amz_date = headers.get("x-amz-date", "")
        if not amz_date.startswith(match["date"]):
            raise ApiError(
                "InvalidSignatureException",
                "Date in Credential scope does not match YYYYMMDD from X-Amz-Date.",
            )
        signed = match["headers"].split(";")
        if not {"host", "x-amz-date"} <= set(signed):
            raise ApiError("InvalidSignatureException", "host and x-amz-date must be signed headers.")
        canonical = "\n".join(
            [
                method,
                path.split("?", 1)[0] or "/",
                "",  # no query string
                *(f"{name}:{' '.join(headers.get(name, '').split())}" for name in signed),
                "",
                match["headers"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        signing = f"AWS4{secret}".encode()
        for part in (match["date"], match["region"], match["service"], "aws4_request"):
            signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise ApiError(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. Check your "
                "AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        return match["key"]

    # ---- GetCostAndUsage --------------------------------------------------------------------

    def _cost_and_usage(self, q: dict[str, Any]) -> dict[str, Any]:
        first, last = _period(q)
        granularity = q.get("Granularity")
        if granularity not in ("DAILY", "MONTHLY"):
            raise ApiError(
                "ValidationException", f"Granularity {granularity!r}: this fake serves DAILY or MONTHLY"
            )
        metrics = q.get("Metrics") or []
        if not metrics or any(m not in METRICS for m in metrics):
            raise ApiError("ValidationException", f"Metrics must be among {', '.join(METRICS)}: {metrics}")
        group_by = q.get("GroupBy") or []
        if len(group_by) > 2:
            raise ApiError("ValidationException", "GroupBy: you can group by at most 2 dimensions or tags")
        for g in group_by:
            if g.get("Type") not in ("DIMENSION", "TAG") or not g.get("Key"):
                raise ApiError(
                    "ValidationException", f"GroupBy {g}: Type must be DIMENSION or TAG, with a Key"
                )
            if g["Type"] == "DIMENSION" and g["Key"] not in DIMENSIONS:
                raise ApiError("ValidationException", f"GroupBy dimension {g['Key']!r} is not supported here")
        keep = _predicate(q["Filter"]) if "Filter" in q else (lambda row: True)
        entries = self._entries(q, first, last, granularity, metrics, group_by, keep)
        signature = _fingerprint(q)
        start = 0
        if q.get("NextPageToken"):
            start = self._read_token(q["NextPageToken"], signature)
        end = min(start + self.page_groups, len(entries))
        number = start // self.page_groups + 1
        results: dict[str, dict[str, Any]] = {}
        for entry in entries[start:end]:
            result = results.setdefault(entry["Start"], {
                "TimePeriod": {"Start": entry["Start"], "End": entry["End"]}, "Total": {}, "Groups": [],
                "Estimated": entry["Estimated"],
            })  # fmt: skip
            if entry["Total"] is not None:
                result["Total"] = entry["Total"]
            if entry["Group"] is not None:
                result["Groups"].append(entry["Group"])
        answer: dict[str, Any] = {
            "GroupDefinitions": [{"Type": g["Type"], "Key": g["Key"]} for g in group_by],
            "ResultsByTime": list(results.values()),
            "DimensionValueAttributes": [],
        }
        if any(g == {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"} for g in group_by):
            answer["DimensionValueAttributes"] = [
                {"Value": account, "Attributes": {"description": name}} for account, name in self.accounts
            ]
        if end < len(entries):
            answer["NextPageToken"] = self._token(end, signature)
        if number in self._malformed:
            self._break(answer, *self._malformed[number])
        return answer

    def _entries(
        self,
        q: dict[str, Any],
        first: date,
        last: date,
        granularity: str,
        metrics: list[str],
        group_by: list[dict[str, str]],
        keep: Callable[[Row], bool],
    ) -> list[dict[str, Any]]:
        """The answer flattened to page slots: each group, or a period with no group, is one slot."""
        cache_key = (_fingerprint(q), self.version)
        if cache_key in self._cache:
            return self._cache[cache_key]
        periods = _periods(first, last, granularity)
        sums: dict[date, dict[tuple[str, ...], dict[str, Decimal]]] = defaultdict(dict)
        units: dict[tuple[date, tuple[str, ...]], set[str]] = defaultdict(set)
        for row in self.rows:
            if not first <= row.day < last or not keep(row):
                continue
            period = row.day if granularity == "DAILY" else max(first, row.day.replace(day=1))
            keys = tuple(_group_key(row, g) for g in group_by)
            sums_of = sums[period].setdefault(keys, defaultdict(Decimal))
            for metric in metrics:
                sums_of[metric] += row.metric(metric)
            units[(period, keys)].add(row.meter.unit)
        entries: list[dict[str, Any]] = []
        for period, end in periods:
            base = {
                "Start": period.isoformat(),
                "End": end.isoformat(),
                "Estimated": end > self.estimated_from,
            }
            groups = sums.get(period, {})
            if not group_by:
                total = groups.get((), {})
                entries.append(base | {"Total": {m: _metric(m, total.get(m, Decimal(0)), units[(period, ())])
                                                 for m in metrics}, "Group": None})  # fmt: skip
                continue
            if not groups:
                entries.append(base | {"Total": None, "Group": None})
            for keys in sorted(groups):
                values = groups[keys]
                group = {
                    "Keys": list(keys),
                    "Metrics": {m: _metric(m, values[m], units[(period, keys)]) for m in metrics},
                }
                entries.append(base | {"Total": None, "Group": group})
        self._cache = {cache_key: entries}  # one query at a time is paged; keep only the latest
        return entries

    def _token(self, offset: int, signature: str) -> str:
        raw = f"{offset}:{self.version}:{signature}".encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _read_token(self, token: str, signature: str) -> int:
        try:
            offset, version, bound = base64.urlsafe_b64decode(token.encode()).decode().split(":", 2)
            start = int(offset)
        except ValueError:
            raise ApiError("InvalidNextTokenException", "The NextPageToken is invalid.") from None
        if bound != signature:
            raise ApiError("InvalidNextTokenException", "The NextPageToken does not belong to this request.")
        if int(version) != self.version:
            raise ApiError(
                "RequestChangedException",
                "Your request parameters changed between pages. Submit the request with the same parameters.",
            )
        return start

    def _break(self, answer: dict[str, Any], field: str, value: object) -> None:
        *parents, leaf = field.split(".")
        target: Any = answer
        for name in parents:
            target = target[int(name)] if isinstance(target, list) else target[name]
        if isinstance(target, list):
            target[int(leaf)] = value
        elif value is MISSING:
            target.pop(leaf, None)
        else:
            target[leaf] = value
        self.malformed_paths.append(field)

    # ---- GetDimensionValues -----------------------------------------------------------------

    def _dimension_values(self, q: dict[str, Any]) -> dict[str, Any]:
        first, last = _period(q)
        name = q.get("Dimension")
        if name not in DIMENSIONS:
            raise ApiError("ValidationException", f"Dimension {name!r} is not supported here")
        search = (q.get("SearchString") or "").lower()
        keep = _predicate(q["Filter"]) if "Filter" in q else (lambda row: True)
        values = sorted({dimension(r, name) for r in self.rows if first <= r.day < last and keep(r)} - {""})
        values = [v for v in values if search in v.lower()]
        start = int(q["NextPageToken"]) if q.get("NextPageToken", "").isdigit() else 0
        page = values[start : start + self.page_values]
        answer: dict[str, Any] = {
            "DimensionValues": [{"Value": v, "Attributes": {}} for v in page],
            "ReturnSize": len(page),
            "TotalSize": len(values),
        }
        if start + self.page_values < len(values):
            answer["NextPageToken"] = str(start + self.page_values)
        return answer


def _period(q: dict[str, Any]) -> tuple[date, date]:
    try:
        first = date.fromisoformat(q["TimePeriod"]["Start"])
        last = date.fromisoformat(q["TimePeriod"]["End"])
    except (KeyError, TypeError, ValueError):
        raise ApiError("ValidationException", "TimePeriod needs Start and End as YYYY-MM-DD") from None
    if first >= last:
        raise ApiError("ValidationException", "Start date (and hour) should be before end date (and hour)")
    return first, last


def _periods(first: date, last: date, granularity: str) -> list[tuple[date, date]]:
    if granularity == "DAILY":
        return [
            (first + timedelta(days=d), first + timedelta(days=d + 1)) for d in range((last - first).days)
        ]
    out, current = [], first
    while current < last:
        following = (current.replace(day=1) + timedelta(days=32)).replace(day=1)
        out.append((current, min(following, last)))
        current = following
    return out


def _group_key(row: Row, group: dict[str, str]) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${row.tags.get(group['Key'], '')}"
    return dimension(row, group["Key"])


def _metric(name: str, amount: Decimal, units: set[str]) -> dict[str, str]:
    unit = "USD" if name != "UsageQuantity" else (next(iter(units)) if len(units) == 1 else "N/A")
    return {"Amount": format(amount.normalize() if amount else Decimal(0), "f"), "Unit": unit}


def _fingerprint(q: dict[str, Any]) -> str:
    """The request without its page token: a token only pages the request it came from."""
    rest = {k: v for k, v in q.items() if k != "NextPageToken"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()[:16]


def _predicate(expression: Any) -> Callable[[Row], bool]:
    """A Cost Explorer Expression as a test on rows: exactly one of Dimensions, Tags, And, Or, Not."""
    if not isinstance(expression, dict):
        raise ApiError("ValidationException", "Filter: an Expression must be an object")
    present = [k for k in ("Dimensions", "Tags", "CostCategories", "And", "Or", "Not") if k in expression]
    if len(present) != 1:
        raise ApiError(
            "ValidationException",
            f"Expression must have exactly one of Dimensions, Tags, And, Or, Not: {present}",
        )
    kind = present[0]
    if kind in ("And", "Or"):
        parts = [_predicate(e) for e in expression[kind]]
        if len(parts) < 2:
            raise ApiError("ValidationException", f"{kind} needs at least 2 expressions")
        return (
            (lambda row: all(p(row) for p in parts))
            if kind == "And"
            else (lambda row: any(p(row) for p in parts))
        )
    if kind == "Not":
        inner = _predicate(expression["Not"])
        return lambda row: not inner(row)
    if kind == "CostCategories":
        raise ApiError("ValidationException", "this fake has no cost categories")
    spec = expression[kind]
    key, values = spec.get("Key"), spec.get("Values") or []
    options = spec.get("MatchOptions") or ["EQUALS"]
    if set(options) - {"EQUALS", "ABSENT", "CASE_SENSITIVE"}:
        raise ApiError("ValidationException", f"MatchOptions {options}: Dimensions accept EQUALS only")
    wanted = set(values)
    if kind == "Dimensions":
        if key not in DIMENSIONS:
            raise ApiError("ValidationException", f"Dimension {key!r} is not supported here")
        return lambda row: dimension(row, key) in wanted
    if "ABSENT" in options:
        return lambda row: key not in row.tags
    return lambda row: row.tags.get(key, "") in wanted

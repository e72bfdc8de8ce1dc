"""AWS connector: Bedrock spend from Cost Explorer's GetCostAndUsage → ledger records.

One source is one AWS account (a payer account sees its organisation's linked accounts)
read through boto3 with a stored access key pair or the standard credential chain
(`_aws_client.py`). One endpoint, `costs`: for the window asked, the Bedrock services
billed in it are discovered (GetDimensionValues on SERVICE: "Amazon Bedrock" and every
third-party model's own "… (Amazon Bedrock Edition)" service, which a filter on "Amazon
Bedrock" alone would miss), then their daily cost (UnblendedCost, or the `cost_metric`
option) and UsageQuantity are read grouped by service × usage type; with `group_by`
(LINKED_ACCOUNT or a cost-allocation tag) each service is read apart, grouped by usage
type × that, since Cost Explorer takes at most two group-bys. Each request costs $0.01.

Invariants:
- every answer is validated (`_aws_payloads.py`) before it is read; a mismatch is a
  `SourceError("malformed")` naming the endpoint, the page and the field path.
- a day's groups may run over several pages: a page lists a day among its buckets only
  the first time the day appears in this run (the sync clears it then), later pages add
  to it; days no page named are listed, empty, at the end, so a day whose spend vanished
  is cleared too. A NextPageToken Cost Explorer refuses because its data changed
  (RequestChangedException) restarts the window, clearing its days again.
- one record per day × service × usage type (× linked account or tag value): its money,
  and its tokens where the usage type names a token kind (`_aws_usage_types.py`), both
  as billed; the usage type, region, quantity and unit stay in its tags. Keys carry ids.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from spendledger.records import EARLIEST, LATEST, Basis, PricingStatus, TokenCounts, UsageRecord, as_utc
from spendledger.sources import _aws_client, _http
from spendledger.sources._aws_client import Credentials, TokenExpired
from spendledger.sources._aws_payloads import CostPage, DimensionValuesPage, Group
from spendledger.sources._aws_usage_types import (
    is_bedrock_service,
    parse_usage_type,
    token_scale,
    whole_tokens,
)
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import Option, Page, SourceConfig, SourceError, SourceType

ENDPOINT = "costs"
COST_METRICS = ("UnblendedCost", "AmortizedCost", "NetUnblendedCost")
MAX_RESTARTS = 3  # windows restarted because the data changed under the page tokens
_DAY = timedelta(days=1)
M = TypeVar("M", bound=BaseModel)


def _tokens(kind: str | None, n: int) -> TokenCounts:
    """One usage type's tokens under the ledger's contract (cache reads and writes are input)."""
    if kind == "input":
        return TokenCounts(input=n)
    if kind == "output":
        return TokenCounts(output=n)
    if kind == "cache_read":
        return TokenCounts.from_disjoint(uncached_input=0, cache_read=n)
    if kind == "cache_write":
        return TokenCounts.from_disjoint(uncached_input=0, cache_write_5m=n)
    if kind == "cache_write_1h":
        return TokenCounts.from_disjoint(uncached_input=0, cache_write_1h=n)
    return TokenCounts()


class AwsConnector:
    """Reads one AWS account's Bedrock spend from Cost Explorer."""

    provider: ClassVar[str] = "aws"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,  # unused: boto3 is the client (SourceType.http False)
    ) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        self._policy = policy or RetryPolicy()
        self._metric = (config.options.get("cost_metric") or "UnblendedCost").strip()
        if self._metric not in COST_METRICS:
            raise SourceError(
                "config", f"cost_metric must be one of {', '.join(COST_METRICS)}, not {self._metric!r}"
            )
        self._extra = self._group_by((config.options.get("group_by") or "").strip())
        credentials = Credentials.from_options(config.key, config.options)
        self._secret = config.key if credentials.access_key_id else ""  # the chain's key is a profile name
        self._ce = _aws_client.make_client(credentials)

    @staticmethod
    def _group_by(raw: str) -> dict[str, str] | None:
        """The optional second group-by: LINKED_ACCOUNT or `tag:Key`."""
        if not raw:
            return None
        if raw.upper() == "LINKED_ACCOUNT":
            return {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}
        if raw.lower().startswith("tag:") and raw[4:].strip():
            return {"Type": "TAG", "Key": raw[4:].strip()}
        raise SourceError(
            "config", f"group_by must be LINKED_ACCOUNT or tag:<cost allocation tag key>, not {raw!r}"
        )

    def endpoints(self) -> list[str]:
        return [ENDPOINT]

    def check(self) -> str:
        today = datetime.now(UTC).date()
        services = self._services(today - timedelta(days=30), today + _DAY)
        listed = ", ".join(services[:3]) + (", …" if len(services) > 3 else "")
        return f"AWS Cost Explorer reachable; {len(services)} Bedrock services billed in the last 30 days" + (
            f": {listed}" if services else ""
        )

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        if endpoint != ENDPOINT:
            raise SourceError("config", f"AWS has no endpoint {endpoint!r}; known: {ENDPOINT}")
        first, last = as_utc(start).date(), as_utc(end).date()
        yielded = [0]  # pages yielded so far, across restarts: numbers stay consecutive
        for restart in range(MAX_RESTARTS + 1):
            try:
                yield from self._window(first, last, yielded)
                return
            except TokenExpired as exc:
                if restart == MAX_RESTARTS:
                    raise SourceError(
                        "server",
                        f"{exc}; Cost Explorer's data kept changing while it was read "
                        f"({MAX_RESTARTS} restarts); sync again later",
                        endpoint=exc.endpoint,
                        page=exc.page,
                    ) from None

    def close(self) -> None:
        self._ce.close()

    # ---- reading --------------------------------------------------------------------------

    def _window(self, first: date, last: date, yielded: list[int]) -> Iterator[Page]:
        """Every page of [first, last), once: the days listed where they first appear."""
        services = self._services(first, last)
        period = {"Start": first.isoformat(), "End": last.isoformat()}
        usage_type = {"Type": "DIMENSION", "Key": "USAGE_TYPE"}
        if self._extra is None:
            queries = [(services, [{"Type": "DIMENSION", "Key": "SERVICE"}, usage_type])] if services else []
        else:
            queries = [([service], [usage_type, self._extra]) for service in services]
        seen: set[date] = set()
        for wanted, group_by in queries:
            request: dict[str, Any] = {
                "TimePeriod": period,
                "Granularity": "DAILY",
                "Metrics": [self._metric, "UsageQuantity"],
                "Filter": {"Dimensions": {"Key": "SERVICE", "Values": wanted, "MatchOptions": ["EQUALS"]}},
                "GroupBy": group_by,
            }
            token: str | None = None
            while True:
                number = yielded[0] + 1
                body = self._call(
                    "get_cost_and_usage", request | ({"NextPageToken": token} if token else {}), number
                )
                page, next_token = self.read(
                    body, number=number, seen=seen, service=wanted[0] if self._extra else None
                )
                yield page
                yielded[0] = number
                if not next_token:
                    break
                if next_token == token:
                    raise SourceError(
                        "malformed",
                        f"{self._where(number)}: NextPageToken repeats the token just read; "
                        "stopping rather than looping",
                        endpoint=ENDPOINT,
                        page=number,
                    )
                token = next_token
        unseen = [
            first + timedelta(days=d)
            for d in range((last - first).days)
            if first + timedelta(days=d) not in seen
        ]
        if unseen:
            yield Page(ENDPOINT, yielded[0] + 1, buckets=[_bucket(day) for day in unseen])
            yielded[0] += 1

    def _services(self, first: date, last: date) -> list[str]:
        """The Bedrock services Cost Explorer billed in [first, last), every page of them."""
        request: dict[str, Any] = {
            "TimePeriod": {"Start": first.isoformat(), "End": last.isoformat()},
            "Dimension": "SERVICE",
            "SearchString": "Bedrock",
            "Context": "COST_AND_USAGE",
        }
        services: list[str] = []
        token: str | None = None
        for number in itertools.count(1):
            where = f"{ENDPOINT}: services"
            body = _aws_client.call(
                self._ce,
                "get_dimension_values",
                request | ({"NextPageToken": token} if token else {}),
                where=f'AWS source "{self.name}", {where} (page {number})',
                endpoint=ENDPOINT,
                page=number,
                policy=self._policy,
                secret=self._secret,
            )
            listing = self._parse(DimensionValuesPage, body, number, where)
            services += [v.Value for v in listing.DimensionValues if is_bedrock_service(v.Value)]
            if not listing.NextPageToken or listing.NextPageToken == token:
                return sorted(set(services))
            token = listing.NextPageToken
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, operation: str, request: dict[str, Any], number: int) -> dict[str, Any]:
        return _aws_client.call(
            self._ce,
            operation,
            request,
            where=self._where(number),
            endpoint=ENDPOINT,
            page=number,
            policy=self._policy,
            secret=self._secret,
        )

    def _where(self, number: int, endpoint: str = ENDPOINT) -> str:
        return f'AWS source "{self.name}", {endpoint} (page {number})'

    def _parse(self, model: type[M], body: object, number: int, endpoint: str = ENDPOINT) -> M:
        """Validate `body`; a mismatch names the endpoint, the page and the field path."""
        try:
            return model.model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            path = _http.field_path(first["loc"]) or "the page"
            got = f"{first['msg']} (got {str(first.get('input'))[:60]!r})"
            raise self._malformed(number, path, got, endpoint) from None

    def _malformed(self, number: int, path: str, problem: str, endpoint: str = ENDPOINT) -> SourceError:
        return SourceError(
            "malformed",
            f"{self._where(number, endpoint)}: unexpected data at {path}: {problem}; "
            "Cost Explorer's format may have changed, report this message",
            endpoint=ENDPOINT,
            page=number,
        )

    # ---- translation ------------------------------------------------------------------------

    def read(
        self, body: object, *, number: int, seen: set[date], service: str | None = None
    ) -> tuple[Page, str | None]:
        """One GetCostAndUsage answer as a Page and its NextPageToken; a day already in `seen`
        is not listed again. `service`: the one service asked (a per-service query), else the
        service is each group's first key. Anything malformed raises SourceError, nothing else."""
        page = self._parse(CostPage, body, number)
        return self._translate(page, service, seen, number), page.NextPageToken

    def _translate(self, page: CostPage, service: str | None, seen: set[date], number: int) -> Page:
        out = Page(ENDPOINT, number, buckets=[])
        names = {a.Value: a.Attributes.get("description", "") for a in page.DimensionValueAttributes}
        for i, result in enumerate(page.ResultsByTime):
            day = result.TimePeriod.Start
            if result.TimePeriod.End - day != _DAY:
                raise self._malformed(
                    number, f"ResultsByTime[{i}].TimePeriod", "not one day (DAILY was asked)"
                )
            if not EARLIEST.date() <= day < LATEST.date() - _DAY:
                raise self._malformed(
                    number, f"ResultsByTime[{i}].TimePeriod.Start", f"{day} is out of range"
                )
            if day not in seen:
                seen.add(day)
                out.buckets.append(_bucket(day))
            for j, group in enumerate(result.Groups):
                out.records.append(
                    self._record(
                        group,
                        day,
                        result.Estimated,
                        service,
                        names,
                        number,
                        f"ResultsByTime[{i}].Groups[{j}]",
                    )
                )
        return out

    def _record(
        self,
        group: Group,
        day: date,
        estimated: bool,
        service: str | None,
        names: dict[str, str],
        number: int,
        at: str,
    ) -> UsageRecord:
        if len(group.Keys) != 2:
            raise self._malformed(number, f"{at}.Keys", f"{len(group.Keys)} keys for 2 group-bys")
        cost = group.Metrics.get(self._metric)
        if cost is None:
            raise self._malformed(number, f"{at}.Metrics", f"no {self._metric}")
        if service is None:
            service, usage_type = group.Keys
            extra = ""
        else:
            usage_type, extra = group.Keys
        if not service or not usage_type:
            raise self._malformed(number, f"{at}.Keys", "an empty service or usage type")
        billed = parse_usage_type(usage_type, service)
        tags: dict[str, Any] = {"service": service, "usage_type": usage_type}
        if billed.region:
            tags["region"] = billed.region
        if billed.variant:
            tags["variant"] = billed.variant
        if estimated:
            tags["estimated"] = True
        tokens = TokenCounts()
        quantity = group.Metrics.get("UsageQuantity")
        if quantity is not None:
            tags["quantity"], tags["unit"] = str(quantity.Amount), quantity.Unit
            if billed.kind is not None:
                tags["token_kind"] = billed.kind
                tokens = _tokens(
                    billed.kind,
                    whole_tokens(quantity.Amount, token_scale(quantity.Unit, billed.default_scale)),
                )
        workspace = project = user = feature = ""
        if self._extra is not None and self._extra["Type"] == "DIMENSION":
            tags["linked_account_id"] = extra
            if names.get(extra):
                tags["linked_account_name"] = names[extra]
            workspace = names.get(extra) or extra
        elif self._extra is not None:
            value = extra.partition("$")[2]
            tags["tag"] = {self._extra["Key"]: value}
            if value:  # a tag named user or feature fills that dimension; any other the project
                lowered = self._extra["Key"].lower()
                user, feature = (value if lowered == "user" else ""), (value if lowered == "feature" else "")
                project = value if lowered not in ("user", "feature") else ""
        return UsageRecord(
            key="|".join([ENDPOINT, service, usage_type, *([extra] if self._extra is not None else [])]),
            source=self.name,
            basis=Basis.BILLED,
            start=datetime.combine(day, time(), UTC),
            end=datetime.combine(day + _DAY, time(), UTC),
            provider="aws",
            model=billed.model,
            account=self.account,
            workspace=workspace,
            project=project,
            user=user,
            feature=feature,
            tags=tags,
            requests=0,
            tokens=tokens,
            cost=cost.Amount,
            currency=(cost.Unit or "USD").upper(),
            pricing_status=PricingStatus.PROVIDER,
            service_tier=billed.service_tier,
            batch=billed.batch,
        )


def _bucket(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), UTC)
    return start, start + _DAY


SOURCE_TYPE = SourceType(
    name="aws",
    label="AWS Bedrock",
    connector=AwsConnector,
    base_url=_aws_client.DEFAULT_ENDPOINT,
    key_help=(
        "the secret access key of an IAM user's access key pair (its id goes in the access_key_id option); "
        "the key needs ce:GetCostAndUsage and ce:GetDimensionValues (IAM → Policies), on the payer account "
        "to see every linked account. With credentials=chain, the key is instead the AWS profile to use, "
        "or `default` for the standard chain (environment variables, shared config, instance or task role)"
    ),
    options=(
        Option("access_key_id", "Access key ID", "AWS: the access key id (AKIA…) of the secret access key."),
        Option(
            "credentials",
            "Credentials (optional)",
            "AWS: keys (the stored pair, default) or chain (the AWS profile named by the key, the "
            "environment or the role).",
        ),
        Option(
            "region", "Region (optional)", "AWS: the region boto3 signs for; Cost Explorer's is us-east-1."
        ),
        Option(
            "endpoint_url",
            "Cost Explorer endpoint (optional)",
            "AWS: blank for https://ce.us-east-1.amazonaws.com; base_url is taken when this is blank.",
            "url",
            form=False,
        ),
        Option(
            "cost_metric",
            "Cost metric (optional)",
            "AWS: UnblendedCost (default), AmortizedCost or NetUnblendedCost (after discounts).",
        ),
        Option(
            "group_by",
            "Group by (optional)",
            "AWS: LINKED_ACCOUNT (accounts as workspaces) or tag:<key> (a cost allocation tag as project, "
            "or as user/feature when the tag is named so).",
        ),
    ),
    http=False,
)

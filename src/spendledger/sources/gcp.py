"""Google connector: Vertex AI and Gemini API spend from the Cloud Billing export in BigQuery.

Google has no cost API for Gemini or Vertex AI; its bills reach a customer through the
Cloud Billing export to BigQuery (standard or detailed tables, provider-apis-2026.md §1.1).
One source is one export table (`table=project.dataset.table`) read with a service
account's JSON key, through google-cloud-bigquery (the key's own token exchange; jobs run
in `job_project`, default the key's project).

One endpoint, `costs`: a parameterised query (_gcp_payloads.SYNC_SQL) sums the export
per UTC day of `usage_start_time`, project, service, SKU, cost type, label set, usage
unit, currency and credit, for the AI services only. Every group is a record:
- usage lines carry the SKU's gross cost, the model and token kind read from the SKU
  description (_gcp_skus.py), the quantity and unit in tags;
- each credit is its own record with the (negative) credit amount, tagged
  `charge: credit`, so the billed total is net of credits and the gross is one filter away;
- labels land in tags, and the `user`, `feature` and `project` labels in those dimensions
  (the GCP project id is the project otherwise); currency is the billed one.

The export is revised: rows arrive hours late, credits and adjustments days later. The
sync reads whole UTC days and every page replaces its days: a day is never split between
pages (the day that runs over a result page is held back to the next), days without rows
in the window are listed too, and usage days before the window that got rows exported
since its start (`export_time`, up to LATE_LOOKBACK back) are read again, whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

import httpx
from google.cloud import bigquery
from pydantic import ValidationError

from spendledger.records import Basis, PricingStatus, TokenCounts, UsageRecord, as_utc, tags_problem
from spendledger.sources import _gcp_client
from spendledger.sources._gcp_payloads import (
    COLUMNS,
    EXPORT_COLUMNS,
    LATE_DAYS_SQL,
    SYNC_SQL,
    ExportLine,
    parse_key,
    parse_table,
)
from spendledger.sources._gcp_skus import TokenKind, model_of_sku, token_kind_of_sku
from spendledger.sources._http import RetryPolicy
from spendledger.sources.base import ErrorKind, Option, Page, SourceConfig, SourceError, SourceType

DEFAULT_ENDPOINT = "https://bigquery.googleapis.com"
DEFAULT_SERVICES = ("Vertex AI", "Gemini API", "Generative Language API")
ENDPOINT = "costs"
PAGE_ROWS = 20_000  # rows asked per result page (BigQuery may send fewer: ~10 MB a page)
LATE_LOOKBACK = timedelta(days=35)  # how far back a late row may revise a day (next invoice)
_KEY_MAX = 400  # the ledger's key column
_TOKEN_UNITS = frozenset({"count", "token", "tokens"})
_ZERO = Decimal(0)


def input_problems(key: str | None, options: Mapping[str, str]) -> dict[str, str]:
    """What is wrong with a key (when given) and the options, by field ("key" or an option)."""
    problems: dict[str, str] = {}
    if key is not None:
        try:
            parse_key(key)
        except ValueError as exc:
            problems["key"] = f"Key: {exc}"
    try:
        parse_table(options.get("table", ""))
    except ValueError as exc:
        problems["table"] = str(exc)
    return problems


def _tokens(kind: TokenKind | None, quantity: Decimal, unit: str) -> TokenCounts:
    """The usage amount as the ledger's token counts, when the SKU counts tokens."""
    if kind is None or unit.lower() not in _TOKEN_UNITS or quantity <= 0:
        return TokenCounts()
    n = int(quantity.to_integral_value(ROUND_HALF_EVEN))
    whole = {"cached_input": "input", "audio_input": "input", "reasoning": "output", "audio_output": "output"}
    counts = {kind: n} | ({whole[kind]: n} if kind in whole else {})
    return TokenCounts(**counts)


def _quantity(value: Decimal) -> int | float:
    """A usage amount for tags (JSON): whole numbers stay integers."""
    return int(value) if value == value.to_integral_value() and abs(value) < 2**63 else float(value)


def _record_key(parts: list[str]) -> str:
    key = "|".join([ENDPOINT, *parts])
    if len(key) <= _KEY_MAX:
        return key
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"{key[: _KEY_MAX - 33]}#{digest}"


class GcpConnector:
    """Reads one Cloud Billing export table's AI spend through a service account's key."""

    provider: ClassVar[str] = "gcp"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: RetryPolicy | None = None,
        client: httpx.Client | None = None,  # unused: BigQuery's own client is built here
    ) -> None:
        self.name = config.name
        self.account = config.options.get("account") or config.name
        problems = input_problems(config.key, config.options)
        if problems:
            kind: ErrorKind = "auth" if "key" in problems else "config"
            raise SourceError(kind, f'Google source "{config.name}": ' + "; ".join(problems.values()))
        key, info = parse_key(config.key)
        self._table = ".".join(parse_table(config.options["table"]))
        project = config.options.get("job_project") or key.project_id or self._table.split(".")[0]
        endpoint = config.options.get("endpoint_url") or config.options.get("base_url") or None
        services = [s.strip() for s in config.options.get("services", "").split(",") if s.strip()]
        self._services = services or list(DEFAULT_SERVICES)
        self._context = _gcp_client.Context(config.name, key.client_email, self._table, project)
        self._retry = _gcp_client.PolicyRetry(policy or RetryPolicy())
        location = config.options.get("location") or None
        self._bq = _gcp_client.make_client(info, project=project, endpoint=endpoint, location=location)

    def endpoints(self) -> list[str]:
        return [ENDPOINT]

    def check(self) -> str:
        """The table is readable and a billing export, and the account may run the sync's query."""
        table = self._call(lambda: self._bq.get_table(self._table, retry=self._retry), "table")
        names = {field.name for field in table.schema}
        if missing := [c for c in EXPORT_COLUMNS if c not in names]:
            raise SourceError(
                "config",
                f'Google source "{self.name}": the table {self._table} is not a Cloud Billing export '
                f"(it lacks {', '.join(missing)}); set table= to gcp_billing_export_v1_… or "
                "gcp_billing_export_resource_v1_…",
            )
        today = datetime.combine(datetime.now(UTC).date(), time(), UTC)
        config = self._job_config(today - timedelta(days=7), today + timedelta(days=1), [])
        config.dry_run = True
        sql, retried = self._sql(SYNC_SQL), self._retry
        job = self._call(
            lambda: self._bq.query(sql, job_config=config, retry=retried, job_retry=retried), "query"
        )
        kind = "detailed" if "resource" in names else "standard"
        scanned = f"{(job.total_bytes_processed or 0) / 1e6:,.1f} MB"
        return (
            f"BigQuery table {self._table} reachable: {kind} billing export, {table.num_rows or 0:,} rows; "
            f"a week's sync query scans {scanned}"
        )

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        if endpoint != ENDPOINT:
            raise SourceError("config", f"Google has no endpoint {endpoint!r}; known: {ENDPOINT}")
        start, end = as_utc(start), as_utc(end)
        late = self._late_days(start)
        wanted = sorted({start.date() + timedelta(days=i) for i in range((end - start).days)} | set(late))
        config = self._job_config(start, end, late)
        rows = self._call(
            lambda: self._bq.query_and_wait(
                self._sql(SYNC_SQL),
                job_config=config,
                page_size=PAGE_ROWS,
                retry=self._retry,
                job_retry=self._retry,
                api_timeout=120,
            ),
            ENDPOINT,
            1,
        )
        if [field.name for field in rows.schema or []] != list(COLUMNS):
            got = ", ".join(field.name for field in rows.schema or []) or "none"
            raise self._malformed(1, f"the result's columns are {got}, not the query's")
        yield from self._pages(rows, wanted)

    def close(self) -> None:
        self._bq.close()  # type: ignore[no-untyped-call]

    # ---- the queries ------------------------------------------------------------------------

    def _sql(self, template: str) -> str:
        return template.format(table=self._table)  # validated: letters, digits, . : - _ $ only

    def _job_config(self, start: datetime, end: datetime, late: list[date]) -> bigquery.QueryJobConfig:
        return bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ArrayQueryParameter("services", "STRING", self._services),
                bigquery.ScalarQueryParameter("start", "TIMESTAMP", start),
                bigquery.ScalarQueryParameter("end", "TIMESTAMP", end),
                bigquery.ArrayQueryParameter("late_days", "DATE", late),
            ],
            use_legacy_sql=False,
        )

    def _late_days(self, start: datetime) -> list[date]:
        """Usage days before `start` with rows exported since it: revised days to read again."""
        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ArrayQueryParameter("services", "STRING", self._services),
                bigquery.ScalarQueryParameter("start", "TIMESTAMP", start),
                bigquery.ScalarQueryParameter("lookback", "TIMESTAMP", start - LATE_LOOKBACK),
            ],
            use_legacy_sql=False,
        )
        rows = self._call(
            lambda: list(
                self._bq.query_and_wait(
                    self._sql(LATE_DAYS_SQL), job_config=config, retry=self._retry, job_retry=self._retry
                )
            ),
            f"{ENDPOINT} (late rows)",
        )
        days = [row[0] for row in rows]
        if not all(isinstance(day, date) for day in days):
            raise self._malformed(None, "the late days query returned a value that is not a DATE")
        return days

    def _call(self, call: Any, endpoint: str, page: int | None = None) -> Any:
        try:
            return call()
        except SourceError:
            raise
        except Exception as exc:
            raise _gcp_client.translate(exc, self._context, endpoint=endpoint, page=page) from None

    # ---- pages and days ---------------------------------------------------------------------

    def _pages(self, rows: bigquery.table.RowIterator, wanted: list[date]) -> Iterator[Page]:
        """Ledger pages from result pages: each holds whole days, in order, empty ones listed.

        The last day of a result page may go on in the next one, so it is held back; the next
        result page is fetched before a page is handed on, to know whether it was the last.
        """
        results = iter(rows.pages)
        current = self._call(lambda: next(results, None), ENDPOINT, 1)
        number, position = 0, 0
        held_day: date | None = None
        held: list[UsageRecord] = []
        while True:
            number += 1
            out = Page(endpoint=ENDPOINT, number=number, buckets=[])
            following = None
            if current is not None:
                for line in parse_page(current.raw_page, source=self.name, page=number):
                    if line.day == held_day:
                        held.append(self._record(line))
                        continue
                    if held_day is not None:
                        if line.day < held_day:
                            raise self._malformed(
                                number, f"rows are not in day order ({line.day} after {held_day})"
                            )
                        position = self._close_days(out, wanted, position, held_day, held)
                    if line.day not in wanted[position:]:
                        raise self._malformed(number, f"a row of {line.day}, a day the query did not ask for")
                    held_day, held = line.day, [self._record(line)]
                following = self._call(lambda: next(results, None), ENDPOINT, number + 1)
            if following is None:  # the last page: the held day is whole, and so are the days left
                if held_day is not None:
                    position = self._close_days(out, wanted, position, held_day, held)
                self._close_days(out, wanted, position, None, [])
                yield out
                return
            if held_day is not None:  # list the empty days before the held one
                position = self._close_days(out, wanted, position, held_day, None)
            yield out
            current = following

    @staticmethod
    def _close_days(
        out: Page, wanted: list[date], position: int, day: date | None, records: list[UsageRecord] | None
    ) -> int:
        """List the empty days before `day` (all that remain when None), then `day` with its
        `records` (when not None: else it stays held); the position of the first day unlisted."""
        while position < len(wanted) and (day is None or wanted[position] < day):
            first = datetime.combine(wanted[position], time(), UTC)
            out.buckets.append((first, first + timedelta(days=1)))
            position += 1
        if day is not None and records is not None:
            first = datetime.combine(day, time(), UTC)
            out.buckets.append((first, first + timedelta(days=1)))
            out.records.extend(records)
            position += 1
        return position

    def _malformed(self, page: int | None, what: str) -> SourceError:
        return malformed(self.name, page, what)

    # ---- translation ------------------------------------------------------------------------

    def _record(self, line: ExportLine) -> UsageRecord:
        labels = line.labels()
        credit = bool(line.credit_type or line.credit_id)
        tags: dict[str, Any] = {
            "charge": "credit" if credit else "usage",
            "service": line.service,
            "service_id": line.service_id,
            "sku": line.sku.strip(),
            "sku_id": line.sku_id,
            "gcp_project": line.project_id,
        }
        if line.project_name:
            tags["project_name"] = line.project_name
        if line.cost_type and line.cost_type != "regular":
            tags["cost_type"] = line.cost_type
        if credit:
            tags |= {"credit_type": line.credit_type, "credit_id": line.credit_id}
            if line.credit_name:
                tags["credit_name"] = line.credit_name
        else:
            tags |= {"usage_amount": _quantity(line.quantity), "usage_unit": line.usage_unit}
        if labels:
            tags["labels"] = labels
            if len(labels) > 8 and tags_problem(tags):  # up to 64 long labels: keep what fits, say so
                tags["labels"] = dict(list(labels.items())[:8])
                tags["labels_truncated"] = True
        label_id = (
            hashlib.blake2b(line.label_set.encode(), digest_size=8).hexdigest() if line.label_set else ""
        )
        start = datetime.combine(line.day, time(), UTC)
        return UsageRecord(
            key=_record_key(
                [
                    line.project_id,
                    line.service_id,
                    line.sku_id,
                    line.cost_type,
                    label_id,
                    line.usage_unit,
                    line.currency.upper(),
                    line.credit_type,
                    line.credit_id,
                ]
            ),  # fmt: skip
            source=self.name,
            basis=Basis.BILLED,
            start=start,
            end=start + timedelta(days=1),
            provider="google",  # the ledger's name of the route (model_names.PROVIDER_NAMES)
            model=model_of_sku(line.sku),
            account=self.account,
            project=labels.get("project") or line.project_id,
            user=labels.get("user", ""),
            feature=labels.get("feature", ""),
            tags=tags,
            requests=0,
            tokens=TokenCounts()
            if credit
            else _tokens(token_kind_of_sku(line.sku), line.quantity, line.usage_unit),
            cost=line.amount,
            currency=line.currency.upper(),
            pricing_status=PricingStatus.PROVIDER,
        )


def malformed(source: str, page: int | None, what: str) -> SourceError:
    where = f"{ENDPOINT}" + (f" (page {page})" if page else "")
    return SourceError(
        "malformed",
        f'Google source "{source}", {where}: {what}; the export or the API may have changed, '
        "report this message",
        endpoint=ENDPOINT,
        page=page,
    )


def parse_page(raw: object, *, source: str, page: int) -> list[ExportLine]:
    """A result page's rows (BigQuery's JSON), validated against the query's columns.

    The row/cell envelope is checked by hand (pydantic models of 16 cells a row cost 30x
    the line's own validation on a large page), each row's values as an `ExportLine`.
    """
    rows = raw.get("rows", []) if isinstance(raw, dict) else None
    if not isinstance(rows, list):
        raise malformed(source, page, "unexpected data at rows: the page holds no list of rows")
    lines = []
    for i, row in enumerate(rows):
        cells = row.get("f") if isinstance(row, dict) else None
        if not isinstance(cells, list) or len(cells) != len(COLUMNS):
            size = len(cells) if isinstance(cells, list) else "no"
            raise malformed(
                source, page, f"unexpected data at rows[{i}].f: {size} values, not {len(COLUMNS)}"
            )
        values: dict[str, object] = {}
        for name, cell in zip(COLUMNS, cells, strict=True):
            if not isinstance(cell, dict) or "v" not in cell:
                raise malformed(source, page, f'unexpected data at rows[{i}].{name}: not a {{"v": ...}} cell')
            values[name] = cell["v"]
        try:
            lines.append(ExportLine.model_validate(values))
        except ValidationError as exc:
            first = exc.errors()[0]
            column = ".".join(str(p) for p in first["loc"])
            got = str(first.get("input"))[:60]
            what = f"unexpected data at rows[{i}].{column}: {first['msg']} (got {got!r})"
            raise malformed(source, page, what) from None
    return lines


SOURCE_TYPE = SourceType(
    name="gcp",
    label="Google Cloud (Vertex AI, Gemini API)",
    connector=GcpConnector,
    base_url=DEFAULT_ENDPOINT,
    http=False,
    key_help=(
        "a service account's JSON key file (IAM & Admin → Service accounts → Keys → Add key → JSON); the "
        "account needs roles/bigquery.dataViewer on the billing export's dataset and roles/bigquery.jobUser "
        "on the project its queries run in (IAM & Admin → IAM)"
    ),
    options=(
        Option(
            "table",
            "Billing export table",
            "Google: the Cloud Billing export table, project.dataset.gcp_billing_export_v1_<ACCOUNT> "
            "(standard) or …_resource_v1_… (detailed).",
            required=True,
        ),
        Option(
            "job_project",
            "Job project (optional)",
            "Google: the project BigQuery runs the queries in (needs roles/bigquery.jobUser); blank: the "
            "key's project.",
        ),
        Option(
            "location",
            "Location (optional)",
            "Google: the dataset's location (US, EU, a region).",
            form=False,
        ),
        Option(
            "services",
            "Services (optional)",
            "Google: comma-separated service descriptions to read; blank: Vertex AI, Gemini API, "
            "Generative Language API.",
            "ids",
            form=False,
        ),
        Option(
            "endpoint_url",
            "BigQuery endpoint (optional)",
            "Google: blank for BigQuery's; set it for a proxy or a test server (base_url works too).",
            "url",
            form=False,
        ),
    ),
    problems=input_problems,
)

"""A Cloud Billing export in DuckDB, seeded deterministically: the fake BigQuery's table and truth.

The table (`export`, a view) has the documented schema of the standard usage cost export
(`gcp_billing_export_v1_<BILLING_ACCOUNT_ID>`; with `detailed=True` the resource-level
one adds `resource`): `service`, `sku`, `project`, `location`, `usage`, `invoice` as
STRUCTs, `labels`, `system_labels` and `credits` as arrays of STRUCTs, `cost` FLOAT64,
`usage_start_time`/`usage_end_time`/`export_time` TIMESTAMPs. Rows come in usage windows
of a few hours per project and SKU, as the export's hourly rows do, each with one label
set; some carry a free-tier credit, some a promotion credit too (two in one row).

The truth lives apart from the view in integer micro-units (`seed`), so `expected_costs()`
never goes through the FLOAT64 the connector reads: the connector must get from
floats to exact decimals (CAST to NUMERIC) to agree to the cent.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

VERTEX, GEMINI_API, COMPUTE = "C7E2-9256-1C43", "AEFD-7695-64FA", "6F81-5844-456A"
# (service id, service, sku id, sku description, usage unit, micro-dollars per 1,000 units,
# model, token kind or None): the SKU descriptions follow the export's own grammar.
SKUS: list[tuple[str, str, str, str, str, int, str, str | None]] = [
    (VERTEX, "Vertex AI", "A1B2-0001-0001", "Gemini 2.5 Pro Input Text Tokens", "count", 1250,
     "gemini-2.5-pro", "input"),
    (VERTEX, "Vertex AI", "A1B2-0001-0002", "Gemini 2.5 Pro Output Text Tokens", "count", 10000,
     "gemini-2.5-pro", "output"),
    (VERTEX, "Vertex AI", "A1B2-0001-0003", "Gemini 2.5 Pro Cached Input Text Tokens", "count", 125,
     "gemini-2.5-pro", "cached_input"),
    (VERTEX, "Vertex AI", "A1B2-0002-0001", "Gemini 2.5 Flash GA Text Input - Predictions", "count", 300,
     "gemini-2.5-flash", "input"),
    (VERTEX, "Vertex AI", "A1B2-0002-0002", "Gemini 2.5 Flash GA Thinking Text Output - Predictions",
     "count", 2500, "gemini-2.5-flash", "reasoning"),
    (VERTEX, "Vertex AI", "A1B2-0002-0003", " Gemini 2.5 Flash GA Input Text Caching", "count", 30,
     "gemini-2.5-flash", "cached_input"),
    (VERTEX, "Vertex AI", "A1B2-0002-0004", "Gemini 2.5 Flash Input Text Caching Storage",
     "gibibyte hour", 1000000, "gemini-2.5-flash", None),
    (GEMINI_API, "Gemini API", "B3C4-0001-0001",
     "Generate content input token count gemini 2.5 flash lite text", "count", 100,
     "gemini-2.5-flash-lite", "input"),
    (GEMINI_API, "Gemini API", "B3C4-0001-0002",
     "Generate content output token count gemini 2.5 flash lite text", "count", 400,
     "gemini-2.5-flash-lite", "output"),
    (GEMINI_API, "Gemini API", "B3C4-0001-0003",
     "Generate content input token count gemini 2.5 flash input audio", "count", 1000,
     "gemini-2.5-flash", "audio_input"),
    (GEMINI_API, "Gemini API", "B3C4-0002-0001", "Grounding with Google Search", "count", 35000000, "", None),
    (COMPUTE, "Compute Engine", "D5E6-0001-0001", "N2 Instance Core running in Americas", "seconds", 9, "",
     None),
]  # fmt: skip
AI_SERVICES = ("Vertex AI", "Gemini API", "Generative Language API")
# label sets: `user`, `feature` and `project` labels name the ledger's dimensions
LABEL_SETS: list[list[tuple[str, str]]] = [
    [],
    [("env", "prod"), ("feature", "chat"), ("user", "alice")],
    [("feature", "search"), ("team", "growth"), ("user", "bob")],
    [("env", "dev"), ("project", "atlas")],
]
# usage divisors of the SKUs not counted in tokens (GiB-hours, searches, seconds), so their
# quantities and money stay plausible next to the token SKUs'
_SCALE = {"A1B2-0002-0004": 100_000, "B3C4-0002-0001": 10_000, "D5E6-0001-0001": 10}
WINDOW_HOURS = 6  # a usage row spans a few hours, as the export's hourly rows do
_CREDIT = "STRUCT(name VARCHAR, amount DOUBLE, full_name VARCHAR, id VARCHAR, type VARCHAR)"
_LABEL = 'STRUCT("key" VARCHAR, "value" VARCHAR)'


def _pseudo(*terms: str) -> str:
    """A deterministic pseudo-random integer in [0, 100003) from SQL integer terms."""
    primes = (7919, 104729, 1299709, 15485863, 32452843)
    return "((" + " + ".join(f"({t} + 1) * {p}" for t, p in zip(terms, primes, strict=False)) + ") % 100003)"


class SeededExport:
    """`days` days from `start` of `projects` projects' AI (and other) spend, in a DuckDB table.

    `windows` usage rows a day per project and SKU (kept when the pseudo-random draw is
    under `density`); `currency` as billed; `detailed` adds the resource-level columns.
    """

    def __init__(
        self,
        *,
        start: date = date(2025, 3, 1),
        days: int = 7,
        projects: int = 3,
        windows: int = 4,
        density: float = 0.8,
        currency: str = "USD",
        detailed: bool = False,
    ) -> None:
        self.start, self.days, self.currency, self.detailed = start, days, currency, detailed
        self.projects = [(f"proj-{i:03d}-ai", f"Project {i}", f"{100000000 + i}") for i in range(projects)]
        self.db = duckdb.connect()
        self.db_lock = threading.Lock()
        self.db.execute("SET TimeZone = 'UTC'").fetchall()
        self._tables()
        self._seed(windows, density)
        self._view()

    # ---- seeding --------------------------------------------------------------------------

    def _tables(self) -> None:
        db = self.db
        db.execute(
            "CREATE TABLE skus (idx INTEGER, service_id VARCHAR, service VARCHAR, sku_id VARCHAR, "
            "sku VARCHAR, unit VARCHAR, price_per_k BIGINT, model VARCHAR, scale INTEGER)"
        ).fetchall()
        db.executemany(
            "INSERT INTO skus VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, *s[:7], _SCALE.get(s[2], 1)) for i, s in enumerate(SKUS)],
        ).fetchall()
        db.execute("CREATE TABLE projects (idx INTEGER, id VARCHAR, name VARCHAR, number VARCHAR)").fetchall()
        db.executemany(
            "INSERT INTO projects VALUES (?, ?, ?, ?)", [(i, *p) for i, p in enumerate(self.projects)]
        ).fetchall()
        db.execute(f"CREATE TABLE label_sets (idx INTEGER, labels {_LABEL}[])").fetchall()
        for i, labels in enumerate(LABEL_SETS):
            db.execute(
                f"INSERT INTO label_sets VALUES (?, ?::{_LABEL}[])",
                [i, [{"key": k, "value": v} for k, v in labels]],
            ).fetchall()
        # one row a usage window; money in integer micro-units (the truth)
        db.execute(
            "CREATE TABLE seed (usage_start TIMESTAMPTZ, hours INTEGER, export_time TIMESTAMPTZ, "
            "p INTEGER, s INTEGER, l INTEGER, usage BIGINT, cost_micros BIGINT, free_micros BIGINT, "
            "promo_micros BIGINT, cost_type VARCHAR)"
        ).fetchall()

    def _seed(self, windows: int, density: float) -> None:
        draw = _pseudo("d", "w", "p.idx", "s.idx")
        usage = f"((1000 + {draw} * 20) // s.scale)"
        cost = f"({usage} * s.price_per_k // 1000)"
        start = datetime.combine(self.start, datetime.min.time(), UTC)
        self.db.execute(
            f"""
            INSERT INTO seed
            SELECT
              $start + to_hours(d * 24 + w * {WINDOW_HOURS}), {WINDOW_HOURS},
              $start + to_hours(d * 24 + w * {WINDOW_HOURS} + {WINDOW_HOURS} + 2),
              p.idx, s.idx, ({draw} + d) % {len(LABEL_SETS)},
              {usage}, {cost},
              CASE WHEN {draw} % 5 = 0 THEN -({cost} // 4) ELSE 0 END,
              CASE WHEN p.idx = 0 AND {draw} % 3 = 0 THEN -({cost} // 10) ELSE 0 END,
              'regular'
            FROM range({self.days}) AS days(d), range({windows}) AS ws(w), projects AS p, skus AS s
            WHERE {draw} % 1000 < {int(density * 1000)}
            """,
            {"start": start},
        ).fetchall()

    def _view(self) -> None:
        resource = (
            ", struct_pack(name := 'projects/' || p.number || '/locations/us-central1/endpoints/gemini', "
            "global_name := '//aiplatform.googleapis.com/projects/' || p.number) AS resource"
            if self.detailed
            else ""
        )
        credit = (
            "CASE WHEN x.{col} < 0 THEN [struct_pack(name := '{name}', amount := x.{col} / 1e6, "
            "full_name := '{name}', id := '{kind}-' || p.number, type := '{kind}')] "
            f"ELSE []::{_CREDIT}[] END"
        )
        free = credit.format(col="free_micros", name="Free tier usage", kind="FREE_TIER")
        promo = credit.format(col="promo_micros", name="Gemini launch credit", kind="PROMOTION")
        self.db.execute(
            f"""
            CREATE VIEW export AS SELECT
              '0A1B2C-3D4E5F-6A7B8C' AS billing_account_id,
              struct_pack(id := s.service_id, description := s.service) AS service,
              struct_pack(id := s.sku_id, description := s.sku) AS sku,
              x.usage_start AS usage_start_time,
              x.usage_start + to_hours(x.hours) AS usage_end_time,
              struct_pack(id := p.id, number := p.number, name := p.name,
                          labels := []::{_LABEL}[], ancestry_numbers := '/1234567890/') AS project,
              ls.labels AS labels,
              []::{_LABEL}[] AS system_labels,
              struct_pack(location := 'us-central1', country := 'US', region := 'us-central1',
                          zone := NULL::VARCHAR) AS location,
              x.export_time AS export_time,
              x.cost_micros / 1e6 AS cost,
              '{self.currency}' AS currency,
              1.0::DOUBLE AS currency_conversion_rate,
              struct_pack(amount := x.usage::DOUBLE, unit := s.unit,
                          amount_in_pricing_units := x.usage / 1e6, pricing_unit := 'count') AS usage,
              list_concat({free}, {promo}) AS credits,
              struct_pack(month := strftime(x.usage_start, '%Y%m')) AS invoice,
              x.cost_type AS cost_type
              {resource}
            FROM seed AS x
            JOIN skus AS s ON s.idx = x.s
            JOIN projects AS p ON p.idx = x.p
            JOIN label_sets AS ls ON ls.idx = x.l
            """
        ).fetchall()

    # ---- knobs ----------------------------------------------------------------------------

    def revise(self, day: str, *, micros: int = 7_654_321, exported: datetime | None = None) -> None:
        """A late row for usage day `day` (an adjustment of `micros` on the first project's
        first SKU, exported at `exported`, default the day after): the day's total moves."""
        usage_start = datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=1)
        exported = exported or usage_start + timedelta(days=1)
        with self.db_lock:
            self.db.execute(
                "INSERT INTO seed VALUES (?, 1, ?, 0, 0, 1, 0, ?, 0, 0, 'adjustment')",
                [usage_start, exported, micros],
            ).fetchall()

    # ---- the truth --------------------------------------------------------------------------

    def expected_costs(
        self, services: tuple[str, ...] = AI_SERVICES, *, part: str = "net"
    ) -> dict[tuple[str, str, str], Decimal]:
        """Billed money by (UTC day, project, model) of the AI services: `net` (cost + credits),
        `gross` (cost) or `credits`. The project is the `project` label where a row has one,
        else the GCP project id.
        """
        money = {
            "net": "x.cost_micros + x.free_micros + x.promo_micros",
            "gross": "x.cost_micros",
            "credits": "x.free_micros + x.promo_micros",
        }[part]
        with self.db_lock:
            rows = self.db.execute(
                f"""
                SELECT strftime(x.usage_start, '%Y-%m-%d'), p.id, ls.labels, s.model,
                       SUM({money})
                FROM seed AS x JOIN skus AS s ON s.idx = x.s JOIN projects AS p ON p.idx = x.p
                JOIN label_sets AS ls ON ls.idx = x.l
                WHERE list_contains($services, s.service)
                GROUP BY ALL
                """,
                {"services": list(services)},
            ).fetchall()
        out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for day, project, labels, model, micros in rows:
            project = next((lab["value"] for lab in labels if lab["key"] == "project"), project)
            out[(day, project, model)] += Decimal(int(micros)).scaleb(-6)
        return dict(out)

    def expected_tokens(self) -> dict[tuple[str, str], dict[str, int]]:
        """Token counts by (UTC day, model) and kind, from the SKUs that count tokens."""
        with self.db_lock:
            rows = self.db.execute(
                "SELECT strftime(x.usage_start, '%Y-%m-%d'), x.s, SUM(x.usage) FROM seed AS x GROUP BY ALL"
            ).fetchall()
        out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for day, s, amount in rows:
            _sid, service, _id, _sku, _unit, _price, model, kind = SKUS[s]
            if kind is None or service not in AI_SERVICES:
                continue
            counts = out[(day, model)]
            amount = int(amount)
            # the ledger's contract: subsets are counted inside their whole too
            whole = {"cached_input": "input", "audio_input": "input", "reasoning": "output"}.get(kind)
            counts[kind] += amount
            if whole:
                counts[whole] += amount
        return {k: dict(v) for k, v in out.items()}

    def rows(self) -> int:
        with self.db_lock:
            return int(self.db.execute("SELECT count(*) FROM seed").fetchall()[0][0])

    def query(self, sql: str, params: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        """Run translated SQL on the export (under the lock: one DuckDB connection)."""
        return self.db.execute(sql, params)

"""A source type added from outside: declared here, found through the entry-point group.

`ToyConnector` and `SOURCE_TYPE` below are a whole source type, and the test registers
it the way a third-party package would: a distribution's `entry_points.txt` naming
`spendledger.sources` → `toy = <this module>:SOURCE_TYPE`, put on sys.path. Nothing
else in the tree knows the toy: `sources add` and its options, `sources types`, `sync`,
`sources test|remove` and the /sources form take it from its declaration. The toy
provider is a fake over real HTTP on 127.0.0.1 (fakes/toy_billing.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from clirun import Cli, cli_runner
from fakes.toy_billing import TOY_KEY, FakeToyBilling
from logins import csrf_of
from spendledger.records import Basis, PricingStatus, UsageRecord
from spendledger.sources import _http
from spendledger.sources.base import ENTRY_POINTS, Option, Page, SourceConfig, SourceType
from spendledger.store.tables import sources, usage

FIRST, LAST = date(2025, 3, 1), date(2025, 3, 4)


class ToyConnector:
    """The toy provider's daily costs: one endpoint, one page, one record a day."""

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self._config, self._policy = config, policy or _http.RetryPolicy()
        self._client = client or SOURCE_TYPE.client(config)
        self._hints = _http.Hints(provider="Toy", source=config.name, auth="use the toy key")

    def endpoints(self) -> list[str]:
        return ["costs"]

    def check(self) -> str:
        body = _http.get_json(self._client, "me", hints=self._hints, endpoint="me", policy=self._policy)
        return f"Toy organisation {body['org']} reachable"

    def fetch(self, endpoint: str, start: datetime, end: datetime) -> Iterator[Page]:
        params = {"start": start.date().isoformat(), "end": end.date().isoformat()}
        body = _http.get_json(
            self._client, "costs", params=params, hints=self._hints, endpoint=endpoint, policy=self._policy
        )
        days = [start + timedelta(days=i) for i in range((end - start).days)]
        page = Page(endpoint, 1, [(day, day + timedelta(days=1)) for day in days])
        for item in body["days"]:
            day = datetime.fromisoformat(item["date"]).replace(tzinfo=UTC)
            page.records.append(
                UsageRecord(
                    key=f"costs|{item['region']}",
                    source=self._config.name,
                    basis=Basis.BILLED,
                    start=day,
                    end=day + timedelta(days=1),
                    provider="toy",
                    model="toy-1",
                    account=self._config.options.get("account") or self._config.name,
                    project=item["region"],
                    cost=Decimal(item["amount"]),
                    requests=0,
                    pricing_status=PricingStatus.PROVIDER,
                )  # fmt: skip
            )
        yield page

    def close(self) -> None:
        self._client.close()


SOURCE_TYPE = SourceType(
    name="toy",
    label="Toy Cloud",
    connector=ToyConnector,
    base_url="https://toy.invalid/v1",
    key_help="a toy key",
    options=(Option("region", "Region (optional)", "Toy: the region to read.", "text"),),
)


@pytest.fixture
def toy_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the toy as a package would: a distribution's entry point, on sys.path."""
    dist = tmp_path / "site" / "spendledger_toy-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: spendledger-toy\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINTS}]\ntoy = {__name__}:SOURCE_TYPE\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toy_installed: None) -> Cli:
    return cli_runner(db_url, tmp_path, monkeypatch, SPENDLEDGER_TIMEZONE="UTC", TOY_KEY=TOY_KEY)


def _costs(engine: Engine) -> dict[str, Decimal]:
    with engine.connect() as conn:
        rows = conn.execute(select(usage.c.day, usage.c.cost_nanos).where(usage.c.source == "Toys")).all()
    return {str(r.day): Decimal(r.cost_nanos) / 10**9 for r in rows}


def test_source_registry_toy_type_is_added_synced_tested_and_removed(cli: Cli, engine: Engine) -> None:
    types = cli("sources", "types").stdout
    assert "toy" in types and "Toy Cloud" in types and "region: Toy: the region to read." in types
    with FakeToyBilling(start=FIRST, days=3) as fake:
        add = ("sources", "add", "toy", "--name", "Toys", "--key-env", "TOY_KEY")
        refused = cli(*add, "--option", f"base_url={fake.url}", "--option", "workspace_ids=w", ok=False)
        assert refused.exit_code == 2
        assert "--option: Toy Cloud takes no option 'workspace_ids'; it takes base_url, account, region" in (
            refused.output
        )
        added = cli(*add, "--option", f"base_url={fake.url}", "--option", "region=eu")
        assert "Added toy source 'Toys'" in added.stdout
        assert cli("sources", "test", "Toys").stdout.strip() == "OK: Toy organisation Toy Org reachable"
        synced = cli("sync", "Toys", "--since", FIRST.isoformat(), "--until", LAST.isoformat())
        assert "Toys: 1 pages, 3 records" in synced.stdout
        expected = {
            "2025-03-01": Decimal("1.25"),
            "2025-03-02": Decimal("2.25"),
            "2025-03-03": Decimal("3.25"),
        }
        assert _costs(engine) == expected
        fake.amounts[FIRST + timedelta(days=1)] = Decimal("7.5")  # a revised day replaces the old figure
        cli("sync", "Toys", "--since", FIRST.isoformat(), "--until", LAST.isoformat())
        assert _costs(engine) == expected | {"2025-03-02": Decimal("7.5")}
        report = cli("report", "--from", FIRST.isoformat(), "--to", LAST.isoformat(), "--by", "provider",
                     "--basis", "billed", "--format", "json")  # fmt: skip
        rows = json.loads(report.stdout)["rows"]
        assert [(r["provider"], Decimal(r["cost"])) for r in rows] == [("toy", Decimal("12.00"))]
        assert "Toys" in cli("sources", "list").stdout
        assert any(path == "/v1/costs" for path, _ in fake.requests)
    removed = cli("sources", "remove", "Toys", "--purge")
    assert removed.stdout.strip() == "Removed source 'Toys' and 3 records."
    assert _costs(engine) == {}


def test_source_registry_toy_type_in_the_sources_form(
    admin_client: TestClient, engine: Engine, toy_installed: None
) -> None:
    page = admin_client.get("/sources").text
    assert '<option value="toy">Toy Cloud</option>' in page
    # a "region" input is shared with the other types that take a region (aws)
    assert re.search(r'<div data-provider="[^"]*\btoy\b[^"]*">', page)
    assert '<label for="add-region">Region (optional)</label>' in page
    with FakeToyBilling(start=FIRST, days=3) as fake:
        data: dict[str, Any] = {
            "csrf_token": csrf_of(page), "provider": "toy", "name": "Toys", "key": TOY_KEY,
            "base_url": fake.url, "region": "eu", "project_ids": "ignored", "backfill_days": "7",
            "interval_minutes": "60",
        }  # fmt: skip
        added = admin_client.post("/sources", data=data, follow_redirects=False)
        assert added.status_code == 303, added.text
        tested = admin_client.post(
            "/sources/Toys/test", data={"csrf_token": csrf_of(page)}, headers={"HX-Request": "true"}
        )
        assert "OK: Toy organisation Toy Org reachable" in tested.text
    with engine.connect() as conn:
        row = conn.execute(select(sources.c.provider, sources.c.options)).one()
        assert conn.execute(select(func.count()).select_from(usage)).scalar_one() == 0
    assert (row.provider, row.options) == ("toy", {"base_url": fake.url, "region": "eu"})

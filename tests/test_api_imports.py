"""POST /api/v1/imports: the JSON twin of `spendledger import` and /imports, with a token."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from import_samples import BAD_LINES, OPENROUTER, OPENROUTER_TOTAL, thousand_rows
from spendledger.records import from_nanos
from spendledger.store.tables import usage


def _ledger(engine: Engine) -> tuple[int, Decimal]:
    query = select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))
    with engine.connect() as conn:
        count, nanos = conn.execute(query).one()
    return int(count), from_nanos(int(nanos))


def test_api_import_dry_run_then_import(client: TestClient, engine: Engine, tmp_path: Path) -> None:
    files = {"file": ("spend.csv", thousand_rows(tmp_path / "spend.csv").read_bytes(), "text/csv")}
    dry = client.post("/api/v1/imports", data={"dry_run": "true"}, files=files)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert (body["dry_run"], body["rows"], body["rejected_count"]) == (True, 997, 3)
    assert [(r["line"], r["column"]) for r in body["rejected"]] == list(BAD_LINES.items())
    # anthropic's 250 October rows at $1.25 = $312.50 (none of the bad rows is one of them)
    assert {"provider": "anthropic", "month": "2026-10", "currency": "USD", "rows": 250, "cost": "312.50"} | {
        "unpriced": 0
    } in body["totals"]
    assert _ledger(engine) == (0, Decimal(0))
    stored = client.post("/api/v1/imports", files=files).json()
    assert (stored["inserted"], stored["unchanged"]) == (997, 0)
    again = client.post("/api/v1/imports", files=files).json()
    assert (again["inserted"], again["unchanged"]) == (0, 997)
    assert _ledger(engine) == (997, Decimal("1246.25"))  # 997 × $1.25


def test_api_import_console_export_with_options(client: TestClient, engine: Engine) -> None:
    files = {"file": ("activity.csv", OPENROUTER.read_bytes(), "text/csv")}
    form = {"format": "openrouter-activity", "source": "openrouter-october", "map": ["app_name=-"]}
    body = client.post("/api/v1/imports", data=form, files=files).json()
    assert (body["format"], body["source"], body["inserted"]) == (
        "openrouter-activity",
        "openrouter-october",
        2,
    )
    assert _ledger(engine) == (2, Decimal(OPENROUTER_TOTAL))
    with engine.connect() as conn:  # app_name mapped to "-": left out, not kept as a tag
        assert all("app" not in tags for tags in conn.execute(select(usage.c.tags)).scalars())


def test_api_import_bad_file_is_a_400_naming_it(client: TestClient) -> None:
    files = {"file": ("x.csv", b"date,provider,Cost (USD)\n2026-10-01,groq,3\n", "text/csv")}
    answer = client.post("/api/v1/imports", data={"format": "generic"}, files=files)
    assert answer.status_code == 400
    assert "column 'Cost (USD)' is not a field" in answer.json()["detail"]
    assert client.post("/api/v1/imports", data={"format": "xls"}, files=files).status_code == 422
    assert client.post("/api/v1/imports", data={"map": ["nonsense"]}, files=files).status_code == 422


def test_api_import_needs_a_token(settings: object, admin_client: TestClient) -> None:
    files = {"file": ("x.csv", b"date,provider,cost\n2026-10-01,groq,3\n", "text/csv")}
    assert admin_client.post("/api/v1/imports", files=files).status_code == 401


def test_api_import_formats_are_the_registrys() -> None:
    from typing import get_args

    from spendledger.imports.base import AUTO, FORMATS
    from spendledger.web.api.imports import FormatName

    assert list(get_args(FormatName)) == [AUTO, *FORMATS]

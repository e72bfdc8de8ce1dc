"""/imports without a browser: an admin previews (nothing stored) then imports, the page
and the CLI agree; a bad file is named; members and viewers are refused (test_route_roles)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from import_samples import BAD_LINES, thousand_rows
from logins import csrf_of, text_of
from spendledger.records import from_nanos
from spendledger.store.tables import usage


def _ledger(engine: Engine) -> tuple[int, Decimal]:
    with engine.connect() as conn:
        count, nanos = conn.execute(
            select(func.count(), func.coalesce(func.sum(usage.c.cost_nanos), 0))
        ).one()
    return int(count), from_nanos(int(nanos))


def test_imports_page_previews_then_imports(admin_client: TestClient, engine: Engine, tmp_path: Path) -> None:
    page = admin_client.get("/imports")
    assert page.status_code == 200
    csrf = csrf_of(page.text)
    data = thousand_rows(tmp_path / "spend.csv").read_bytes()
    form = {"csrf_token": csrf, "format": "auto", "basis": "", "source": "", "map": ""}
    files = {"file": ("spend.csv", data, "text/csv")}
    preview = admin_client.post("/imports/preview", data=form, files=files)
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "nothing stored: 997 rows would be stored" in text
    assert "3 rejected" in text
    for line, column in BAD_LINES.items():
        assert f'<td class="num">{line}</td><td>{column}</td>' in preview.text
    assert _ledger(engine) == (0, Decimal(0))  # a preview stores nothing
    done = admin_client.post("/imports", data=form, files=files)
    assert "997 new, 0 replaced, 0 already stored" in text_of(done.text)
    assert _ledger(engine) == (997, Decimal("1246.25"))  # 997 × $1.25
    again = admin_client.post("/imports", data=form, files=files)
    assert "0 new, 0 replaced, 997 already stored" in text_of(again.text)
    assert _ledger(engine) == (997, Decimal("1246.25"))


def test_imports_page_names_a_file_it_cannot_read(admin_client: TestClient, engine: Engine) -> None:
    csrf = csrf_of(admin_client.get("/imports").text)
    form = {"csrf_token": csrf, "format": "generic", "map": "Cost=price"}
    files = {"file": ("x.csv", b"date,provider,Cost\n", "text/csv")}
    answer = admin_client.post("/imports/preview", data=form, files=files)
    assert answer.status_code == 400
    assert "x.csv: --map Cost=price: &#39;price&#39; is not a field" in answer.text
    htmx = admin_client.post("/imports/preview", data=form, files=files, headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "is not a field" in htmx.text and "<html" not in htmx.text


def test_imports_page_refuses_a_post_without_csrf(admin_client: TestClient) -> None:
    answer = admin_client.post("/imports", data={}, files={"file": ("x.csv", b"a\n", "text/csv")})
    assert answer.status_code == 403

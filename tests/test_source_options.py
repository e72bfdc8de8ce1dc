"""A source type's required options: declared once (`Option(required=True)`), refused by
`sources add`, by the /sources form's check and by `sources_admin.add` when missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from clirun import cli_runner
from spendledger import sources_admin
from spendledger.config import Settings
from spendledger.sources.base import SourceError


def test_sources_add_refuses_a_source_without_its_required_options(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = cli_runner(db_url, tmp_path, monkeypatch, AZ_SECRET="s3cret-value-1234")
    add = ("sources", "add", "azure", "--name", "Contoso", "--key-env", "AZ_SECRET")
    refused = cli(*add, "--option", "tenant_id=11111111-1111-1111-1111-111111111111", ok=False)
    assert refused.exit_code == 2
    assert "Client ID is required (--option client_id=…)" in refused.output
    assert "Scope is required (--option scope=…)" in refused.output
    assert "Tenant ID is required" not in refused.output
    assert "Contoso" not in cli("sources", "list").output  # nothing was stored


def test_add_and_the_form_check_name_every_missing_required_option(engine: Engine, tmp_path: Path) -> None:
    azure = sources_admin.source_type("azure")
    problems = sources_admin.check_options(azure, {"scope": "/subscriptions/x"})
    assert set(problems) == {"tenant_id", "client_id"}
    assert problems["tenant_id"].startswith("Tenant ID is required")
    settings = Settings(database_url="sqlite://", data_dir=tmp_path, timezone="UTC")
    with pytest.raises(SourceError, match="Client ID is required"):
        sources_admin.add(
            engine, settings, provider="azure", name="Contoso", key="s3cret", options={"tenant_id": "t"}
        )
    assert sources_admin.check_options(sources_admin.source_type("openai"), {}) == {}  # none required

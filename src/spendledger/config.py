"""Settings, read from SPENDLEDGER_* environment variables by `get_settings()`.

`get_settings()` also reads the nearest settings file, `spendledger.env` in the current
folder or a folder above it (`make run` writes one in the repository folder), so the
server `make run` starts and a `spendledger` command typed in that folder use one
ledger. The environment wins over the file; a relative data dir in the file is relative
to the file's folder.

Nothing is read at import time: the CLI builds settings once per command, the web app
receives them in `create_app(settings)`, tests pass their own.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from spendledger.local_servers import Servers, parse_servers
from spendledger.reconcile_params import Tolerance, parse_tolerance

SETTINGS_FILE = "spendledger.env"
# the ECB's euro reference rates of the latest working day (SPENDLEDGER_FX_URL's default)
ECB_DAILY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
PREFIX = "SPENDLEDGER_"

# A comma-separated list in the environment ("user.id,enduser.id"), a tuple in Python.
AttributeNames = Annotated[tuple[str, ...], NoDecode]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "spendledger"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)  # read when settings are built
    database_url: str | None = None  # default: a SQLite file in data_dir
    secret_key: str | None = None  # Fernet key for credentials at rest (billing sync)
    timezone: str = "UTC"  # the zone days are counted in, for rollups and reports
    max_batch_events: int = 10_000
    max_body_bytes: int = 32 * 1024 * 1024
    public_url: str | None = None  # the dashboard's address, linked from notifications
    # OTLP receiver (POST /v1/traces): the span or resource attributes, first found wins,
    # that name a GenAI call's user, project, feature and provider account; a span's own
    # attributes win over its resource's. Received and decompressed bodies are capped alike.
    otlp_user_attributes: AttributeNames = ("user.id", "enduser.id", "gen_ai.user.id")
    otlp_project_attributes: AttributeNames = ("spendledger.project", "project", "service.name")
    otlp_feature_attributes: AttributeNames = ("spendledger.feature", "feature")
    otlp_account_attributes: AttributeNames = ("spendledger.account",)
    otlp_max_body_bytes: int = 16 * 1024 * 1024
    # self-hosted inference servers by address, "host[:port]=provider,..." (local_servers.py):
    # an OTLP span calling one is priced as that server's (self-hosted), not its client's
    local_servers: str = ""
    # how far a reconciliation row's metered estimate may be from its bill before it is
    # flagged: a percent of the bill, an amount, or both ("1%,0.01": the larger wins)
    reconcile_tolerance: str = "1%,0.01"
    # the display currency of pages, reports and the API when they name none (None: each
    # amount as charged); converted with the rate table (`spendledger fx`)
    currency: str | None = None
    # where `spendledger fx update` fetches the ECB's euro reference rates; with
    # fx_daily_update the scheduler fetches them daily (off by default: no call leaves
    # the server unless asked)
    fx_url: str = ECB_DAILY_URL
    fx_daily_update: bool = False

    @field_validator(
        "otlp_user_attributes",
        "otlp_project_attributes",
        "otlp_feature_attributes",
        "otlp_account_attributes",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("currency")
    @classmethod
    def _display_currency(cls, value: str | None) -> str | None:
        code = (value or "").strip()
        if not code:
            return None
        if not (len(code) == 3 and code.isascii() and code.isalpha()):  # ISO 4217: checked where used
            raise ValueError(f"{code[:20]!r} is not a currency code: use one such as EUR, USD or CHF")
        return code.upper()

    @field_validator("local_servers")
    @classmethod
    def _server_map(cls, value: str) -> str:
        _, problems = parse_servers(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("reconcile_tolerance")
    @classmethod
    def _tolerance(cls, value: str) -> str:
        parse_tolerance(value)  # a ReconcileError is a ValueError: pydantic names the setting
        return value

    @property
    def reconcile_limits(self) -> Tolerance:
        """`reconcile_tolerance`, parsed (checked when the settings were read)."""
        return parse_tolerance(self.reconcile_tolerance)

    @property
    def local_server_map(self) -> Servers:
        return parse_servers(self.local_servers)[0]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Paris'") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'spendledger.db'}"


def find_settings_file(start: Path | None = None) -> Path | None:
    """The nearest `spendledger.env` in `start` (default: the current folder) or above it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / SETTINGS_FILE
        if candidate.is_file():
            return candidate
    return None


def file_settings(path: Path) -> dict[str, str]:
    """The SPENDLEDGER_* settings of a settings file that the environment does not set,
    by field name; the data dir resolved against the file's folder."""
    values: dict[str, str] = {}
    for key, value in dotenv_values(path).items():
        if key.startswith(PREFIX) and key not in os.environ and value is not None:
            values[key.removeprefix(PREFIX).lower()] = value
    if "data_dir" in values:
        values["data_dir"] = str(path.parent / Path(values["data_dir"]).expanduser())
    return values


def make_private_dir(path: Path) -> None:
    """Create `path` (and its missing parents) when missing; the folder itself is readable by
    its owner only (0700), as it holds the ledger and the secret key. An existing folder is
    left as its owner set it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment and the nearest settings file, with explicit
    overrides (None values are ignored)."""
    found = find_settings_file()
    values: dict[str, object] = dict(file_settings(found)) if found else {}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)  # type: ignore[arg-type]

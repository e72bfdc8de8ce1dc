"""DeepSeek: a balance-only source (sources/balance.py) read from `GET /user/balance`.

DeepSeek has no usage or cost history API; `GET https://api.deepseek.com/user/balance`
with the ordinary API key as a bearer token answers the balance now, per currency
(provider-apis-2026.md §1.7, DeepSeek's API reference "Get User Balance"):

    {"is_available": true,
     "balance_infos": [{"currency": "CNY", "total_balance": "110.00",
                        "granted_balance": "10.00", "topped_up_balance": "100.00"}]}

Amounts are decimal strings (read as Decimal, never float); `currency` is CNY or USD. The
spend is the drops between readings, worked out by the balance kind; this module only
reads and validates the balance. `is_available` (whether the balance can pay for calls)
is shown by `check`, not stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from spendledger.sources import _http
from spendledger.sources.balance import BalanceConnector
from spendledger.sources.base import BalanceReading, SourceConfig, SourceType

DEFAULT_BASE_URL = "https://api.deepseek.com"
KEYS_PAGE = "platform.deepseek.com → API keys"

Money = Annotated[Decimal, Field(allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class BalanceInfo(_Payload):
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")]
    total_balance: Money
    granted_balance: Money | None = None
    topped_up_balance: Money | None = None

    @field_validator("total_balance", "granted_balance", "topped_up_balance", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        """Amounts are strings; a JSON number (decoded as Decimal by _http) is taken too, a bool never."""
        if isinstance(value, bool):
            raise ValueError("an amount, not a boolean")
        return value


class UserBalance(_Payload):
    is_available: bool = True
    balance_infos: list[BalanceInfo]

    @field_validator("balance_infos")
    @classmethod
    def _one_each(cls, infos: list[BalanceInfo]) -> list[BalanceInfo]:
        currencies = [i.currency.upper() for i in infos]
        if len(set(currencies)) != len(currencies):
            raise ValueError(f"a currency is listed twice: {', '.join(currencies)}")
        return infos


class DeepSeekConnector(BalanceConnector):
    """Reads one DeepSeek account's balance with its API key."""

    label = "DeepSeek"

    def __init__(
        self,
        config: SourceConfig,
        *,
        policy: _http.RetryPolicy | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(config, policy=policy, client=client or SOURCE_TYPE.client(config))
        self._hints = _http.Hints(
            provider="DeepSeek",
            source=config.name,
            secret=config.key,
            auth=f"the API key is wrong or was deleted; create one under {KEYS_PAGE} and set it as "
            "this source's key",
            permission=f"the key may not read the balance; use an API key of the account from {KEYS_PAGE}",
            not_found="check base_url (it should be https://api.deepseek.com, without /v1)",
        )
        self.available: bool | None = None  # as of the last read

    def read(self) -> list[BalanceReading]:
        return self.readings_of(self.get_json("user/balance", self._hints))

    def readings_of(self, raw: object) -> list[BalanceReading]:
        """The readings a `/user/balance` answer holds (a SourceError("malformed") naming the field)."""
        body = self.validate(UserBalance, raw, self._hints)
        self.available = body.is_available
        return [
            BalanceReading(
                currency=b.currency.upper(),
                total=b.total_balance,
                granted=b.granted_balance,
                topped_up=b.topped_up_balance,
            )
            for b in body.balance_infos
        ]

    def check(self) -> str:
        seen = super().check()
        return seen if self.available else f"{seen} (not available for API calls: top up the account)"


SOURCE_TYPE = SourceType(
    name="deepseek",
    label="DeepSeek",
    connector=DeepSeekConnector,
    base_url=DEFAULT_BASE_URL,
    key_help=f"an ordinary DeepSeek API key (sk-…) from {KEYS_PAGE}; it only reads the balance "
    "(DeepSeek has no usage history: spend is the balance's drops between syncs)",
    window_days=None,  # one reading per sync, whatever its window
)

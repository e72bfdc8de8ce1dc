"""Who and what a call is for: the attribution an event carries.

`context(...)` sets it for every call inside the `with` block, through a ContextVar, so
it follows the code into threads started with `contextvars.copy_context()`, executors
that copy the context (asyncio's `to_thread`, `run_in_executor`) and asyncio tasks
created inside the block. Blocks nest: an inner value wins, tags are merged.
Precedence for one call: the arguments of `record()` > the innermost `context()` >
the defaults given to `instrument()` > the defaults given to `configure()`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Attribution:
    project: str | None = None
    account: str | None = None  # the provider account (organisation) the call is billed to
    customer: str | None = None  # the customer (tenant) the call served
    user: str | None = None
    feature: str | None = None
    tags: Mapping[str, Any] = field(default_factory=dict)

    def over(self, base: Attribution) -> Attribution:
        """This attribution laid over `base`: set fields win, tags are merged."""
        return Attribution(
            project=self.project if self.project is not None else base.project,
            account=self.account if self.account is not None else base.account,
            customer=self.customer if self.customer is not None else base.customer,
            user=self.user if self.user is not None else base.user,
            feature=self.feature if self.feature is not None else base.feature,
            tags={**base.tags, **self.tags} if self.tags else base.tags,
        )


EMPTY = Attribution()
_current: ContextVar[Attribution] = ContextVar("spendledger_attribution", default=EMPTY)


def current() -> Attribution:
    """The attribution of the innermost `context()` block around this code."""
    return _current.get()


@contextmanager
def context(
    *,
    project: str | None = None,
    user: str | None = None,
    feature: str | None = None,
    tags: Mapping[str, Any] | None = None,
    account: str | None = None,
    customer: str | None = None,
) -> Iterator[Attribution]:
    """Attribute every call inside the block (see the module's docstring)."""
    inner = Attribution(
        project=project,
        user=user,
        feature=feature,
        tags=dict(tags or {}),
        account=account,
        customer=customer,
    )
    token = _current.set(inner.over(_current.get()))
    try:
        yield _current.get()
    finally:
        _current.reset(token)

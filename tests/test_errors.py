"""Every error the user can act on derives from `SpendledgerError` and carries its message."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import spendledger
from spendledger.errors import SpendledgerError
from spendledger.ingest.records import EventError
from spendledger.queries import QueryError

NOT_USER_ERRORS = {"spendledger.web.auth.LoginRequired"}  # a redirect signal, not an error


def _project_exceptions() -> set[type[BaseException]]:
    found: set[type[BaseException]] = set()
    for module in pkgutil.walk_packages(spendledger.__path__, "spendledger."):
        if ".migrations" in module.name or module.name.endswith("__main__"):
            continue  # alembic's env and revisions run only under alembic; __main__ runs the CLI
        loaded = importlib.import_module(module.name)
        for _, obj in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == loaded.__name__:
                found.add(obj)
    return found


def test_errors_every_project_exception_derives_from_the_base() -> None:
    found = _project_exceptions()
    names = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in found}
    outside = sorted(n for n, cls in names.items() if not issubclass(cls, SpendledgerError))
    assert outside == sorted(NOT_USER_ERRORS)
    assert len(found) >= 26  # the base, 24 user errors, LoginRequired: the walk sees them all


def test_errors_keep_message_and_field() -> None:
    event = EventError("timestamp", "the timestamp needs a zone")
    assert (str(event), event.message, event.field) == ("the timestamp needs a zone",) * 2 + ("timestamp",)
    assert isinstance(event, ValueError)
    query = QueryError("group_by", "unknown dimension 'x'")
    assert (str(query), query.message, query.field, query.param) == (
        "group_by: unknown dimension 'x'",
        "group_by: unknown dimension 'x'",
        "group_by",
        "group_by",
    )

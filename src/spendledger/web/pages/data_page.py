"""/data: remove the records of a scope (admins only), after a page stating what goes.

The form names a scope (store/deletions.py: source, provider, account, project, basis,
days; all of them at once); GET /data/confirm changes nothing and states exactly what
the scope holds: records per provider and basis, the money per currency, the days. Its
button posts the scope (CSRF checked) with the number of records it stated: when the
scope holds another number by then (a sync or an import landed meanwhile), nothing is
deleted and the page states the new figures to confirm again. The deletion is written
to the audit log (/audit) in the deletion's own transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spendledger.store import Engine
from spendledger.store.deletions import DeletionError, DeletionScope, Summary, delete, parse_scope, summarise
from spendledger.store.deletions import known_values as scope_values
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]

# a scope error's field → the form field it is about
FIELD_OF = {"from": "start", "to": "end", "all": "everything", "scope": "source"}


class ScopeForm(BaseModel):
    """The scope as typed (blank: not given), checked by `parse_scope`."""

    source: str = ""
    provider: str = ""
    account: str = ""
    project: str = ""
    basis: str = ""
    start: str = ""  # the first local day
    end: str = ""  # the last, included
    everything: str = ""  # "1": every record

    @classmethod
    def of(cls, scope: DeletionScope) -> ScopeForm:
        named = scope.filters()
        return cls(
            **{f: named.get(f, "") for f in ("source", "provider", "basis")},
            **{f: "none" if named.get(f) == "" else named.get(f, "") for f in ("account", "project")},
            start=named.get("from", ""),
            end=named.get("to", ""),
            everything="1" if scope.everything else "",
        )

    def scope(self) -> DeletionScope:
        return parse_scope(
            source=self.source,
            provider=self.provider,
            account=self.account,
            project=self.project,
            basis=self.basis,
            start=self.start,
            end=self.end,
            everything=self.everything == "1",
        )


class DeleteForm(ScopeForm):
    """The confirmation page's button: the scope, the records it stated, the CSRF token."""

    expected: int = -1
    csrf_token: str | None = None


@router.get("/data", response_class=HTMLResponse)
def data_page(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    form: Annotated[ScopeForm, Query()],
) -> HTMLResponse:
    return _form(request, templates, engine, viewer, form=form)


@router.get("/data/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    form: Annotated[ScopeForm, Query()],
) -> HTMLResponse:
    """What the scope holds, and the button that deletes it; nothing changes here."""
    try:
        scope = form.scope()
    except DeletionError as exc:
        return _form(request, templates, engine, viewer, form=form, error=exc, status_code=400)
    with engine.connect() as conn:
        summary = summarise(conn, scope)
    if summary.records == 0:
        notice = f"No record matches {scope.describe()}: nothing to delete."
        return _form(request, templates, engine, viewer, form=form, notice=notice)
    return _confirmation(request, templates, viewer, summary)


@router.post("/data/delete", response_class=HTMLResponse)
def delete_scope(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    form: Annotated[DeleteForm, Form()],
) -> HTMLResponse:
    """Delete the scope confirmed, when it still holds the records the page stated."""
    check_csrf(viewer, form.csrf_token)
    try:
        scope = form.scope()
    except DeletionError as exc:
        return _form(request, templates, engine, viewer, form=form, error=exc, status_code=400)
    with engine.begin() as conn:
        now = summarise(conn, scope)
        if now.records != form.expected:
            changed = (
                f"The scope holds {now.records:,} records now, not the {form.expected:,} stated: "
                "nothing was deleted."
            )
            if now.records == 0:
                return _form(request, templates, engine, viewer, form=form, notice=changed)
            return _confirmation(request, templates, viewer, now, changed=changed, status_code=409)
        gone = delete(conn, scope, actor=viewer.user.email)
    notice = f"Deleted {gone.records:,} records ({gone.money()}) of {scope.describe()}."
    return _form(request, templates, engine, viewer, form=ScopeForm(), notice=notice, audited=True)


def _form(
    request: Request,
    templates: TemplatesDep,
    engine: Engine,
    viewer: Viewer,
    *,
    form: ScopeForm,
    error: DeletionError | None = None,
    notice: str | None = None,
    audited: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    with engine.connect() as conn:
        known = scope_values(conn)
    context = {
        "viewer": viewer,
        "form": form,
        "known": known,
        "error": error.message if error else None,
        "error_field": FIELD_OF.get(error.field or "", error.field) if error else None,
        "notice": notice,
        "audited": audited,
    }
    return templates.TemplateResponse(request, "data.html", context, status_code=status_code)


def _confirmation(
    request: Request,
    templates: TemplatesDep,
    viewer: Viewer,
    summary: Summary,
    *,
    changed: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    fields = {k: v for k, v in ScopeForm.of(summary.scope).model_dump().items() if v}  # the scope's
    context = {"viewer": viewer, "summary": summary, "fields": fields, "changed": changed}
    return templates.TemplateResponse(request, "data_confirm.html", context, status_code=status_code)

"""/entries: spend entered by hand, listed with what each entry counts in a chosen range;
an admin's add, edit and remove forms.

Everyone logged in reads it within their scope (a member sees the entries of their
grants, as on every page that shows spend); only admins change entries, through the same
library functions as the CLI and the API (spendledger.ingest.manual), with its checks and
messages. Every form checks CSRF; a rejected form comes back filled in, the field at
fault marked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from spendledger.ingest.entries import Entry, parse_entry
from spendledger.ingest.manual import (
    UnknownEntryError,
    describe,
    edit_entry,
    get_entry,
    list_entries,
    remove_entry,
    save_entry,
    totals,
)
from spendledger.records import format_money
from spendledger.store import Connection
from spendledger.web.auth import Viewer, check_csrf, require, scope_of
from spendledger.web.pages.forms import Page, PageDep, submit

router = APIRouter(include_in_schema=False)

AnyViewer = Annotated[Viewer, require("admin", "viewer", "member")]
AdminViewer = Annotated[Viewer, require("admin")]


class EntryForm(BaseModel):
    """The add/edit form as posted: text as typed, checked by `parse_entry`."""

    id: str = ""
    provider: str = ""
    amount: str = ""
    currency: str = "USD"
    date: str = ""
    period: str = ""
    start: str = ""  # a range's first day (the field `from`)
    end: str = ""  # and its last, included (`to`)
    account: str = ""
    workspace: str = ""
    project: str = ""
    user: str = ""
    feature: str = ""
    model: str = ""
    note: str = ""
    csrf_token: str | None = None

    @classmethod
    def of(cls, e: Entry) -> EntryForm:
        """The form of a stored entry: one day as a date, a longer span as from and to."""
        values = {k: v for k, v in e.fields().items() if k not in ("from", "to", "amount")}
        span = {"date": str(e.first)} if e.days == 1 else {"start": str(e.first), "end": str(e.last)}
        return cls(**values, **span, amount=format_money(e.amount))

    def values(self) -> dict[str, str]:
        """`parse_entry`'s fields."""
        raw = self.model_dump(exclude={"csrf_token", "start", "end"})
        return {**raw, "from": self.start, "to": self.end}


# a library field → the form's input named for it
INPUT_OF = {"from": "start", "to": "end"}


@router.get("/entries", response_class=HTMLResponse)
def entries_page(
    page: PageDep,
    viewer: AnyViewer,
    start: Annotated[str, Query(alias="from")] = "",
    end: Annotated[str, Query(alias="to")] = "",
    edit: str = "",
    add: bool = False,
) -> HTMLResponse:
    """The entries within the viewer's scope; the admin's form (filled in with `edit`)."""
    editing = None
    if edit and viewer.user.is_admin:
        editing = _found(page, edit)
    form = EntryForm.of(editing) if editing else EntryForm()
    return _render(
        page, viewer, start=start, end=end, form=form, editing=editing, open_form=add or bool(editing)
    )


@router.post("/entries", response_class=HTMLResponse)
def add_entry(page: PageDep, viewer: AdminViewer, form: Annotated[EntryForm, Form()]) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)

    def change(conn: Connection) -> str:
        entry = parse_entry(form.values())
        saved = save_entry(conn, entry, tz=page.settings.tz, actor=viewer.user.email, overwrite=False)
        verb = "Nothing changed:" if saved.outcome == "unchanged" else "Added"
        return f"{verb} {describe(saved.entry)}."

    return _submit(page, viewer, change, form=form)


@router.post("/entries/{entry_id}/edit", response_class=HTMLResponse)
def change_entry(
    page: PageDep, viewer: AdminViewer, entry_id: str, form: Annotated[EntryForm, Form()]
) -> HTMLResponse:
    check_csrf(viewer, form.csrf_token)
    old = _found(page, entry_id)
    form = form.model_copy(update={"id": old.id})

    def change(conn: Connection) -> str:
        saved = edit_entry(conn, old.id, form.values(), tz=page.settings.tz, actor=viewer.user.email)
        if saved.outcome == "unchanged":
            return f"Nothing changed in entry {old.id}."
        return f"Changed {describe(saved.entry, old)}."

    return _submit(page, viewer, change, form=form, editing=old)


@router.post("/entries/{entry_id}/remove", response_class=HTMLResponse)
def delete_entry(
    page: PageDep, viewer: AdminViewer, entry_id: str, csrf_token: Annotated[str | None, Form()] = None
) -> HTMLResponse:
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        return f"Removed {describe(remove_entry(conn, entry_id, actor=viewer.user.email))}."

    return _submit(page, viewer, change, missing=(UnknownEntryError,))


def _submit(
    page: Page,
    viewer: Viewer,
    change: Callable[[Connection], str],
    *,
    form: EntryForm | None = None,
    editing: Entry | None = None,
    missing: tuple[type[Exception], ...] = (),
) -> HTMLResponse:
    """`forms.submit` on this page: the notice, or the form as posted with the field at fault."""

    def done(notice: str) -> HTMLResponse:
        return _render(page, viewer, notices=[notice])

    def refused(error: str, field: str | None) -> HTMLResponse:
        return _render(
            page, viewer, form=form, editing=editing, open_form=True, error=error,
            error_field=INPUT_OF.get(field or "", field or ""), status_code=400,
        )  # fmt: skip

    return submit(
        page.engine, change, done=done, refused=refused if form is not None else None, missing=missing
    )


def _found(page: Page, entry_id: str) -> Entry:
    with page.engine.connect() as conn:
        entry = get_entry(conn, entry_id)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(UnknownEntryError(entry_id)))
    return entry


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _render(
    page: Page,
    viewer: Viewer,
    *,
    start: str = "",
    end: str = "",
    form: EntryForm | None = None,
    editing: Entry | None = None,
    open_form: bool = False,
    notices: list[str] | None = None,
    error: str | None = None,
    error_field: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    first, last = _day(start), _day(end)
    with page.engine.connect() as conn:
        listed = list_entries(conn, start=first, end=last, scope=scope_of(viewer.user))
    context = {
        "viewer": viewer,
        "listed": listed,
        "totals": totals(listed),
        "start": first.isoformat() if first else "",
        "end": last.isoformat() if last else "",
        "ranged": first is not None or last is not None,
        "range_error": (start.strip() and first is None) or (end.strip() and last is None),
        "today": datetime.now(page.settings.tz).date(),
        "form": form or EntryForm(),
        "editing": editing,
        "open_form": open_form,
        "notices": notices or [],
        "error": error,
        "error_field": error_field,
    }
    return page.templates.TemplateResponse(page.request, "entries.html", context, status_code=status_code)
